"""Scenario (in the loopback namespace): the publisher sends VP8 it encoded itself; a viewer that does not decode
records what arrives. Equal bytes mean the server forwarded the frames without re-encoding them."""

from __future__ import annotations

import asyncio
import fractions
import json

import av
from aiortc import RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpreceiver import RTCRtpReceiver

from recordings.media.forwarding import forward_packets
from tests.media.peers import HEIGHT, WIDTH, SyntheticVideo, live_webinar, peer, publish, start_server, until
from tests.support.client import ChatClient

VIDEO_TIME_BASE = fractions.Fraction(1, 90000)


class EncodedVideo(MediaStreamTrack):
    """Synthetic frames encoded here with libvpx and handed to aiortc as packets (which it only packetises)."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.source = SyntheticVideo()
        self.codec = av.CodecContext.create("libvpx", "w")
        self.codec.width, self.codec.height, self.codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        self.codec.bit_rate, self.codec.gop_size = 500_000, 30
        self.codec.time_base = VIDEO_TIME_BASE
        self.codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        self.sent: set[bytes] = set()

    async def recv(self) -> av.Packet:
        while True:
            frame = await self.source.recv()
            packets = self.codec.encode(frame)
            if packets:
                packet = packets[0]
                packet.pts, packet.time_base = frame.pts, VIDEO_TIME_BASE
                self.sent.add(bytes(packet))
                return packet


async def raw_view(client: ChatClient, webinar_id: int, publisher: int) -> tuple[object, list[av.Packet]]:
    pc = peer()
    transceiver = pc.addTransceiver("video", direction="recvonly")
    got: list[av.Packet] = []
    await pc.setLocalDescription(await pc.createOffer())
    receiver: RTCRtpReceiver = transceiver.receiver
    reply = await client.request({"type": "media.view", "webinar": webinar_id, "publisher": publisher,
                                  "sdp": pc.localDescription.sdp})
    assert reply["type"] == "media.answer", reply
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    forward_packets(receiver, "video", lambda codec, packet: got.append(packet))
    return pc, got


async def main() -> dict:
    server = start_server()
    try:
        host, webinar, (viewer,) = await live_webinar(server, 1)
        host_ws = await host.connect(server.ws_url)
        track = EncodedVideo()
        publisher = await publish(host_ws, webinar["id"], [track])
        viewer_ws = await viewer.connect(server.ws_url)
        pc, got = await raw_view(viewer_ws, webinar["id"], host.id)
        await until(lambda: len(got) >= 60, "60 forwarded frames", timeout=30)
        received = [bytes(p) for p in got]
        result = {"sent": len(track.sent), "received": len(received),
                  "foreign": sum(1 for data in received if data not in track.sent),
                  "keyframes": sum(1 for p in got if p.is_keyframe)}
        await pc.close()
        await publisher.close()
        for client in (host_ws, viewer_ws):
            await client.close()   # before the server stops: it would wait for open sockets
        return result
    finally:
        server.stop()
        print(server.log_tail(15), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
