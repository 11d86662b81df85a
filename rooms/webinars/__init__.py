"""Live webinars: scheduled sessions with hosts and panelists, registration, attendance, Q&A, hands and polls."""
