"""Reads a webinar room's chat and Q&A between two instants, for replay beside the recording."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import select

from rooms.store.database import Database
from rooms.store.schema import members, messages
from rooms.webinars.store.schema import webinar_questions

REPLAY_KINDS = ("message", "question", "question.state")


class ReplayStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def window(self, room_id: int, since: datetime, until: datetime | None, limit: int) -> list[dict]:
        """Messages (deleted ones excluded, edits applied), questions with their current state, and
        answered/dismissed moments, oldest first; `at` is the stored time of each."""
        stmt = (select(messages.c.seq, messages.c.kind, messages.c.sender_id, messages.c.body,
                       messages.c.created_at, members.c.display_name)
                .select_from(messages.outerjoin(members, members.c.id == messages.c.sender_id))
                .where(messages.c.room_id == room_id, messages.c.kind.in_(REPLAY_KINDS),
                       messages.c.deleted_at.is_(None), messages.c.created_at >= since)
                .order_by(messages.c.seq).limit(limit))
        if until is not None:
            stmt = stmt.where(messages.c.created_at <= until)
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
            asked = {}
            question_ids = [_fields(row.body).get("question") for row in rows if row.kind == "question"]
            if question_ids:
                found = (await conn.execute(select(webinar_questions.c.id, webinar_questions.c.state)
                                            .where(webinar_questions.c.id.in_(question_ids)))).all()
                asked = {q.id: q.state for q in found}
        events = []
        for row in rows:
            sender = {"id": row.sender_id, "display_name": row.display_name or ""}
            if row.kind == "message":
                events.append({"seq": row.seq, "kind": "message", "sender": sender, "body": row.body, "data": {},
                               "at": row.created_at})
                continue
            fields = _fields(row.body)
            if row.kind == "question":
                data = {"question": fields.get("question"), "anonymous": bool(fields.get("anonymous")),
                        "state": asked.get(fields.get("question"), fields.get("state"))}
                if data["anonymous"]:
                    sender = {"id": None, "display_name": ""}
                events.append({"seq": row.seq, "kind": "question", "sender": sender,
                               "body": str(fields.get("body", "")), "data": data, "at": row.created_at})
            else:
                events.append({"seq": row.seq, "kind": "question.state", "sender": sender, "body": "",
                               "data": {"question": fields.get("question"), "state": fields.get("state")},
                               "at": row.created_at})
        return events


def _fields(body: str) -> dict:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
