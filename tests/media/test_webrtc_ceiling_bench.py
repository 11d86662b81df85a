"""The WebRTC ceiling benchmark (bench/scenarios/webrtc_ceiling.py) at a smoke size: it runs, pins, measures and reports.

No timing is asserted: the full run is the lead's to make when nothing else runs (docs/performance.md).
"""

from __future__ import annotations

from bench.report import _scenario_section
from bench.scenarios import SCENARIOS
from bench.scenarios.webrtc_ceiling import markdown, summarize, targets
from tests.support.netns import run_scenario


def test_two_viewers_on_the_other_core_get_everything_and_the_table_renders():
    result = run_scenario("bench.scenarios.webrtc_ceiling", "measure", "smoke", timeout=180)
    assert SCENARIOS["webrtc-ceiling"]
    # The server alone on core 0 (its packager with it), the publisher and the viewers on core 1.
    assert result["affinity"] == {"server": [0], "viewers": [1], "publisher": [1]}
    assert [step["viewers"] for step in result["steps"]] == [1, 2]
    for step in result["steps"]:
        assert step["full_rate"] and step["video_fps_min"] >= 27 and step["audio_fps_min"] >= 45, step
        assert step["server_cpu"] > 0 and step["viewers_cpu"] > 0, step
    assert result["ceiling"]["last_full_rate"] == 2 and result["ceiling"]["degraded_at"] is None
    table = markdown(result)
    assert table.count("\n| ") == 4 and "core 0" in table   # header, idle and two steps
    assert _scenario_section("webrtc-ceiling", result)[0] == table


def test_the_summary_finds_the_slope_and_where_delivery_degraded():
    idle = {"server_cpu": 0.05}
    steps = [{"viewers": n, "server_cpu": 0.05 + 0.01 * n, "full_rate": n <= 40,
              "bound": None if n <= 40 else "the server's core"} for n in (10, 20, 40, 80)]
    ceiling = summarize(idle, steps)
    assert ceiling == {"cpu_per_viewer": 0.01, "viewers_per_core": 95, "last_full_rate": 40, "degraded_at": 80,
                       "limited_by": "the server's core"}
    (target,) = targets({"ceiling": ceiling})
    assert target["value"].startswith("95 by extrapolation (1.00 % of a core each); delivery degraded at 80")
