"""Webinar media: WebRTC selective forwarding with aiortc, without re-encoding (docs/webinars.md, "Media")."""
