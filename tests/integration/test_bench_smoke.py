"""The benchmark's load generator at tiny sizes, against a real Convene server and the baseline.

These tests check the generator's own bookkeeping (every acknowledged message
reaches every receiver exactly once, in seq order), not speed: no timings are
asserted. The last test feeds the checker broken records, so a clean result
above cannot come from a checker that sees nothing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.analysis import connect_summary, delivery_summary, is_clean
from bench.generator import ClientRecord, ClientState, LoadGenerator, Phase, Send
from bench.targets import BaselineTarget, ConveneTarget, Layout, Target

LAYOUT = Layout(rooms=1, members_per_room=20, senders_per_room=5)
PHASE = Phase(rate=10.0, duration_s=1.0, ack_timeout_s=10, drain_timeout_s=10)   # 5 senders x 10 = 50 messages
MESSAGES = 50


@pytest.fixture(params=["convene", "baseline"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    # Convene on the embedded backend: its own process, temp CONVENE_DATA_DIR, bench settings.
    target = ConveneTarget() if request.param == "convene" else BaselineTarget()
    with target:
        yield target


def test_every_acknowledged_message_reaches_every_receiver_once_and_in_order(target: Target) -> None:
    with LoadGenerator(target.clients(LAYOUT), workers=2) as generator:
        connected = connect_summary(generator.connect())
        records, _ = generator.run_phase(PHASE)
    deliveries = delivery_summary(records)

    assert connected["established"] == LAYOUT.connections, connected["failure_kinds"]
    assert deliveries["messages_sent"] == deliveries["messages_acked"] == MESSAGES
    assert deliveries["deliveries_expected"] == MESSAGES * LAYOUT.connections
    assert deliveries["deliveries_received"] == deliveries["deliveries_expected"]
    assert (deliveries["lost"], deliveries["duplicates"], deliveries["out_of_order"]) == (0, 0, 0)
    assert (deliveries["mismatched"], deliveries["seq_conflicts"], deliveries["unexpected"]) == (0, 0, 0)
    assert deliveries["latency_ms"]["count"] == deliveries["deliveries_received"]
    assert is_clean(deliveries)


def test_the_checker_sees_loss_duplicates_and_disorder() -> None:
    sends = {f"c0.1.{n}": Send(room=7, t_due=0.0, t_sent=0.0, t_ack=0.001, seq=n) for n in (1, 2, 3)}

    def receiver(index: int, seqs: list[int]) -> ClientRecord:
        return ClientRecord(index=index, state=ClientState.OPEN, rooms=(7,),
                            deliveries=[(7, seq, f"c0.1.{seq}", 0.01) for seq in seqs])

    records = [ClientRecord(index=0, state=ClientState.OPEN, rooms=(7,), sends=sends,
                            deliveries=[(7, 1, "c0.1.1", 0.01), (7, 2, "c0.1.2", 0.01), (7, 3, "c0.1.3", 0.01)]),
               receiver(1, [1, 3]),          # lost 2
               receiver(2, [1, 2, 2, 3]),    # 2 twice
               receiver(3, [2, 1, 3])]       # out of order
    deliveries = delivery_summary(records)

    assert deliveries["deliveries_expected"] == 12
    assert deliveries["lost"] == 1
    assert deliveries["duplicates"] == 1
    assert deliveries["out_of_order"] == 2   # the repeated 2, and 1 after 2
    assert deliveries["receivers_with_loss"] == 1
    assert not is_clean(deliveries)


def test_the_live_viewers_scenario_measures_the_app_and_the_cache_in_front() -> None:
    """bench/scenarios/live_viewers.py at a tiny size: a live stream, viewers of both kinds, from the app and
    through nginx; every phase fetched media without errors, and the cache kept most requests off the app."""
    from bench.scenarios.live_viewers import markdown, run_cases

    result = run_cases(viewers=6, seconds=2.0, workers=1)
    phases = {(p["via"], p["latency"]): p for p in result["phases"]}
    assert set(phases) == {("app", "standard"), ("app", "low"), ("nginx", "standard"), ("nginx", "low")}
    for found in phases.values():
        assert found["fetches"] > 0 and found["errors"] == 0, found
        assert found["fetch_ms"]["count"] == found["fetches"] and found["cpu"]["cpu_s"] >= 0
    low = phases[("nginx", "low")]
    assert low["origin_requests"] < low["fetches"] + low["playlists"]   # viewers share what the cache fetched once
    assert "| nginx | low |" in markdown(result)
