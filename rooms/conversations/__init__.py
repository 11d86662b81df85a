"""Conversations as members expect them: replies and threads, reactions, formatting, mentions, pins.

Replies, mentions and formatting ride on the chat core's messages (rooms/service.py composes
each message with rooms/conversations/compose.py); reactions and pins are events of the room's
sequence of their own, committed with their rows (rooms/conversations/store/).
"""
