"""The benchmark's load generator at tiny sizes, against a real Convene server and the baseline.

These tests check the generator's own bookkeeping (every acknowledged message
reaches every receiver exactly once, in seq order), not speed: no timings are
asserted. The last test feeds the checker broken records, so a clean result
above cannot come from a checker that sees nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.analysis import connect_summary, delivery_summary, is_clean
from bench.generator import ClientRecord, ClientState, LoadGenerator, Phase, Send
from bench.scenarios.common import RunOptions
from bench.sizes import Sizes
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


def test_pin_keeps_every_thread_of_a_process_on_the_cpu_given() -> None:
    """bench/procstat.py pin(): a server's threads that exist already (SQLite's, the executor's) move too."""
    from bench.procstat import pin

    code = "import threading, time; threading.Thread(target=time.sleep, args=(30,)).start(); print(1, flush=True); " \
           "time.sleep(30)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline()
        threads = [int(task.name) for task in Path(f"/proc/{proc.pid}/task").iterdir()]
        cpu = max(os.sched_getaffinity(0))
        pin([proc.pid], {cpu})
        assert len(threads) == 2
        assert all(os.sched_getaffinity(tid) == {cpu} for tid in threads)
    finally:
        proc.kill()
        proc.wait()


# The send-path scenarios at a tiny size: every target of the full run, one search step each.
TINY = Sizes(mode="smoke", many_rooms=2, many_members=3, sendpath_rate=6.0, sendpath_duration_s=1.0,
             pglatency_rate=6.0, pglatency_duration_s=1.0, many_search_start_rate=6.0,
             scaleout_steps=1, scaleout_refine=0, scaleout_step_s=1.0, attempts=1)
STEADY = {"send-path": {"embedded_full", "embedded_normal", "postgres_x1", "postgres_x2", "baseline"},
          "postgres-latency": {"postgres_x2", "baseline"}}
SEARCHED = {"send-path": {"search_full", "search_normal"}, "postgres-latency": {"search_x1", "search_x2"}}


@pytest.mark.parametrize("scenario", ["send-path", "postgres-latency"])
def test_the_send_path_scenarios_check_every_delivery_on_every_target(
        scenario: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/scenarios/send_path.py: each backend (embedded with the sync on and off, Postgres + Redis with
    one and two processes) and the baseline carry a steady phase with every delivery checked, CPU per
    stored message is computed, the searches run, and the section and its targets render."""
    from bench import report
    from bench.scenarios import SCENARIOS, common

    monkeypatch.setattr(common, "settle", lambda seconds=1.0: None)
    result = SCENARIOS[scenario](TINY, RunOptions(workers=1, quiet_wait_s=0.0, out_dir=tmp_path))

    assert set(result["steady"]) == STEADY[scenario] and set(result["search"]) == SEARCHED[scenario]
    for name, run in result["steady"].items():
        d = run["deliveries"]
        assert run["clean"] and d["receivers_closed"] == 0, (name, d)
        assert d["messages_acked"] == d["messages_sent"] == 6, (name, d)
        assert d["deliveries_received"] == d["deliveries_expected"] == 6 * TINY.many_members, (name, d)
        assert run["cpu_per_message_ms"] is not None
        if len(os.sched_getaffinity(0)) >= 2:
            assert run["pinned"] == {"server_cpu": min(os.sched_getaffinity(0)),
                                     "generator_cpu": sorted(os.sched_getaffinity(0))[1]}
    if scenario == "send-path":
        for sync in ("full", "normal"):
            for name in (f"embedded_{sync}", f"search_{sync}"):
                run = result["steady"].get(name) or result["search"][name]
                assert run["target"]["settings"] == {"SQLITE_SYNCHRONOUS": sync}
    for name, search in result["search"].items():
        assert [step["passed"] for step in search["steps"]] == [True], (name, search["steps"])
        assert search["max_sustained_messages_per_s"] == 6.0
    # A tiny run decides no target, but every one is there with its figure.
    assert result["targets"] and all(t["met"] is None and t["value"] for t in result["targets"])
    section = "\n".join(report._scenario_section(scenario, result))
    assert "server CPU per stored message (ms)" in section
    assert all(f"| {name} |" in section for name in SEARCHED[scenario])


def test_the_connect_scenario_measures_convene_and_the_baseline_at_a_tiny_size(tmp_path) -> None:
    """bench/scenarios/connect.py `connect`: every socket connected, hello'd and subscribed, twice, on both."""
    import dataclasses

    from bench.scenarios.common import RunOptions
    from bench.scenarios.connect import connect
    from bench.sizes import QUICK

    result = connect(dataclasses.replace(QUICK, connect_sockets=20),
                     RunOptions(workers=1, quiet_wait_s=0.0, out_dir=tmp_path))
    for name in ("convene", "baseline"):
        for round_ in ("first", "again"):
            assert result[name][round_]["established"] == 20 and result[name][round_]["failed"] == 0
        assert result[name]["server_cpu_ms_per_connect"] >= 0
    assert result["targets"][0]["met"] in (True, False)


def test_the_reconnect_storm_resumes_every_socket_with_nothing_lost_at_a_tiny_size(tmp_path) -> None:
    """bench/scenarios/connect.py `reconnect-storm`: every receiver dropped mid-phase and resumed from its last
    seq while the senders go on; Convene's deliveries are checked across the storm."""
    import dataclasses

    from bench.scenarios.common import RunOptions
    from bench.scenarios.connect import reconnect_storm
    from bench.sizes import QUICK

    result = reconnect_storm(dataclasses.replace(QUICK, storm_sockets=30, storm_rate=4.0, storm_duration_s=3.0),
                             RunOptions(workers=1, quiet_wait_s=0.0, out_dir=tmp_path))
    convene = result["convene"]
    assert convene["storm_s"] is not None and result["baseline"]["storm_s"] is not None
    d = convene["deliveries"]
    assert d["messages_acked"] == d["messages_sent"] == 3 * 12
    assert d["deliveries_received"] == d["deliveries_expected"] > 0
    assert (d["lost"], d["duplicates"], d["out_of_order"]) == (0, 0, 0) and convene["clean"]


def test_the_steady_tool_runs_one_target_and_prints_its_figures(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/steady.py, the A/B tool: one steady phase of the send-path layout on the target named,
    with the settings given, every delivery checked."""
    import json

    from bench import steady
    from bench.scenarios import common

    monkeypatch.setattr(common, "settle", lambda seconds=1.0: None)
    steady.main(["embedded", "--quick", "--rate", "20", "--seconds", "1", "--quiet-wait", "0", "--env", "SEND_BATCH_MAX=1"])
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["target"] == "embedded" and printed["settings"] == ["SEND_BATCH_MAX=1"]
    assert (printed["lost"], printed["duplicates"], printed["out_of_order"]) == (0, 0, 0)
    assert printed["cpu_per_message_ms"] is not None and printed["latency_ms"]["p99"] is not None
