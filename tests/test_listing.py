"""Results folders as a reader expects them: finished results oldest first, a sweep shown as its
points (never as a result), unfinished and hidden folders left out."""

from __future__ import annotations

import json
import os
from pathlib import Path

from simulator.cli import main
from simulator.listing import is_sweep, newest_pair, results_entries, sweep_message

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = ROOT / "scenarios" / "annual.toml"
MODE = "funding.streams.core.confirmation_delay_months.mode"


def _touch_manifest(folder: Path, ns: int) -> None:
    os.utime(folder / "manifest.json", ns=(ns, ns))


def test_a_sweep_is_listed_as_its_points_and_the_newest_pair_is_the_default(tmp_path):
    assert main(["run", str(ANNUAL), "--runs", "4", "--workers", "1", "--quiet",
                 "--out", str(tmp_path / "demo")]) == 0
    assert main(["sweep", str(ANNUAL), "--vary", f"{MODE}=0:4:3", "--runs", "4", "--workers", "1",
                 "--quiet", "--out", str(tmp_path)]) == 0
    (tmp_path / "old.partial").mkdir()
    (tmp_path / "old.partial" / "manifest.json").write_text(json.dumps({"status": "partial"}))
    # written in this order: the run, then the sweep's three points
    for i, folder in enumerate([tmp_path / "demo" / "annual",
                                *sorted((tmp_path / "annual-sweep" / "points").iterdir())]):
        _touch_manifest(folder, 10**18 + i)
    entries = results_entries(tmp_path)
    assert [e.label for e in entries] == [
        "demo/annual", "annual-sweep/p0000 (confirmation_delay_months.mode = 0)",
        "annual-sweep/p0001 (confirmation_delay_months.mode = 2)",
        "annual-sweep/p0002 (confirmation_delay_months.mode = 4)"]
    assert all((e.folder / "runs.parquet").is_file() for e in entries)
    assert [e.label.split(" ")[0] for e in newest_pair(entries)] == [
        "annual-sweep/p0001", "annual-sweep/p0002"]
    assert is_sweep(tmp_path / "annual-sweep") and not is_sweep(tmp_path / "demo" / "annual")
    message = sweep_message(tmp_path / "annual-sweep")
    assert "is a sweep of 3 points over confirmation_delay_months.mode" in message


def test_an_empty_or_missing_folder_lists_nothing(tmp_path):
    assert results_entries(tmp_path) == [] and results_entries(tmp_path / "missing") == []
    assert newest_pair([]) == []
