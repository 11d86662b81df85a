"""One archive job's media work, in a process of its own: `python -m recordings.archive.process spec.json`.

The server's worker (recordings/archive/worker.py) starts it, reads progress lines from its stdout
({"progress": 0.42}) and, when it exits 0, stores what it left in the spec's out_dir and marks the
job ready. It writes nothing to the database, so a process orphaned by a dead server changes nothing;
it also exits by itself when its parent goes away.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from recordings.archive import media

# The files a job publishes (relative to out_dir); hls/ is published whole.
OUTPUTS = ("video.mp4", "audio.ogg", "poster.jpg")


@dataclass(frozen=True)
class Spec:
    source_kind: str          # "live" | "upload"
    source: str               # the live directory, or a local copy of the upload
    out_dir: str
    step_delay_s: float = 0.0
    opus_bit_rate: int = 32_000


class Steps:
    """Progress across weighted steps, printed as JSON lines; a pause between steps when asked."""

    def __init__(self, weights: list[float], delay_s: float) -> None:
        self.weights = weights
        self.delay_s = delay_s
        self.index = 0
        self.last = -1.0

    def part(self, fraction: float) -> None:
        overall = sum(self.weights[:self.index]) + self.weights[self.index] * max(0.0, min(1.0, fraction))
        overall /= sum(self.weights)
        if overall - self.last >= 0.01:
            self.last = overall
            print(json.dumps({"progress": round(overall, 3)}), flush=True)

    def next(self) -> None:
        self.part(1.0)
        self.index = min(self.index + 1, len(self.weights) - 1)
        if self.delay_s:
            time.sleep(self.delay_s)


def run(spec: Spec) -> dict:
    out, work = Path(spec.out_dir), Path(spec.out_dir) / "work"
    work.mkdir(parents=True, exist_ok=True)
    steps = Steps([0.05, 0.35, 0.3, 0.05, 0.25], spec.step_delay_s)
    steps.part(0.0)
    if spec.source_kind == "live":
        live = Path(spec.source)
        video_src, audio_src = work / "video-src.mp4", work / "audio-src.mp4"
        has_video_rendition = media.concat_fmp4(live / "video", video_src)
        has_audio_rendition = media.concat_fmp4(live / "audio", audio_src)
        if not has_video_rendition and not has_audio_rendition:
            raise media.NotMedia("the live directory holds no recording")
        steps.next()
        found = media.probe(video_src if has_video_rendition else audio_src)
        mp4 = out / "video.mp4" if found.has_video else work / "audio.mp4"
        media.remux_mp4(video_src if has_video_rendition else None, audio_src if has_audio_rendition else None,
                        mp4, steps.part)
        steps.next()
        # From the remuxed file, not the concatenated segments: a stream continued after its media moved to
        # another process restarts its timestamps there, and the AAC decoder drops what goes back in time.
        media.encode_opus(mp4, out / "audio.ogg", steps.part, spec.opus_bit_rate)
        steps.next()
        if found.has_video:
            media.poster(video_src, out / "poster.jpg")
        steps.next()
        media.copy_live_hls(live, out / "hls")
    else:
        source = Path(spec.source)
        found = media.probe(source)
        steps.next()
        mp4 = out / "video.mp4" if found.has_video else work / "audio.mp4"
        media.transcode_mp4(source, mp4, steps.part)
        steps.next()
        media.encode_opus(mp4, out / "audio.ogg", steps.part, spec.opus_bit_rate)
        steps.next()
        if found.has_video:
            media.poster(mp4, out / "poster.jpg")
        steps.next()
        media.segment_hls(mp4, out / "hls", steps.part)
    steps.next()
    return {"duration_s": media.duration_of(mp4), "has_video": found.has_video}


def _exit_with_parent() -> None:
    """A worker whose server died must not keep running the job: the job's new owner will."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    _exit_with_parent()
    if len(argv) == 3 and argv[1] == "--probe":
        try:
            media.probe(Path(argv[2]))
        except media.NotMedia:
            print("not media", flush=True)
            return 1
        print("media", flush=True)
        return 0
    spec = Spec(**json.loads(Path(argv[1]).read_text()))
    try:
        result = run(spec)
    except Exception as error:   # anything the media can throw: reported to the host as the job's error
        print(json.dumps({"error": f"{type(error).__name__}: {error}"[:1000]}), flush=True)
        return 1
    print(json.dumps({"result": result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
