"""The forwarding hooks into aiortc's internals (recordings/media/forwarding.py) still fit, and forward without re-encoding.

If an aiortc upgrade moves what the hooks rely on, these fail first and say where to look.
"""

from __future__ import annotations

import fractions
import inspect

import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from recordings.media.forwarding import AIORTC_VERSION, check_aiortc, forward_packets, on_keyframe_request
from tests.support.netns import run_scenario


def test_aiortc_is_the_version_the_hooks_were_written_for():
    assert aiortc.__version__ == AIORTC_VERSION
    check_aiortc()


def test_aiortc_internals_the_hooks_rely_on_are_where_they_were():
    receiver_source = inspect.getsource(aiortc.rtcrtpreceiver.RTCRtpReceiver)
    # The receiver hands each reassembled frame to its decoder queue, and None when it stops ...
    assert "self.__decoder_queue.put((codec, encoded_frame))" in receiver_source
    assert "self.__decoder_queue.put(None)" in receiver_source
    assert "encoded_frame.timestamp = self.__timestamp_mapper.map(" in receiver_source
    # ... which a thread reads until None.
    worker_source = inspect.getsource(aiortc.rtcrtpreceiver.decoder_worker)
    assert "task = input_q.get()" in worker_source and "if task is None:" in worker_source
    # The sender packetises packets without encoding, and answers PLI/FIR through _send_keyframe.
    sender_source = inspect.getsource(aiortc.rtcrtpsender.RTCRtpSender)
    assert "payloads, timestamp = self.__encoder.pack(data)" in sender_source
    assert "self._send_keyframe()" in sender_source
    # Keyframe requests go up to the publisher as the receiver's own PLI.
    assert "async def _send_rtcp_pli(self, media_ssrc: int)" in receiver_source


async def test_a_hooked_receiver_hands_on_packets_instead_of_decoding():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))   # no description set: nothing touches the network
    try:
        transceiver = pc.addTransceiver("video", direction="recvonly")
        got: list[tuple[str, object]] = []
        forward_packets(transceiver.receiver, "video", lambda codec, packet: got.append((codec, packet)))
        vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
        sink = transceiver.receiver._RTCRtpReceiver__decoder_queue
        sink.put((vp8, JitterFrame(data=b"\x10\x02\x00\x9d\x01\x2a", timestamp=3000)))   # key frame tag
        sink.put((vp8, JitterFrame(data=b"\x31\x02\x00", timestamp=6000)))               # inter frame
        assert [(codec, bytes(p), p.pts, p.time_base, p.is_keyframe) for codec, p in got] == [
            ("vp8", b"\x10\x02\x00\x9d\x01\x2a", 3000, fractions.Fraction(1, 90000), True),
            ("vp8", b"\x31\x02\x00", 6000, fractions.Fraction(1, 90000), False)]
        sink.put(None)
        assert sink.get() is None     # the receiver's decoder thread is released when it stops

        asked: list[bool] = []
        on_keyframe_request(transceiver.sender, lambda: asked.append(True))
        transceiver.sender._send_keyframe()
        assert asked == [True]
    finally:
        await pc.close()


def test_the_server_forwards_the_publishers_encoded_frames_byte_for_byte():
    result = run_scenario("tests.media.scenario_passthrough")
    assert result["sent"] >= 60
    assert result["received"] >= 60, result
    # Every frame the viewer got is one the publisher's encoder made: nothing was re-encoded.
    assert result["foreign"] == 0, result
    assert result["keyframes"] >= 1
