"""Outgoing e-mail shared by every feature: members' verified addresses, the durable outbox and its SMTP sender."""
