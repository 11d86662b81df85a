"""Prometheus metrics of this process, defined in one place so docs/operations.md can list them all.

Every layer imports its metrics from here (prometheus_client's default registry, one per process);
`GET /metrics` (realtime/api/metrics.py) exposes them. Names follow Prometheus conventions:
`convene_` prefix, base units (seconds, bytes), `_total` for counters. Labels take a small fixed
set of values (a frame type, an outcome), never a member, room or message id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets for work a member waits on (an ack, a fan-out, a history page): 1 ms to 10 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# --- chat core -----------------------------------------------------------------------------------
messages_stored = Counter("convene_messages_stored_total", "Chat messages committed to the store (resends excluded)")
