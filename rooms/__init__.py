"""Chat domain: members, rooms, messages and their storage."""
