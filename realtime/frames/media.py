"""Frames of webinar media (docs/protocol.md, "Webinar media"): publish, view, watch and stop; the media router takes
them to the process that owns the webinar's media (this one, or another over the relay)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StrictStr

from realtime.frames.table import FrameGroup
from realtime.protocol import Frame, RoomId
from realtime.ratelimit import TokenBucket
from realtime.session import Session

# Each offer costs the server a peer connection (keys, ICE, DTLS): a few per second at most.
MEDIA_RATE = 2.0
MEDIA_BURST = 10

Sdp = Annotated[StrictStr, Field(min_length=1, max_length=15_000)]   # the frame limit applies first
MediaKind = Literal["audio", "video", "screen"]   # "video" is the camera; "screen" a screen share beside it


class MediaPublish(Frame):
    type: Literal["media.publish"]
    webinar: RoomId
    sdp: Sdp
    kinds: Annotated[list[MediaKind], Field(min_length=1, max_length=3)] = ["audio", "video"]


class MediaView(Frame):
    type: Literal["media.view"]
    webinar: RoomId
    publisher: RoomId
    sdp: Sdp
    audio_only: StrictBool = False


class MediaWatch(Frame):
    type: Literal["media.watch"]
    webinar: RoomId


class MediaStop(Frame):
    type: Literal["media.stop"]
    webinar: RoomId
    publisher: RoomId | None = None   # none: stop publishing; a member: stop viewing them


def _take_offer_token(session: Session) -> None:
    bucket = session.extension("media", lambda: TokenBucket(MEDIA_RATE, MEDIA_BURST))
    session.refuse_flood(bucket, "too many media offers", "socket_media_offers")


def _pusher(session: Session):
    return lambda frame: session.reply(frame, None)


async def on_publish(session: Session, frame: MediaPublish) -> None:
    _take_offer_token(session)
    conn = session.conn
    answer = await session.services.media_router.publish(conn.member, conn.id, frame.webinar, frame.sdp,
                                                         frame.kinds, _pusher(session))
    session.reply({"type": "media.answer", "webinar": frame.webinar, "publisher": conn.member.id,
                   "sdp": answer}, frame.ref)


async def on_view(session: Session, frame: MediaView) -> None:
    _take_offer_token(session)
    conn = session.conn
    answer = await session.services.media_router.view(conn.member, conn.id, frame.webinar, frame.publisher,
                                                      frame.sdp, frame.audio_only)
    session.reply({"type": "media.answer", "webinar": frame.webinar, "publisher": frame.publisher,
                   "sdp": answer}, frame.ref)


async def on_watch(session: Session, frame: MediaWatch) -> None:
    conn = session.conn
    session.reply(await session.services.media_router.watch(conn.member, conn.id, frame.webinar,
                                                            _pusher(session)), frame.ref)


async def on_stop(session: Session, frame: MediaStop) -> None:
    conn = session.conn
    await session.services.media_router.stop_media(conn.member, conn.id, frame.webinar, frame.publisher)
    session.reply({"type": "media.stopped", "webinar": frame.webinar, "publisher": frame.publisher or conn.member.id,
                   "reason": "requested"}, frame.ref)


FRAMES: FrameGroup = {MediaPublish: on_publish, MediaView: on_view, MediaWatch: on_watch, MediaStop: on_stop}
