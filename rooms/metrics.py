"""Prometheus metrics of this process, defined in one place so docs/operations.md can list them all.

Every layer imports its metrics from here (prometheus_client's default registry, one per process);
`GET /metrics` (realtime/api/metrics.py) exposes them. Names follow Prometheus conventions:
`convene_` prefix, base units (seconds, bytes), `_total` for counters. Labels take a small fixed
set of values (a frame type, an outcome), never a member, room or message id.

Hot paths (a room's fan-out, a frame read) count in batches or through label children made once
(`labelled`), so a metric costs a dictionary lookup and an addition there, not a `labels()` call.
Values that need a query (jobs by state, outbox depth) are set by a background task
(realtime/stored_gauges.py), never computed at scrape time.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `_created` series beside each counter and histogram: they double a scrape and say nothing
# a process's start time does not.
disable_created_metrics()

# Latency buckets for work a member waits on (an ack, a fan-out, a history page): 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Waiting for a database connection (or, on SQLite, the writer's turn): 0.1 ms to 10 s.
WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)

# --- chat core -----------------------------------------------------------------------------------
messages_stored = Counter("convene_messages_stored_total", "Chat messages committed to the store (resends excluded)")
history_seconds = Histogram("convene_history_seconds", "Time to answer one history page, by how it was asked",
                            ["via"], buckets=LATENCY_BUCKETS)
HISTORY_VIA = ("socket", "http")

# --- sockets -------------------------------------------------------------------------------------
open_sockets = Gauge("convene_open_sockets", "Websockets open on this process (after a successful handshake)")
handshakes = Counter("convene_handshakes_total", "Websocket handshakes, by outcome", ["outcome"])
HANDSHAKE_OUTCOMES = ("accepted", "forbidden_origin", "store_unavailable", "unsupported_version",
                      "unauthenticated", "rate_limited")
frames_received = Counter("convene_frames_received_total", "Frames read from clients, by frame type "
                          "(`invalid`: not JSON, or an unknown type)", ["type"])
frames_sent = Counter("convene_frames_sent_total", "Frames written (or queued) to clients, by frame type", ["type"])
fanout_seconds = Histogram("convene_fanout_seconds", "From a room event's commit to its frame being written to "
                           "every live socket of this process (one observation per event and process)",
                           buckets=LATENCY_BUCKETS)
keepalive_pings = Counter("convene_keepalive_pings_total", "Websocket keepalive pings due, by outcome: `sent` "
                          "(the socket was silent for an interval) or `skipped` (it had sent something)", ["outcome"])
keepalive_pings_by_outcome = {outcome: keepalive_pings.labels(outcome) for outcome in ("sent", "skipped")}
slow_consumer_closes = Counter("convene_slow_consumer_closes_total",
                               "Sockets closed with 4408 because the client did not read fast enough")
rate_limit_refusals = Counter("convene_rate_limit_refusals_total", "Requests and frames refused by a rate limit, "
                              "by limit", ["limit"])
RATE_LIMITS = ("socket_frames", "socket_messages", "socket_media_offers", "member_messages", "ip_messages", "member_connections",
               "ip_connections", "username_login_failures", "ip_login_failures", "ip_registrations",
               "member_room_creations", "member_exports")

token_cache_lookups = Counter("convene_token_cache_lookups_total", "Handshake token checks by this process's "
                              "token cache: `hit` asked the store nothing, `miss` asked it", ["result"])
token_revocations = Counter("convene_token_revocations_total", "Token revocations applied to this process's cache, "
                            "by kind (`token`: a logout; `member`: every token of a member; `all`: the cache "
                            "dropped after a broker reconnect)", ["kind"])
presence_batch_size = Histogram("convene_presence_batch_size", "Presence changes (arrivals, departures, status "
                                "changes) written to the presence backend in one batch",
                                buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000))
presence_departures = Counter("convene_presence_departures_total", "Closed connections leaving presence (after "
                              "PRESENCE_GRACE_S), by outcome: `announced` (the member went offline) or `absorbed` "
                              "(the member was still or again connected: nobody was told)", ["outcome"])
presence_departures_by_outcome = {outcome: presence_departures.labels(outcome) for outcome in ("announced", "absorbed")}

# --- broker and store ----------------------------------------------------------------------------
broker_publish_failures = Counter("convene_broker_publish_failures_total",
                                  "Publishes the broker refused (the store has the event; gap repair delivers it)")
broker_reconnects = Counter("convene_broker_reconnects_total", "Times the broker connection was re-established")
broker_resyncs = Counter("convene_broker_resyncs_total", "Resyncs handed to the hub (after a reconnect or an "
                         "overflowing inbox): every room served here is checked against the store")
broker_cluster_shards = Gauge("convene_broker_cluster_shards", "Redis Cluster primaries this process holds a sharded "
                              "subscriber connection to (0 on one Redis)")
store_errors = Counter("convene_store_errors_total", "Database operations that failed, by kind "
                       "(`unavailable`: outage or pool timeout; `failed`: any other database error)", ["kind"])
STORE_ERROR_KINDS = ("unavailable", "failed")
store_inline_reads = Counter("convene_store_inline_reads_total", "Point reads the embedded store answered on the "
                             "event loop's thread (`answered`), or handed to its worker threads because the file "
                             "was locked against readers at that moment (`retried`)", ["result"])
store_wait_seconds = Histogram("convene_store_wait_seconds", "Time waiting for a database connection from the "
                               "pool (on SQLite, writes include the wait for the single writer's turn)",
                               ["operation"], buckets=WAIT_BUCKETS)
STORE_OPERATIONS = ("read", "write")
send_batch_size = Histogram("convene_send_batch_size", "Chat sends committed together in one transaction "
                            "(group commit, rooms/store/group_commit.py)",
                            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))
send_batch_failures = Counter("convene_send_batch_failures_total", "Send batches that could not commit as a "
                              "whole (their sends were then stored one by one); an outage is not counted here")
store_connections_in_use = Gauge("convene_store_connections_in_use", "Database connections checked out of the pool")

# --- read replica --------------------------------------------------------------------------------
replica_reads = Counter("convene_replica_reads_total", "History pages and searches answered by the read replica",
                        ["read"])
replica_fallbacks = Counter("convene_replica_fallbacks_total", "History pages and searches answered by the primary "
                            "although a replica is configured: the replica was `behind` what the reader must see, "
                            "or `unavailable`", ["read", "reason"])
REPLICA_READS = ("history", "search")
REPLICA_FALLBACK_REASONS = ("behind", "unavailable")

# --- media and background work -------------------------------------------------------------------
live_stream_workers = Gauge("convene_live_stream_workers", "Live-stream (HLS) worker processes running")
recording_jobs = Gauge("convene_recording_jobs", "Recording archive jobs by state (the whole deployment's, as "
                       "every process sees the same database)", ["state"])
email_outbox_depth = Gauge("convene_email_outbox_depth", "Unsent e-mails in the outbox (the whole deployment's): `pending` "
                     "will be tried, `abandoned` ran out of attempts", ["state"])
EMAIL_OUTBOX_STATES = ("pending", "abandoned")
stored_gauges_refreshed = Gauge("convene_stored_gauges_refreshed_timestamp_seconds",
                                "When the gauges read from the database were last refreshed (Unix time)")


def labelled(metric: Counter | Gauge | Histogram, values: tuple[str, ...]) -> dict[str, Any]:
    """One child per label value, made once, so every value shows on /metrics from the start (at 0)."""
    return {value: metric.labels(value) for value in values}


_FRAME_TYPE = re.compile(r'^[a-z][a-z0-9_.]{0,39}$')
_sent_by_type: dict[str, Counter] = {}


def frame_type_of(text: str) -> str:
    """The `type` of a frame we encoded: `{"type":"…"` leads nearly every frame; structured room events
    carry their fields first, so those are parsed (once per event, never per socket)."""
    if text.startswith('{"type":"'):
        name = text[9:text.find('"', 9)]
    else:
        try:
            found = orjson.loads(text).get("type")
        except (orjson.JSONDecodeError, AttributeError):
            found = None
        name = found if isinstance(found, str) else ""
    return name if _FRAME_TYPE.match(name) else "other"


def count_sent(frame_type: str, n: int = 1) -> None:
    """Counts frames handed to sockets; the type is one we produce (a small fixed set), checked all the same."""
    child = _sent_by_type.get(frame_type)
    if child is None:
        if not _FRAME_TYPE.match(frame_type):
            frame_type = "other"
        child = _sent_by_type[frame_type] = frames_sent.labels(frame_type)
    child.inc(n)


handshake_outcomes = labelled(handshakes, HANDSHAKE_OUTCOMES)
token_cache = labelled(token_cache_lookups, ("hit", "miss"))
revocations_by_kind = labelled(token_revocations, ("token", "member", "all"))
history_via = labelled(history_seconds, HISTORY_VIA)
rate_limit_by_name = labelled(rate_limit_refusals, RATE_LIMITS)
store_errors_by_kind = labelled(store_errors, STORE_ERROR_KINDS)
store_inline_reads_by_result = labelled(store_inline_reads, ("answered", "retried"))
store_wait_by_operation = labelled(store_wait_seconds, STORE_OPERATIONS)
email_outbox_by_state = labelled(email_outbox_depth, EMAIL_OUTBOX_STATES)


# --- attachments (rooms/attachments, docs/attachments.md) ----------------------------------------
attachment_uploads = Counter(
    "convene_attachment_uploads_total", "Files offered for storage, by outcome: stored, refused_type, too_large, "
    "over_quota, failed", ["outcome"])
ATTACHMENT_OUTCOMES = ("stored", "refused_type", "too_large", "over_quota", "failed")
attachment_stored_bytes = Counter(
    "convene_attachment_stored_bytes_total", "Bytes written to storage for attachments (files and previews)")
attachment_deleted_bytes = Counter(
    "convene_attachment_deleted_bytes_total", "Bytes of attachments removed from storage (message deleted, never "
    "sent, removed by their owner)")
attachment_quota_refusals = Counter(
    "convene_attachment_quota_refusals_total", "Uploads refused because the member's storage quota was full")
attachment_type_refusals = Counter(
    "convene_attachment_type_refusals_total", "Files refused because their content (sniffed, or read by the "
    "re-encoder) is not on the allow-list")
attachment_cut_parts = Counter(
    "convene_attachment_cut_parts_total", "PATCH bodies cut off before their end (link lost, idle, taken over) "
    "whose bytes were kept for the resume")
attachment_processing_seconds = Histogram(
    "convene_attachment_processing_seconds", "Re-encoding one image or remuxing one voice note in its child process",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0))
attachment_gc_removed = Counter(
    "convene_attachment_gc_removed_total", "What the attachments' garbage collection removed: upload (expired "
    "unfinished), unsent (never sent in a message), orphan (its message was deleted)", ["what"])
ATTACHMENT_GC_KINDS = ("upload", "unsent", "orphan")
attachment_upload_outcomes = labelled(attachment_uploads, ATTACHMENT_OUTCOMES)
attachment_gc_by_kind = labelled(attachment_gc_removed, ATTACHMENT_GC_KINDS)

# --- webinar media on any process (recordings/media: leases, relay, capacity) -------------------
media_sessions_owned = Gauge("convene_media_sessions_owned", "Webinar media sessions this process owns (holds the lease of)")
media_leases_taken_over = Counter("convene_media_leases_taken_over_total",
                                  "Webinar media leases this process took over from an owner that stopped renewing")
media_relay_requests = Counter("convene_media_relay_requests_total",
                               "Media signalling requests relayed from this process to the owner of the media", ["op"])
media_relay_failures = Counter("convene_media_relay_failures_total",
                               "Relayed media signalling that failed: timeout, owner_gone, broker, overflow, and "
                               "messages refused on arrival: forged, stale, replayed", ["reason"])
media_webrtc_viewers = Gauge("convene_media_webrtc_viewers",
                             "Sockets watching webinars over WebRTC on this process (the MEDIA_MAX_VIEWERS budget)")
media_webrtc_publishers = Gauge("convene_media_webrtc_publishers", "Members publishing over WebRTC to this process")
media_viewers_sent_to_stream = Counter("convene_media_viewers_sent_to_stream_total",
                                       "Attendees sent to the HTTP stream because the WebRTC viewer budget was used up")
MEDIA_RELAY_OPS = ("watch", "publish", "view", "stop", "alive")
MEDIA_RELAY_FAILURES = ("timeout", "owner_gone", "broker", "overflow", "forged", "stale", "replayed")
media_relayed = labelled(media_relay_requests, MEDIA_RELAY_OPS)
media_relay_failed = labelled(media_relay_failures, MEDIA_RELAY_FAILURES)

# --- conversations: replies, reactions, mentions, formatting, pins, search (rooms/conversations) ------
replies_sent = Counter("convene_replies_total", "Messages stored as replies to another message")
mentions_stored = Counter("convene_mentions_total", "Mentions stored with new or edited messages, by kind: "
                          "member (@username), room (@room by an owner or moderator)", ["kind"])
reactions_changed = Counter("convene_reactions_total", "Reactions added or removed (repeats excluded)", ["change"])
pins_changed = Counter("convene_pins_total", "Messages pinned or unpinned (repeats excluded)", ["change"])
render_seconds = Histogram("convene_message_render_seconds", "Time to format one message (Markdown to safe HTML)",
                           buckets=LATENCY_BUCKETS)
renders_slow = Counter("convene_message_renders_slow_total", "Message formats that took longer than 50 ms")
render_fallbacks = Counter("convene_message_render_fallbacks_total",
                           "Messages stored unformatted because formatting ran past RENDER_TIMEOUT_S")
search_seconds = Histogram("convene_search_seconds", "Time to answer one full-text search", buckets=LATENCY_BUCKETS)
mentions_by_kind = labelled(mentions_stored, ("member", "room"))
reactions_by_change = labelled(reactions_changed, ("added", "removed"))
pins_by_change = labelled(pins_changed, ("pinned", "unpinned"))

# --- live HTTP stream (recordings/live/, realtime/api/live_stream.py) ---------------------------
live_parts = Counter("convene_live_parts_total", "Partial segments (low-latency HLS) written by this process's workers")
live_segments = Counter("convene_live_segments_total", "Media segments written by this process's workers")
live_speaker_switches = Counter("convene_live_speaker_switches_total",
                                "Times the stream's picture moved to another active speaker")
live_blocking_waiting = Gauge("convene_live_blocking_requests_waiting",
                              "Blocking playlist reloads and part requests held until their media exists")
live_viewers = Gauge("convene_live_viewers", "HTTP stream viewers asking this process (estimated from playlist "
                     "requests over the last 30 s; behind a CDN only the CDN's)", ["latency"])

# --- notifications (rooms/notifications, docs/operations.md "Notifications") ----------------------
notifications_created = Counter("convene_notifications_created_total", "Notifications created, by kind", ["kind"])
notifier_lag = Gauge("convene_notifier_lag_events", "Room events committed but not yet looked at by the notifier")
push_sent = Counter("convene_push_total", "Web Push attempts, by outcome (sent, failed, gone)", ["outcome"])
push_queue_depth = Gauge("convene_push_queue_jobs", "Push jobs waiting to be sent")
push_queue_age = Gauge("convene_push_queue_oldest_seconds", "Age of the oldest push job waiting")
emails_batched = Counter("convene_notification_emails_total",
                         "Notifications handled by the e-mail batcher, by outcome (sent, read, webinar)", ["outcome"])
emails_pending = Gauge("convene_notification_emails_pending", "Notifications waiting for their e-mail batch")
emails_sent = Counter("convene_emails_sent_total", "E-mails handed to the SMTP server from the outbox")
inbound_mail = Counter("convene_inbound_mail_total", "Replies by e-mail, by outcome (accepted, refused)", ["outcome"])
unsubscribes = Counter("convene_unsubscribes_total", "One-click unsubscribes")

# --- moderation (rooms/moderation, realtime/hub.py, realtime/suspensions.py) ----------------------
moderation_actions = Counter(
    "convene_moderation_actions_total",
    "Moderation actions taken through this process, by action (mute, unmute, ban, unban, kick, role, "
    "slow_mode, delete, dismiss, suspend, unsuspend)", ["action"])
reports_filed = Counter("convene_reports_filed_total", "Reports of messages filed (a repeated report excluded)")
reports_open = Gauge("convene_reports_open", "Reports waiting in every room's queue (the whole deployment's, "
                     "read every METRICS_REFRESH_S)")
moderation_refusals = Counter(
    "convene_moderation_refusals_total",
    "Requests refused because of moderation, by reason (muted, banned, slow_mode)", ["reason"])
subscriptions_ended = Counter(
    "convene_moderation_subscriptions_ended_total",
    "Live subscriptions this process ended because of a moderation event, by reason (banned, removed)", ["reason"])
suspended_sockets_closed = Counter(
    "convene_suspended_sockets_closed_total", "Sockets this process closed because their member was suspended")
MODERATION_ACTIONS = ("mute", "unmute", "ban", "unban", "kick", "role", "slow_mode", "delete", "dismiss", "suspend",
                      "unsuspend")
moderation_action = labelled(moderation_actions, MODERATION_ACTIONS)
moderation_refusal = labelled(moderation_refusals, ("muted", "banned", "slow_mode"))
subscriptions_ended_by = labelled(subscriptions_ended, ("banned", "removed"))

replica_reads_by_read = labelled(replica_reads, REPLICA_READS)
replica_fallbacks_by = {(read, reason): replica_fallbacks.labels(read, reason)
                        for read in REPLICA_READS for reason in REPLICA_FALLBACK_REASONS}

# --- members' data: exports, account deletions, retention (rooms/members_data) -----------------------
exports = Counter("convene_exports_total", "Members' data exports started, by format (json, or zip with their files)",
                  ["format"])
exports_by_format = labelled(exports, ("json", "zip"))
accounts_deleted = Counter("convene_accounts_deleted_total", "Accounts deleted by their members")
erased_rooms = Counter("convene_erased_rooms_total",
                       "Rooms in which a deleted account's messages were blanked (one member.erased event each)")
retention_rows_removed = Counter("convene_retention_rows_removed_total",
                                 "Events of rooms' sequences removed by retention (messages, edits, reactions …)")
retention_resumes = Counter("convene_retention_resumes_total",
                            "Resumes and repairs told with a `retention` frame that history they asked for was removed")

# --- the host's day: green room, breakout groups, summaries (rooms/webinars, docs/webinars.md) ----
green_room_sessions = Gauge("convene_green_room_sessions",
                            "Webinar media sessions on this process in the green room (before the start: only the "
                            "stage sees and hears each other)")
breakout_groups_active = Gauge("convene_breakout_groups_active",
                               "Breakout groups open now (the whole deployment's, read from the database)")
breakout_members = Gauge("convene_breakout_members",
                         "Members in open breakout groups (the whole deployment's, read from the database)")
webinar_summaries_exported = Counter("convene_webinar_summaries_exported_total",
                                     "Webinar summaries downloaded as CSV by hosts")

# --- the web client's live pages (docs/client.md, docs/operations.md "Web client") -------------------
audience_frames = Counter("convene_webinar_audience_frames_total",
                          "`audience` frames published to webinar hosts and panelists (one per moderator), by "
                          "change (arrived, left)", ["change"])
audience_by_change = labelled(audience_frames, ("arrived", "left"))
