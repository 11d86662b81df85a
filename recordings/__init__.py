"""Webinars, media and the recordings archive (see issues 6 and 7)."""
