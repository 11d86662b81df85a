"""From raw records to figures: delivery checks per receiver, latency percentiles, connect times.

The checks are the protocol's guarantee, verified per receiver: every
acknowledged message of a room the receiver follows arrives exactly once and in
seq order. A delivery is joined to its send by client_id, and its seq must be
the one the sender's ack named.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from typing import Iterable

from bench.generator import ClientRecord, ClientState, Send


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (q in 0..100)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary_ms(seconds: Iterable[float]) -> dict:
    """p50/p95/p99/max/mean in milliseconds, and the count."""
    ordered = sorted(seconds)
    if not ordered:
        return {"count": 0}
    ms = lambda v: round(v * 1000, 2)   # noqa: E731
    return {"count": len(ordered), "p50": ms(percentile(ordered, 50)), "p95": ms(percentile(ordered, 95)),
            "p99": ms(percentile(ordered, 99)), "max": ms(ordered[-1]),
            "mean": ms(sum(ordered) / len(ordered))}


def connect_summary(records: list[ClientRecord], wall_s: float | None = None) -> dict:
    """How many sockets opened and subscribed, how long that took, and why the others failed."""
    opened = [r for r in records if r.state in (ClientState.OPEN, ClientState.CLOSED)]
    failures = Counter((r.error or "unknown").split(":", 1)[0] for r in records if r.state is ClientState.FAILED)
    other: Counter = Counter()
    for record in records:
        other.update(record.other_frames)
    result = {"attempted": len(records), "established": len(opened), "failed": sum(failures.values()),
              "failure_kinds": dict(failures.most_common(5)),
              "connect_ms": summary_ms(r.connect_s for r in opened if r.connect_s is not None),
              "subscribe_ms": summary_ms(r.subscribe_s for r in opened if r.subscribe_s is not None),
              # Frames the server sent meanwhile besides replies (presence, member.joined …), all sockets together.
              "other_frames": dict(other)}
    if wall_s:
        result["wall_s"] = round(wall_s, 2)
        result["connects_per_s"] = round(len(opened) / wall_s, 1)
    return result


def delivery_summary(records: list[ClientRecord]) -> dict:
    """Loss, duplicates and order per receiver, latency send → delivery, and throughput, for one phase."""
    sends: dict[str, Send] = {}
    errors: Counter = Counter()
    other: Counter = Counter()
    for record in records:
        sends.update(record.sends)
        errors.update(record.errors)
        other.update(record.other_frames)
    acked_by_room: dict[int, dict[int, str]] = defaultdict(dict)
    seq_conflicts = 0
    for client_id, send in sends.items():
        if send.seq is None:
            continue
        if send.seq in acked_by_room[send.room]:
            seq_conflicts += 1          # two messages acknowledged with one seq: a server bug
        acked_by_room[send.room][send.seq] = client_id

    expected = received = lost = duplicates = out_of_order = unexpected = mismatched = 0
    receivers_with_loss = 0
    latencies: list[float] = []
    first_sent = min((s.t_sent for s in sends.values()), default=0.0)
    last_delivery = first_sent
    for record in records:
        want = sum(len(acked_by_room.get(room, ())) for room in record.rooms)
        expected += want
        got = 0
        seen: set[tuple[int, int]] = set()
        last_seq: dict[int, int] = {}
        for room, seq, client_id, t_received in record.deliveries:
            if seq <= last_seq.get(room, -1):
                out_of_order += 1
            last_seq[room] = max(seq, last_seq.get(room, -1))
            if (room, seq) in seen:
                duplicates += 1
                continue
            seen.add((room, seq))
            acked_id = acked_by_room.get(room, {}).get(seq)
            if acked_id is None:
                unexpected += 1         # not acknowledged in this phase (late from an earlier one, or unacked)
                continue
            if acked_id != client_id:
                mismatched += 1         # the seq in the ack and the seq in the delivery disagree
                continue
            got += 1
            latencies.append(t_received - sends[client_id].t_sent)
            last_delivery = max(last_delivery, t_received)
        received += got
        lost += want - got
        receivers_with_loss += want > got

    span = last_delivery - first_sent
    acked = [s for s in sends.values() if s.seq is not None]
    return {
        "receivers": len(records),
        "receivers_closed": sum(r.state is ClientState.CLOSED for r in records),
        "close_codes": dict(Counter(r.close_code for r in records if r.state is ClientState.CLOSED)),
        "messages_sent": len(sends),
        "messages_acked": len(acked),
        "deliveries_expected": expected,
        "deliveries_received": received,
        "lost": lost,
        "loss_ratio": round(lost / expected, 6) if expected else 0.0,
        "receivers_with_loss": receivers_with_loss,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
        "unexpected": unexpected,
        "mismatched": mismatched,
        "seq_conflicts": seq_conflicts,
        "errors": dict(errors),
        "other_frames": dict(other),
        "deliveries_per_s": round(received / span, 1) if span > 0 else None,
        "span_s": round(span, 3),
        "latency_ms": summary_ms(latencies),
        "ack_ms": summary_ms(s.t_ack - s.t_sent for s in acked if s.t_ack is not None),
        "sender_lag_ms_max": round(max((s.t_sent - s.t_due for s in sends.values()), default=0.0) * 1000, 2),
    }


def is_clean(deliveries: dict) -> bool:
    """Every acknowledged message delivered to every receiver exactly once, in order."""
    return (deliveries["lost"] == 0 and deliveries["duplicates"] == 0 and deliveries["out_of_order"] == 0
            and deliveries["mismatched"] == 0 and deliveries["seq_conflicts"] == 0
            and deliveries["messages_acked"] == deliveries["messages_sent"] > 0)


def ratio(convene: float | None, baseline: float | None) -> float | None:
    if convene is None or baseline is None or baseline == 0 or math.isnan(convene) or math.isnan(baseline):
        return None
    return round(convene / baseline, 3)


def cpu_per_delivery_us(result: dict) -> float | None:
    """Server CPU microseconds per delivery in a measured phase: unlike latency or throughput, this
    hardly depends on what else the shared machine was doing."""
    received = result["deliveries"]["deliveries_received"]
    return round(result["server"]["cpu_s"] / received * 1e6, 1) if received else None


def cpu_per_message_ms(result: dict, of: str = "server") -> float | None:
    """CPU milliseconds per acknowledged (stored) message in a measured phase, all the target's server
    processes together (or its `services`): what the send path costs, whatever the room's size."""
    acked = result["deliveries"]["messages_acked"]
    return round(result[of]["cpu_s"] / acked * 1000, 3) if acked and of in result else None


def median(values: list[float]) -> float | None:
    ordered = sorted(v for v in values if v is not None)
    return ordered[len(ordered) // 2] if ordered else None
