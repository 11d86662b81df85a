"""The one place that reaches into aiortc's internals: receivers hand on encoded frames, senders pass keyframe requests up.

aiortc decodes everything it receives and encodes everything it sends. For a selective
forwarding unit both are waste: the server only needs to move the publisher's encoded
frames to each viewer. Two hooks make that possible, both pinned to aiortc 1.16.0
(pyproject.toml) and covered by tests/media/test_forwarding_hook.py, which fails loudly
when an upgrade moves the internals they rely on:

- RTCRtpReceiver puts every reassembled frame from its jitter buffer, as (codec, JitterFrame),
  on `_RTCRtpReceiver__decoder_queue`, a queue.Queue read by a decoder thread (`decoder_worker`)
  that exits on None. We replace that queue, before the receiver starts, with a sink that turns
  each frame into an av.Packet and hands it on at once (on the event loop); the decoder thread
  still starts, but only waits on the sink until the receiver stops. Nothing is decoded.
- RTCRtpSender accepts av.Packet from its track's recv() and only packetises it (`encoder.pack`);
  a viewer's PLI/FIR calls the sender's `_send_keyframe`, which for packets would do nothing, so
  we replace it per sender with a callback that asks the publisher for a keyframe.
"""

from __future__ import annotations

import fractions
import queue
import threading
from typing import Callable

import aiortc
import av
from aiortc import RTCRtpReceiver, RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

AIORTC_VERSION = "1.16.0"
_QUEUE_ATTRIBUTE = "_RTCRtpReceiver__decoder_queue"
_STARTED_ATTRIBUTE = "_RTCRtpReceiver__started"

# (codec name in lower case, for example "vp8" or "opus"; the encoded frame as a packet)
OnPacket = Callable[[str, av.Packet], None]


class AiortcChanged(RuntimeError):
    """aiortc's internals are not what the forwarding hooks expect: check them against the new version."""


def check_aiortc() -> None:
    if aiortc.__version__ != AIORTC_VERSION:
        raise AiortcChanged(f"media forwarding is written against aiortc {AIORTC_VERSION}, found {aiortc.__version__}; "
                            "check recordings/media/forwarding.py and run tests/media")


def is_vp8_keyframe(data: bytes) -> bool:
    """RFC 6386 section 9.1: bit 0 of the frame tag is 0 for a key frame."""
    return bool(data) and data[0] & 0x01 == 0


class _FrameSink:
    """Stands in for the receiver's decoder queue: put() from the receiver, get() from its idle decoder thread."""

    def __init__(self, kind: str, on_packet: OnPacket) -> None:
        self.kind = kind
        self.on_packet = on_packet
        self._stopped = threading.Event()

    def put(self, item: tuple[RTCRtpCodecParameters, object] | None) -> None:
        if item is None:               # the receiver is stopping: release its decoder thread
            self._stopped.set()
            return
        codec, frame = item
        data: bytes = frame.data        # type: ignore[attr-defined]
        packet = av.Packet(data)
        # The receiver has already unwrapped the RTP timestamp (it starts at 0 and never wraps).
        packet.pts = packet.dts = frame.timestamp   # type: ignore[attr-defined]
        packet.time_base = fractions.Fraction(1, codec.clockRate)
        name = codec.name.lower()
        if self.kind == "video" and name == "vp8":
            packet.is_keyframe = is_vp8_keyframe(data)
        self.on_packet(name, packet)

    def get(self) -> None:
        self._stopped.wait()
        return None


def forward_packets(receiver: RTCRtpReceiver, kind: str, on_packet: OnPacket) -> None:
    """Makes `receiver` hand on encoded frames instead of decoding them. Call before it starts
    (right after setRemoteDescription, before any await)."""
    check_aiortc()
    if not isinstance(getattr(receiver, _QUEUE_ATTRIBUTE, None), queue.Queue):
        raise AiortcChanged(f"RTCRtpReceiver has no {_QUEUE_ATTRIBUTE} queue any more")
    if getattr(receiver, _STARTED_ATTRIBUTE, True):
        raise AiortcChanged("the receiver has already started (or aiortc renamed its started flag)")
    setattr(receiver, _QUEUE_ATTRIBUTE, _FrameSink(kind, on_packet))


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Calls `callback` when the viewer behind `sender` reports picture loss (PLI) or asks for a full frame (FIR)."""
    check_aiortc()
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise AiortcChanged("RTCRtpSender has no _send_keyframe any more")
    sender._send_keyframe = callback   # type: ignore[method-assign]


async def request_keyframe(receiver: RTCRtpReceiver) -> None:
    """Sends a PLI to the publisher for every stream the receiver has heard from lately."""
    for source in receiver.getSynchronizationSources():
        await receiver._send_rtcp_pli(source.source)
