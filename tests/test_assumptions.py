"""The key assumptions and the interval labels: one list, in one place, that the report and the
dashboard both show (the report and dashboard tests check each shows all of it)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from simulator import assumptions

ROOT = Path(__file__).resolve().parent.parent


def test_the_list_is_short_and_plain():
    assert 6 <= len(assumptions.KEY_ASSUMPTIONS) <= 8
    for line in assumptions.KEY_ASSUMPTIONS:
        assert len(line.split()) <= 26, line
        assert line[0].isupper() and line.endswith("."), line


def test_it_points_to_the_documents_that_argue_it():
    paths = [path for path, _ in assumptions.READ_MORE]
    assert paths[0] == "docs/model.md" and "docs/calibration.md" in paths
    assert (ROOT / "docs" / "model.md").is_file()
    model = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    for section in ("Known simplifications and open questions", "Calibration a reviewer should challenge"):
        assert f"## {section}" in model and section in assumptions.READ_MORE[0][1]
    assert [line.split(" (")[0] for line in assumptions.read_more_lines()] == [
        f"Read more in {path}" for path in paths]


def test_the_words_stand_in_one_module_only():
    """Report and dashboard import the list; no other source file repeats a sentence of it."""
    sources = [p for p in ROOT.glob("**/*.py")
               if ".venv" not in p.parts and p.name != "test_assumptions.py"]
    for line in (*assumptions.KEY_ASSUMPTIONS, assumptions.INTERVALS_NOTE):
        fragment = line[:40]
        holders = {p.relative_to(ROOT).as_posix() for p in sources
                   if fragment in p.read_text(encoding="utf-8")}
        assert holders == {"simulator/assumptions.py"}, (fragment, holders)
    for user in ("simulator/report.py", "dashboard_pages/common.py"):
        text = (ROOT / user).read_text(encoding="utf-8")
        assert "assumptions.KEY_ASSUMPTIONS" in text and "assumptions.label_intervals" in text, user


def test_interval_columns_are_named_for_what_they_are():
    frame = pd.DataFrame(columns=["output", "a: mean", "a: 95% CI of mean", "a: 5th-95th pct",
                                  "x: y: 5th-95th pct", "95% CI of mean", "verdict"])
    assert list(assumptions.label_intervals(frame).columns) == [
        "output", "a: mean", "a: 95% CI of mean (Monte Carlo precision)",
        "a: runs' spread, 5-95% (what could happen)",
        "x: y: runs' spread, 5-95% (what could happen)",
        "95% CI of mean (Monte Carlo precision)", "verdict"]
    assert "Monte Carlo precision" in assumptions.INTERVALS_NOTE
    assert "what could happen" in assumptions.INTERVALS_NOTE
