"""The demo data `make run` seeds (python -m rooms.demo) shows conversations: a thread, reactions,
formatted text with a link, a mention and a pinned message."""

from __future__ import annotations

import os
import subprocess
import sys

from rooms.conversations.store import ConversationStores
from rooms.notifications.store import NotificationStores
from rooms.store import Stores
from tests.conftest import embedded_env
from tests.support.services import REPO_ROOT


async def test_the_demo_shows_a_thread_reactions_formatting_mentions_and_a_pin(tmp_path):
    env = {**os.environ, **embedded_env(tmp_path)}
    seeded = subprocess.run([sys.executable, "-m", "rooms.demo"], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert seeded.returncode == 0 and "Demo data created." in seeded.stdout, seeded.stdout + seeded.stderr

    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path / 'convene.db'}")
    try:
        amina, _ = await stores.accounts.credentials("amina")
        pfa = next(s.room for s in await stores.memberships.summaries(amina.id)
                   if s.room.name == "Psychological first aid")
        messages = (await stores.messages.page(pfa.id, None, 50)).events
        question = next(m for m in messages if "look, listen, link" in m.body)
        replies = (await stores.messages.page(pfa.id, None, 50, thread=question.seq)).events
        assert len(replies) == 2 and all(r.parent["sender"]["display_name"] == "Priya Raman" for r in replies)
        assert question.reactions == {"👍": [amina.id, next(r.sender_id for r in replies if "call-back" in r.body)]}
        guide = next(m for m in messages if "who.int" in m.body)
        assert '<a href="https://www.who.int/publications/i/item/9789241548205"' in guide.html
        assert "<strong>Reference for everyone:</strong>" in guide.html
        pins = await ConversationStores.over(stores).pins.list(pfa.id)
        assert [pin.message.seq for pin in pins] == [guide.seq]
        field = next(s.room for s in await stores.memberships.summaries(amina.id)
                     if s.room.name == "Field notes: East Africa")
        kofi, _ = await stores.accounts.credentials("kofi")
        mentioning = (await stores.messages.page(field.id, None, 10, mentioning=kofi.id)).events
        assert len(mentioning) == 1 and "<li>talk it through with a peer</li>" not in mentioning[0].html
        # A room that keeps its messages for a limited time (docs/privacy.md, "Room retention").
        cases = next(s.room for s in await stores.memberships.summaries(amina.id) if s.room.name == "Case discussion")
        assert cases.retention_days == 30 and len((await stores.messages.page(cases.id, None, 10)).events) == 2
        # The web client: Amina's room opens with the "new messages" line after her own answer; Tomás reads
        # in the dark theme.
        summary = next(s for s in await stores.memberships.summaries(amina.id) if s.room.id == pfa.id)
        answer = next(m for m in messages if "We spend more time on" in m.body)
        assert summary.read_seq == answer.seq and summary.unread >= 2
        tomas, _ = await stores.accounts.credentials("tomas")
        assert (await NotificationStores.over(stores.db).preferences.get(tomas.id)).theme == "dark"
    finally:
        await stores.db.dispose()
