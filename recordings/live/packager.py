"""The PacketTap that feeds one webinar's live stream: hands packets to a worker process, never blocks.

on_packet runs on the server's event loop, so it only frames the packet and appends it to
a queue; a writer thread moves the queue into the worker's stdin pipe (blocking there is
fine: it is not the loop). When the worker falls behind, video is dropped — from the packet
that did not fit until the publisher's next keyframe, so the picture never decodes garbage —
and audio is kept (up to LiveSettings.audio_backlog_bytes, which only a stuck worker reaches).
"""

from __future__ import annotations

import asyncio
import collections
import fcntl
import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from recordings.live.settings import LiveSettings
from recordings.live.wire import CODECS, MAX_PAYLOAD, Message, MessageType, packet_message
from recordings.live.worker_log import relay_in_thread
from recordings.storage.durable import write_file
from rooms import metrics

if TYPE_CHECKING:
    import av

log = logging.getLogger(__name__)

END_TIMEOUT_S = 30.0              # the worker's flush at the end; after this it is killed
MAX_RESTARTS = 5                  # a worker that keeps crashing (a poisonous input?) is given up on
START_FILE = "stream.json"        # in the live directory, beside the contract's files (never served)
TICK_S = 0.1                      # with no packet for this long, the worker is told the time anyway
CLAIM_RETRY_S = 0.2               # how often a packager waiting for another's writer lock tries again


def _read_reports(process: subprocess.Popen[bytes]) -> None:
    """The worker says what it made, one word a line (worker.REPORTS): counted here, in the server's metrics."""
    assert process.stdout is not None
    counters = {b"part": metrics.live_parts, b"segment": metrics.live_segments,
                b"switch": metrics.live_speaker_switches}
    for line in process.stdout:
        counter = counters.get(line.strip())
        if counter is not None:
            counter.inc()


