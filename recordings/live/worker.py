"""The packager worker process: reads packets from stdin, decodes, mixes, encodes once, writes HLS.

Run by recordings/live/packager.py as `python -m recordings.live.worker OUT_DIR T0 SETTINGS_JSON`,
where T0 is the CLOCK_MONOTONIC time the stream starts. The output follows the wall clock, a
jitter delay behind: every 1/fps a frame and the audio up to then are encoded whether or not
anyone is publishing (black picture, silence), so a gap never breaks the stream's timeline.
"""

from __future__ import annotations

import fcntl
import fractions
import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

import av

from recordings.live.hls import AUDIO_RATE, HlsOutput
from recordings.live.mixer import AudioTrack, mix
from recordings.live.picture import STALE_S, Canvas, Scene
from recordings.live.settings import LiveSettings
from recordings.live.speaker import ActiveSpeaker
from recordings.live.wire import Message, MessageType, read_message
from recordings.live.worker_log import log_to_server

log = logging.getLogger("recordings.live.worker")

AUDIO_FRAME = 1024       # samples per AAC frame
INBOX = 256              # messages read ahead; beyond it the pipe (and then the server) holds them


class Packager:
    def __init__(self, out_dir: Path, t0: float, settings: LiveSettings) -> None:
        self.t0 = t0
        self.settings = settings
        self.output = HlsOutput(out_dir, settings, t0)
        self.canvas = Canvas(settings.width, settings.height)
        self.audio: dict[int, AudioTrack] = {}
        self.scene = Scene()
        self.speaker = ActiveSpeaker(settings.speaker_min_s, settings.speaker_hold_s, settings.speaker_margin_db)
        self.frame_index = 0
        self.audio_position = 0
        self.shown: tuple[tuple[int, int], av.VideoFrame] | None = None    # (source frame ids, composed frame)
        self.fitted: tuple[int, av.VideoFrame] | None = None                # the full-frame picture, fitted
        self.shown_at = float("-inf")
        self.latest_arrival = 0.0

    def handle(self, message: Message) -> None:
        if message.type is MessageType.TICK:
            self.latest_arrival = max(self.latest_arrival, message.arrival - self.t0)
            return
        if message.type is MessageType.LEFT:
            self.audio.pop(message.publisher_id, None)
            self.scene.left(message.publisher_id)
            self.speaker.left(message.publisher_id)
            return
        arrival = message.arrival - self.t0
        self.latest_arrival = max(self.latest_arrival, arrival)
        if message.codec.kind == "audio":
            track = self.audio.get(message.publisher_id) or self.audio.setdefault(message.publisher_id, AudioTrack())
            track.add(message.payload, message.pts, arrival)
        else:
            video = self.scene.track(message.publisher_id, message.screen, message.codec.decoder)
            video.add(message.payload, message.pts, arrival, message.keyframe)

    def produce(self, until: float) -> None:
        """Encodes the stream up to `until` seconds of stream time, video and audio in time order."""
        fps = self.settings.fps
        while True:
            video_at = self.frame_index / fps
            audio_at = self.audio_position / AUDIO_RATE
            video_due = video_at <= until
            audio_due = (self.audio_position + AUDIO_FRAME) / AUDIO_RATE <= until
            if video_due and (not audio_due or video_at <= audio_at):
                self._video_frame(video_at)
            elif audio_due:
                self._audio_frame()
            else:
                return

    def _video_frame(self, at: float) -> None:
        full, pip = self.scene.choose(at, self.speaker.recent)
        source = full.frame_at(at) if full is not None else None
        inset = pip.frame_at(at) if pip is not None else None
        if source is not None:
            key = (id(source), id(inset))
            if self.shown is None or self.shown[0] != key:
                # Scaling and laying the camera over cost a few ms: only when a source frame changed.
                if self.fitted is None or self.fitted[0] != id(source):
                    self.fitted = (id(source), self.canvas.fit(source))
                picture = self.fitted[1] if inset is None else self.canvas.with_pip(self.fitted[1], inset)
                self.shown = (key, picture)
            self.shown_at = at
        elif at - self.shown_at >= STALE_S:
            self.shown = self.fitted = None
        picture = self.shown[1] if self.shown is not None else self.canvas.black
        self.output.encode_video(picture, self.frame_index)
        self.frame_index += 1

    def _audio_frame(self) -> None:
        at = self.audio_position / AUDIO_RATE
        chunks = []
        for publisher_id, track in self.audio.items():
            chunk = track.take(self.audio_position, AUDIO_FRAME)
            self.speaker.hear(publisher_id, at, chunk)
            if chunk is not None:
                chunks.append(chunk)
        self.speaker.decide(at)
        frame = av.AudioFrame(format="fltp", layout="mono", samples=AUDIO_FRAME)
        frame.planes[0].update(mix(chunks, AUDIO_FRAME))
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.audio_position
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self.output.encode_audio(frame)
        self.audio_position += AUDIO_FRAME

    def close(self) -> None:
        self.output.close()


