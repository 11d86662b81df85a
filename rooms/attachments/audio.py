"""Remuxing an uploaded voice note or audio file with PyAV: the audio stream is copied packet by packet
(no re-encoding, no quality lost) into a fresh container of the same kind, and nothing else comes along:
no tags, no cover picture, no location (phones' recorders may store one), no second stream.

The fresh container also has what browsers need to seek: Chrome's MediaRecorder writes WebM without a
duration or cues; the remuxed file has both. Runs in the child process of rooms/attachments/process.py.
"""

from __future__ import annotations

from pathlib import Path

import av

from rooms.attachments.sniffing import M4A, MP3, OGG_OPUS, WEBM_AUDIO, FileType

# content type → (muxer, codecs accepted inside, muxer options)
CONTAINERS = {
    OGG_OPUS.content_type: ("ogg", {"opus"}, {}),
    WEBM_AUDIO.content_type: ("webm", {"opus"}, {}),
    MP3.content_type: ("mp3", {"mp3", "mp3float"}, {}),
    M4A.content_type: ("ipod", {"aac"}, {"movflags": "+faststart"}),
}


class AudioRefused(Exception):
    """Not audio of an accepted codec in the sniffed container, or not only audio."""


def remux(source: Path, file_type: FileType, out: Path) -> dict:
    """Writes the clean file to `out`; answers its duration in seconds (None if unknown)."""
    muxer, codecs, options = CONTAINERS[file_type.content_type]
    try:
        with av.open(str(source), "r") as container:
            pictures = [s for s in container.streams.video if s.disposition & av.stream.Disposition.attached_pic]
            if len(container.streams.video) > len(pictures):
                raise AudioRefused("video is not accepted; send audio only")
            if not container.streams.audio:
                raise AudioRefused("no audio found in the file")
            stream = container.streams.audio[0]
            if stream.codec_context.name not in codecs:
                raise AudioRefused(f"{stream.codec_context.name} audio is not accepted in this kind of file")
            end = 0.0
            with av.open(str(out), "w", format=muxer, options=options) as output:
                copy = output.add_stream_from_template(stream)
                for packet in container.demux(stream):
                    if packet.dts is None:
                        continue   # the demuxer's flush packet
                    if packet.pts is not None and packet.time_base is not None:
                        end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                    packet.stream = copy
                    output.mux(packet)
            # Read while the container is open: newer PyAV (18 here) refuses a closed container's streams.
            start = float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0
    except av.FFmpegError as error:
        raise AudioRefused(f"not readable audio: {error}") from None
    duration = round(max(0.0, end - start), 2)
    if duration <= 0:
        raise AudioRefused("the audio has no length")
    return {"duration_s": duration}
