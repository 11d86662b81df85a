"""Fragmented MP4 written by hand: the init segment comes from FFmpeg's mp4 muxer, every fragment (moof + mdat) from here.

FFmpeg's muxers cut fragments by their own rules (a duration reached, a keyframe); low-latency
HLS needs the cuts where the stream's clock says (every part, the same instants in both
renditions), so the packager writes the fragments itself. The boxes are the few ISO/IEC 14496-12
needs for that: moof(mfhd, traf(tfhd, tfdt, trun)) and mdat, one traf per track.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import av

# trun flags: data-offset, and per sample: duration, size, flags, composition time offset.
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800
_DEFAULT_BASE_IS_MOOF = 0x020000
_SYNC = 0x02000000            # sample_depends_on = 2: decodes on its own
_NOT_SYNC = 0x01010000        # depends on others, sample_is_non_sync_sample


@dataclass(frozen=True)
class Sample:
    data: bytes
    duration: int             # in the track's timescale
    keyframe: bool
    composition_offset: int = 0


@dataclass(frozen=True)
class Run:
    """One track's samples in a fragment, starting at `decode_time` (track timescale)."""

    track_id: int
    decode_time: int
    samples: list[Sample]


def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def fragment(sequence: int, runs: list[Run]) -> bytes:
    """moof + mdat for the runs (one traf each, their sample data one after another in the mdat)."""
    runs = [run for run in runs if run.samples]

    def moof(offsets: list[int]) -> bytes:
        trafs = []
        for run, offset in zip(runs, offsets):
            entries = b"".join(struct.pack(">IIIi", s.duration, len(s.data), _SYNC if s.keyframe else _NOT_SYNC,
                                           s.composition_offset) for s in run.samples)
            trafs.append(_box(b"traf",
                              _full_box(b"tfhd", 0, _DEFAULT_BASE_IS_MOOF, struct.pack(">I", run.track_id)),
                              _full_box(b"tfdt", 1, 0, struct.pack(">Q", run.decode_time)),
                              _full_box(b"trun", 1, _TRUN_FLAGS, struct.pack(">Ii", len(run.samples), offset), entries)))
        return _box(b"moof", _full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)), *trafs)

    # The data offsets are from the start of the moof, whose size does not depend on their values.
    size = len(moof([0] * len(runs)))
    offsets, at = [], size + 8
    for run in runs:
        offsets.append(at)
        at += sum(len(s.data) for s in run.samples)
    return moof(offsets) + _box(b"mdat", *(s.data for run in runs for s in run.samples))


def annexb_to_length_prefixed(data: bytes) -> bytes:
    """H.264 from libx264 comes with start codes; MP4 wants each NAL unit preceded by its 4-byte length."""
    begins, at = [], data.find(b"\x00\x00\x01")
    while at >= 0:
        begins.append(at + 3)
        at = data.find(b"\x00\x00\x01", at + 3)
    if not begins:
        return data   # already length-prefixed
    units = []
    for n, begin in enumerate(begins):
        # A NAL unit never ends in a zero byte: a trailing one belongs to the next 4-byte start code.
        unit = data[begin: begins[n + 1] - 3].rstrip(b"\x00") if n + 1 < len(begins) else data[begin:]
        if unit:
            units.append(struct.pack(">I", len(unit)) + unit)
    return b"".join(units)


def timescales(init: bytes) -> list[int]:
    """The timescale (mdhd) of each track of an init segment, in track order."""
    found: list[int] = []

    def walk(start: int, end: int) -> None:
        at = start
        while at + 8 <= end:
            size, kind = struct.unpack(">I4s", init[at: at + 8])
            if size < 8:
                return
            if kind in (b"moov", b"trak", b"mdia"):
                walk(at + 8, at + size)
            elif kind == b"mdhd":
                version = init[at + 8]
                found.append(struct.unpack(">I", init[at + (28 if version else 20): at + (32 if version else 24)])[0])
            at += size

    walk(0, len(init))
    return found


def init_segment(streams: list[av.stream.Stream]) -> tuple[bytes, av.container.OutputContainer]:
    """ftyp + moov for these encoders' streams, copied from templates into a fresh mp4 muxer that only writes
    its header. Answers the bytes and the muxer (closed by the caller at the end)."""
    buffer = io.BytesIO()
    muxer = av.open(buffer, "w", format="mp4", options={"movflags": "empty_moov+default_base_moof+frag_custom"})
    for stream in streams:
        copy = muxer.add_stream_from_template(stream)
        # The template leaves the codec configuration out (avcC, AudioSpecificConfig): players need it.
        copy.codec_context.extradata = stream.codec_context.extradata
    muxer.start_encoding()
    return buffer.getvalue(), muxer
