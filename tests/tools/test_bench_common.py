"""The benchmark's statistics and table helpers (tools/bench/common.py); no Docker needed."""

import pytest

from tools.bench.common import FigureResult, Row, Target, markdown_table, percentile, summarize
from tools.bench.rebuild import OLD_PIN, PIN_BLOCK


def test_percentile_interpolates_like_numpy_linear():
    samples = [4.0, 1.0, 3.0, 2.0]  # unsorted on purpose
    assert percentile(samples, 0) == 1.0
    assert percentile(samples, 100) == 4.0
    assert percentile(samples, 50) == pytest.approx(2.5)
    assert percentile(samples, 95) == pytest.approx(3.85)  # rank 2.85 between 3 and 4


def test_percentile_of_one_sample_is_that_sample():
    assert percentile([0.7], 95) == 0.7


@pytest.mark.parametrize("q", [-1, 101])
def test_percentile_rejects_out_of_range(q):
    with pytest.raises(ValueError, match=r"within 0\.\.100"):
        percentile([1.0], q)


def test_percentile_rejects_no_samples():
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_summary():
    s = summarize([0.3, 0.1, 0.2, 0.9, 0.5])
    assert (s.n, s.min, s.median, s.max) == (5, 0.1, 0.3, 0.9)
    assert s.p95 == pytest.approx(0.82)
    assert s.p99 == pytest.approx(0.884)


def test_targets_compare_the_named_statistic():
    s = summarize([0.4, 0.5, 1.2])
    assert Target("median", "<=", 0.5).met(s)
    assert not Target("p95", "<=", 1.0).met(s)
    assert Target("min", ">=", 0.4).met(s)


def test_table_marks_missed_targets_and_skipped_rows():
    figure = FigureResult("reload", "Hot reload", number=1)
    figure.rows = [
        Row("reload", "fast", "s", [0.2, 0.3], [Target("median", "<=", 0.5, "s")]),
        Row("reload", "slow", "s", [2.0], [Target("median", "<=", 0.5, "s")]),
        Row("reload", "attached", "s", skipped="n/a: no client"),
    ]
    lines = markdown_table([figure]).splitlines()
    assert lines[2].startswith("| 1 reload | fast | s | 2 | 0.200 | 0.250 |")
    assert lines[2].endswith("| median <= 0.5 s | yes |")
    assert lines[3].endswith("| **no** |")
    assert "n/a: no client" in lines[4]


def test_pin_change_matches_the_lock_file():
    from tools.harness.project import ROOT

    text = (ROOT / "requirements.txt").read_text()
    changed = PIN_BLOCK.sub(OLD_PIN, text, count=1)
    assert changed != text
    assert "blinker==1.8.2" in changed
    assert "blinker==1.9.0" not in changed
    # Only the blinker block changed: every other line is still there.
    assert len(changed.splitlines()) == len(text.splitlines()) - 1


def test_docker_stats_line_gives_cores_and_mib():
    from tools.bench.resources import parse_stats

    assert parse_stats("135.20% 57.3MiB / 23.47GiB") == pytest.approx((1.352, 57.3))
    assert parse_stats("0.05% 1.5GiB / 2GiB") == pytest.approx((0.0005, 1536))
    assert parse_stats("1.00% 512KiB / 1GiB") == pytest.approx((0.01, 0.5))


@pytest.mark.parametrize("line", ["", "--% -- / --", "12% 3XB / 4GiB"])
def test_docker_stats_line_rejects_what_it_cannot_read(line):
    from tools.bench.resources import parse_stats

    with pytest.raises(ValueError, match="unexpected docker stats line"):
        parse_stats(line)


WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/api/notes
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    20.84ms   10.57ms 120.30ms   79.88%
    Req/Sec   411.28     51.80   510.00     70.00%
  Latency Distribution
     50%   19.66ms
     75%   24.01ms
     90%   31.05ms
     99%    1.07s
  4110 requests in 5.00s, 5.03MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    821.93
Transfer/sec:      1.01MB
"""


def test_wrk_output_gives_rate_latencies_and_errors():
    from tools.bench.load import parse_wrk

    assert parse_wrk(WRK_OUTPUT) == {
        "rate": 821.93,
        "p50_ms": 19.66,
        "p99_ms": 1070.0,
        "errors": 7,
    }
    with pytest.raises(ValueError, match="Requests/sec"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_the_cost_of_logs_and_metrics_pairs_the_rounds_run_side_by_side():
    from tools.bench.load import PROD, QUIET, cost_rows

    def runs(*pairs):
        return [
            {"rate": rate, "p99_ms": p99, "light": {"p99_ms": light}} for rate, p99, light in pairs
        ]

    results = {
        PROD: runs((900, 40.0, 2.0), (450, 90.0, 5.0)),
        QUIET: runs((1000, 36.0, 1.0), (500, 81.0, 1.0)),
    }
    ratio, added, loaded = cost_rows("load", "GET /api/notes, 1k notes", results)
    assert ratio.samples == [0.9, 0.9]  # round i with round i: a slow round weighs on both
    assert added.samples == [1.0, 4.0]  # the light runs' p99
    assert loaded.samples == [4.0, 9.0]  # the loaded runs' p99: shown, not held to a target
    assert [met for _, met in ratio.verdicts()] == [True]  # median 0.9: 10 % lost at most
    assert [met for _, met in added.verdicts()] == [False]  # median 2.5 ms: over 2 ms
    assert loaded.verdicts() == []


def test_the_options_the_docs_give_are_accepted():
    from tools.bench.__main__ import parse_args

    args = parse_args(["reload", "day", "--plots", "docs/figures", "--json", "out.json"])
    assert (args.figures, args.plots, args.json) == (["reload", "day"], "docs/figures", "out.json")
    assert parse_args([]).plots is None
