"""Emergency response coordination rooms: alerts with acknowledgement, sitreps, 4Ws, digests and the audit trail.

Everything that must not be lost is appended to the room's sequence (rooms/store/messages.py)
as an event of its own kind, with its structured data in the tables of store/schema.py, so it
inherits exactly-once delivery, resume and cross-process fan-out from the chat core.
"""