def _read_into(inbox: "queue.Queue[Message | None]") -> None:
    try:
        while (message := read_message(sys.stdin.buffer)) is not None:
            inbox.put(message)
    except (ValueError, OSError) as error:
        log.error("the packet pipe broke: %s", error)
    inbox.put(None)


def hold_writer_lock(out_dir: Path) -> int:
    """Waits until no other worker writes this stream. When a server dies its worker still finishes the
    stream (its stdin closed); the worker of the process that took the webinar's media over appends
    only after that (docs/media.md, "Several processes"). Held until this process exits."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out_dir.parent / f"{out_dir.name}.writer.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


class Reports:
    """Tells the server (through stdout, read by the packager) what this worker made, for its metrics."""

    def __init__(self, packager: Packager) -> None:
        self.packager = packager
        self.told = {"part": 0, "segment": 0, "switch": 0}

    def counts(self) -> dict[str, int]:
        output = self.packager.output
        return {"part": output.parts_written, "segment": output.segments_written,
                "switch": self.packager.speaker.switches}

    def send(self) -> None:
        lines = []
        for name, count in self.counts().items():
            lines += [name] * (count - self.told[name])
            self.told[name] = count
        if lines:
            try:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            except (BrokenPipeError, ValueError):
                pass   # nobody reads any more: the server is going away


def run(out_dir: Path, t0: float, settings: LiveSettings) -> None:
    hold_writer_lock(out_dir)
    packager = Packager(out_dir, t0, settings)
    reports = Reports(packager)
    inbox: queue.Queue[Message | None] = queue.Queue(maxsize=INBOX)
    threading.Thread(target=_read_into, args=(inbox,), name="packet-reader", daemon=True).start()
    tick = 1 / settings.fps
    ending = False
    while not ending:
        deadline = time.monotonic() + tick
        while (wait := deadline - time.monotonic()) > 0:
            try:
                message = inbox.get(timeout=wait)
            except queue.Empty:
                break
            if message is None or message.type is MessageType.END:
                if message is not None:
                    packager.latest_arrival = message.arrival - t0
                ending = True
                break
            try:
                packager.handle(message)
            except Exception:   # one bad packet must not end a webinar's stream
                log.exception("packet from publisher %s not used", message.publisher_id)
        # Never past what the server has sent: when the worker is behind, what is still queued
        # is older than now, and must not arrive after its moment has been encoded.
        until = min(time.monotonic() - t0, packager.latest_arrival)
        if not ending:
            until -= settings.jitter_s
        packager.produce(until)
        reports.send()
    packager.close()
    reports.send()


def main(argv: list[str]) -> int:
    log_to_server()
    out_dir, t0, settings = Path(argv[1]), float(argv[2]), LiveSettings.from_json(argv[3])
    run(out_dir, t0, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
