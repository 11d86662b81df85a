"""Storage for notifications: one small store per concern, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.notifications.store.cursors import CursorStore
from rooms.notifications.store.emails import EmailQueueStore, WebinarMailLog
from rooms.notifications.store.inbox import InboxStore
from rooms.notifications.store.preferences import PreferenceStore
from rooms.notifications.store.push import PushStore
from rooms.store.database import Database


@dataclass(frozen=True)
class NotificationStores:
    inbox: InboxStore
    cursors: CursorStore
    preferences: PreferenceStore
    push: PushStore
    emails: EmailQueueStore
    webinar_mail: WebinarMailLog

    @classmethod
    def over(cls, db: Database) -> "NotificationStores":
        inbox = InboxStore(db)
        return cls(inbox=inbox, cursors=CursorStore(db), preferences=PreferenceStore(db), push=PushStore(db),
                   emails=EmailQueueStore(db, inbox), webinar_mail=WebinarMailLog(db))