class LivePackager:
    """One webinar's live stream: implements recordings.media.taps.PacketTap."""

    def __init__(self, webinar_id: int, live_dir: Path, settings: LiveSettings) -> None:
        self.webinar_id = webinar_id
        self.live_dir = live_dir
        self.settings = settings
        self.started_at = datetime.now(timezone.utc)
        self.dropped_video = 0
        self.dropped_audio = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = {"audio": 0, "video": 0}     # bytes waiting, by kind
        self._skipping_video: set[tuple[int, bool]] = set()   # (publisher, screen) video waiting for a keyframe
        self._lock = threading.Condition()
        self._closed = False
        self._writer_waiting = False
        self._first_arrival: float | None = None
        self.restarts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._running: set[subprocess.Popen[bytes]] = set()   # started, not yet reaped (for /metrics)
        self._lock_file: int | None = None
        self._writer = threading.Thread(target=self._write, name=f"live-{webinar_id}-writer", daemon=True)
        self._writer.start()

    @property
    def started(self) -> bool:
        """A worker was started: a publisher sent something and no other process streams this webinar."""
        return self.process is not None

    def _claim(self) -> bool:
        """One writer per webinar directory: a second process on the same disk must not write over the stream
        of the process that owns the webinar's media; it waits a while (the media moving here), then stands by."""
        self.live_dir.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.live_dir.parent / f"{self.live_dir.name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        # The webinar's media may just have moved here from a process that is still ending its stream.
        deadline = time.monotonic() + self.settings.claim_wait_s
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline or self.closed:
                    os.close(descriptor)
                    return False
                time.sleep(CLAIM_RETRY_S)
        self._lock_file = descriptor
        self.live_dir.mkdir(parents=True, exist_ok=True)
        self._keep_start()
        return True

    def _keep_start(self) -> None:
        """A stream continued after a restart started when its first part did: the archive lines the
        webinar's chat up with the recording from this time."""
        record = self.live_dir / START_FILE
        try:
            self.started_at = datetime.fromisoformat(json.loads(record.read_text())["started_at"])
        except (OSError, ValueError, KeyError, TypeError):
            write_file(record, json.dumps({"started_at": self.started_at.isoformat()}).encode())

    def _release(self) -> None:
        if self._lock_file is not None:
            os.close(self._lock_file)   # closing drops the flock
            self._lock_file = None

    def _spawn(self, t0: float | None = None) -> subprocess.Popen[bytes]:
        # The stream's clock starts with its worker: a restarted worker continues the playlists
        # after a discontinuity instead of filling the time it was away with black.
        t0 = time.monotonic() if t0 is None else t0
        process = subprocess.Popen(
            [sys.executable, "-m", "recordings.live.worker", str(self.live_dir), repr(t0), self.settings.to_json()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2])
        assert process.stdin is not None and process.stderr is not None
        relay_in_thread(process.stderr, f"live-worker-{self.webinar_id}")
        threading.Thread(target=_read_reports, args=(process,), name=f"live-{self.webinar_id}-reports",
                         daemon=True).start()
        try:
            fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, self.settings.pipe_bytes)
        except OSError:
            pass   # the default pipe size works too
        self._running.add(process)
        metrics.live_stream_workers.inc()
        log.info("live stream of webinar %s: worker pid %s writes %s", self.webinar_id, process.pid, self.live_dir)
        return process

    def _reaped(self, process: subprocess.Popen[bytes]) -> None:
        """The worker has exited and been waited for: it no longer counts (once, whoever waited)."""
        try:
            self._running.remove(process)
        except KeyError:
            return
        metrics.live_stream_workers.dec()

    # PacketTap.

    def on_packet(self, publisher_id: int, kind: str, codec: str, packet: "av.Packet") -> None:
        known = CODECS.get(codec)
        screen = kind == "screen"
        kind = "video" if screen else kind   # a screen share is video, queued and dropped like a camera
        if known is None or known.kind != kind:
            return
        keyframe = bool(packet.is_keyframe)
        oversized = packet.size > MAX_PAYLOAD   # no WebRTC encoder makes such a frame; the worker would refuse it
        with self._lock:
            if self._closed:
                return
            if kind == "video":
                track = (publisher_id, screen)
                if oversized:
                    self._skipping_video.add(track)
                    self.dropped_video += 1
                    return
                if track in self._skipping_video:
                    if not keyframe:
                        self.dropped_video += 1
                        return
                    self._skipping_video.discard(track)
                if self._queued["video"] + self._queued["audio"] > self.settings.video_backlog_bytes:
                    self._skipping_video.add(track)
                    self.dropped_video += 1
                    return
            elif oversized or self._queued["audio"] > self.settings.audio_backlog_bytes:
                self.dropped_audio += 1
                return
            arrival = time.monotonic()
            if self._first_arrival is None:
                self._first_arrival = arrival   # the stream starts with its first packet
                self.started_at = datetime.now(timezone.utc)
            self._enqueue(kind, packet_message(publisher_id, int(packet.pts or 0), arrival, known,
                                               keyframe, bytes(packet), screen))

    def on_publisher_left(self, publisher_id: int) -> None:
        with self._lock:
            if not self._closed:
                self._skipping_video.difference_update({(publisher_id, False), (publisher_id, True)})
                self._enqueue("audio", Message(MessageType.LEFT, publisher_id).encode())

    def close(self) -> None:
        """The webinar's media ended: the worker writes what it has and #EXT-X-ENDLIST, then exits."""
        with self._lock:
            if self._closed:
                return
            self._enqueue("audio", Message(MessageType.END, arrival=time.monotonic()).encode())
            self._closed = True

    # The rest.

    @property
    def closed(self) -> bool:
        """close() was called, or the worker went away."""
        with self._lock:
            return self._closed

    async def finished(self) -> int:
        """Waits for the worker to write the end of the stream; its exit status (0 when none was started)."""
        return await asyncio.to_thread(self.wait, END_TIMEOUT_S)

    def wait(self, timeout: float) -> int:
        """Waits for the writer thread (it ends once the worker has exited) and answers the worker's status."""
        self._writer.join(timeout)
        return self._wait_process(timeout)

    def _wait_process(self, timeout: float) -> int:
        process = self.process
        if process is None:
            return 0
        try:
            status = process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.error("live stream worker of webinar %s did not finish in %s s; killed", self.webinar_id, timeout)
            process.kill()
            status = process.wait()
        self._reaped(process)
        return status

    def _enqueue(self, kind: str, data: bytes) -> None:
        self._queue.append(data)
        self._queued[kind] += len(data)
        if self._writer_waiting:
            self._lock.notify()

    def _write(self) -> None:
        with self._lock:
            while self._first_arrival is None and not self._closed:
                self._writer_waiting = True
                self._lock.wait()
                self._writer_waiting = False
            first_arrival = self._first_arrival
        if first_arrival is None:
            return   # closed before anyone published: no stream
        if not self._claim():
            log.info("live stream of webinar %s is written by another process; this one stands by", self.webinar_id)
            self._give_up()
            return
        try:
            self.process = self._spawn(first_arrival)
            while True:
                try:
                    self._feed(self.process)
                    return
                except (BrokenPipeError, ValueError, OSError) as error:
                    status = self.process.wait()
                    self._reaped(self.process)
                    with self._lock:
                        again = not self._closed and self.restarts < MAX_RESTARTS
                    log.error("live stream worker of webinar %s went away (exit %s, %s)%s", self.webinar_id,
                              status, error, "; starting another" if again else "")
                    if not again:
                        self._give_up()
                        return
                    self.restarts += 1
                    self.process = self._spawn()
        finally:
            self._wait_process(END_TIMEOUT_S)   # the worker's last writes happen under the directory lock
            self._release()

    def _give_up(self) -> None:
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._queued = {"audio": 0, "video": 0}

    def _feed(self, process: subprocess.Popen[bytes]) -> None:
        stdin = process.stdin
        assert stdin is not None
        try:
            while True:
                with self._lock:
                    if not self._queue:
                        self._writer_waiting = True
                        self._lock.wait(TICK_S)
                        self._writer_waiting = False
                    if self._queue:
                        # Everything waiting in one write: fewer wake-ups, less GIL traffic with the loop.
                        data = b"".join(self._queue)
                        self._queue.clear()
                        self._queued = {"audio": 0, "video": 0}
                        last = self._closed
                    else:
                        data, last = Message(MessageType.TICK, arrival=time.monotonic()).encode(), False
                stdin.write(data)
                stdin.flush()
                if last:
                    break
        finally:
            try:
                stdin.close()
            except OSError:
                pass
