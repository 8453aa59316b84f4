"""Statistics for readers: t intervals by hand, paired comparisons matched by `run`."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simulator.analysis import MAIN_METRICS, compare_runs, describe, mean_ci, paired_comparison, summary_table


def test_mean_ci_matches_a_hand_computation_with_student_t():
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    n = values.size
    mean = values.sum() / n
    sd = math.sqrt(((values - mean) ** 2).sum() / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    assert mean_ci(values) == pytest.approx((mean, mean - half, mean + half), rel=1e-12)
    assert half == pytest.approx(2.776445105 * sd / math.sqrt(5), rel=1e-9)  # t(0.975, 4), from tables


def test_mean_ci_at_another_level():
    values = np.arange(30.0) ** 1.5
    mean, lo, hi = mean_ci(values, level=0.9)
    half = stats.t.ppf(0.95, 29) * values.std(ddof=1) / math.sqrt(30)
    assert (lo, hi) == pytest.approx((mean - half, mean + half), rel=1e-12)


def test_mean_ci_ignores_nan():
    assert mean_ci(np.array([1.0, np.nan, 3.0])) == pytest.approx(mean_ci(np.array([1.0, 3.0])))


def test_mean_ci_of_one_value_has_no_interval_and_of_none_has_no_mean():
    mean, lo, hi = mean_ci(np.array([4.0]))
    assert mean == 4.0 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in mean_ci(np.array([])))


def test_mean_ci_of_constant_values_is_a_point():
    assert mean_ci(np.full(10, 2.5)) == (2.5, 2.5, 2.5)


def test_describe_gives_mean_and_5_50_95_percentiles():
    values = np.arange(101.0)
    assert describe(values) == {"mean": 50.0, "p5": 5.0, "p50": 50.0, "p95": 95.0}
    assert all(math.isnan(v) for v in describe(np.array([np.nan])).values())


def _frames(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    shared = rng.normal(100, 20, n)  # the noise both scenarios share under common random numbers
    a = pd.DataFrame({"run": np.arange(n), "x": shared, "y": rng.integers(0, 5, n)})
    b = pd.DataFrame({"run": np.arange(n), "x": shared + 3 + rng.normal(0, 1, n), "y": rng.integers(0, 5, n)})
    return a, b


def test_paired_comparison_is_b_minus_a_run_by_run():
    a, b = _frames()
    result = paired_comparison(a, b, "x")
    diff = b["x"].to_numpy() - a["x"].to_numpy()
    mean, lo, hi = mean_ci(diff)
    assert result["paired_difference"] == pytest.approx({"mean": mean, "ci_low": lo, "ci_high": hi})
    assert result["a"] == pytest.approx(describe(a["x"].to_numpy()))
    assert result["b"] == pytest.approx(describe(b["x"].to_numpy()))
    # pairing removes the shared noise: the interval is far narrower than the spread of either side
    assert hi - lo < 1.0
    assert lo < 3 < hi


def _flat(report: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in report.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        elif not isinstance(value, str):
            out[f"{prefix}{key}"] = value
    return out


def test_paired_comparison_matches_by_run_not_by_row_order():
    a, b = _frames()
    shuffled = b.sample(frac=1.0, random_state=7).reset_index(drop=True)
    assert not shuffled["run"].equals(b["run"])
    for metric in ("x", "y"):
        expected = _flat(paired_comparison(a, b, metric))
        assert _flat(paired_comparison(a, shuffled, metric)) == pytest.approx(expected, rel=1e-12)
        assert _flat(paired_comparison(a.iloc[::-1], shuffled, metric)) == pytest.approx(expected, rel=1e-12)
    # pairing by position instead would give a very different (and wide) interval
    by_position = shuffled["x"].to_numpy() - a["x"].to_numpy()
    assert mean_ci(by_position)[2] - mean_ci(by_position)[1] > 5


def test_paired_comparison_uses_only_runs_both_frames_have():
    a = pd.DataFrame({"run": [0, 1, 2, 3], "x": [1.0, 2.0, 3.0, 4.0]})
    b = pd.DataFrame({"run": [2, 3, 4, 5], "x": [5.0, 5.0, 100.0, 100.0]})
    result = paired_comparison(a, b, "x")
    assert result["paired_difference"]["mean"] == pytest.approx(((5 - 3) + (5 - 4)) / 2)
    assert result["a"]["mean"] == pytest.approx(3.5)  # runs 2 and 3 only
    assert compare_runs("a", a, "b", b, ("x",))["runs"] == 2


def test_prob_b_greater_counts_strictly_greater_runs_only():
    a = pd.DataFrame({"run": range(5), "x": [1.0, 1.0, 1.0, 1.0, 1.0]})
    b = pd.DataFrame({"run": range(5), "x": [2.0, 1.0, 1.0, 0.0, 3.0]})  # greater, tie, tie, less, greater
    assert paired_comparison(a, b, "x")["prob_b_greater"] == pytest.approx(0.4)
    assert paired_comparison(a, a, "x")["prob_b_greater"] == 0.0


def test_prob_b_greater_leaves_out_runs_where_a_value_is_missing():
    a = pd.DataFrame({"run": range(4), "x": [1.0, 1.0, np.nan, 1.0]})
    b = pd.DataFrame({"run": range(4), "x": [2.0, 0.0, 5.0, 2.0]})
    assert paired_comparison(a, b, "x")["prob_b_greater"] == pytest.approx(2 / 3)


def test_compare_runs_has_the_compare_json_structure():
    a, b = _frames(50)
    report = compare_runs("annual", a, "three_year", b, ("x", "y"))
    assert list(report) == ["a", "b", "runs", "metrics"]
    assert report["a"] == "annual" and report["b"] == "three_year" and report["runs"] == 50
    assert [m["metric"] for m in report["metrics"]] == ["x", "y"]
    for m in report["metrics"]:
        assert set(m) == {"metric", "a", "b", "paired_difference", "prob_b_greater"}
        assert set(m["a"]) == set(m["b"]) == {"mean", "p5", "p50", "p95"}
        assert set(m["paired_difference"]) == {"mean", "ci_low", "ci_high"}
        assert all(isinstance(v, float) for v in (*m["a"].values(), *m["paired_difference"].values()))
        assert 0.0 <= m["prob_b_greater"] <= 1.0
    assert isinstance(report["runs"], int)


def test_summary_table_has_one_row_per_metric_with_interval():
    a, _ = _frames(30)
    table = summary_table(a, ("x", "y"))
    assert list(table["metric"]) == ["x", "y"]
    assert set(table.columns) == {"metric", "mean", "p5", "p50", "p95", "ci_low", "ci_high"}
    assert table.loc[0, "ci_low"] == pytest.approx(mean_ci(a["x"].to_numpy())[1])


def test_main_metrics_are_per_run_outputs():
    from simulator.model import RUN_OUTPUTS

    assert set(MAIN_METRICS) <= set(RUN_OUTPUTS)


def test_a_name_ending_in_s_takes_the_apostrophe_alone():
    from simulator.analysis import possessive

    assert possessive("annual") == "annual's"
    assert possessive("annual with three-year core settlements") == (
        "annual with three-year core settlements'")
