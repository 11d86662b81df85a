"""Attachments: files, images and voice notes in messages (docs/attachments.md)."""
