"""Results folders: written atomically, self-describing, refused when tampered with."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import ResultsError, UsageError, load_results, load_scenario, run_batch
from simulator.model import MONTH_OUTPUTS, RUN_OUTPUTS, YEAR_OUTPUTS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def batch():
    return run_batch(load_scenario(ROOT / "scenarios" / "annual.toml"), runs=15, seed=8, workers=1)


def test_a_saved_folder_loads_back_identically(batch, tmp_path):
    folder = batch.save(tmp_path / "annual")
    loaded = load_results(folder)
    pd.testing.assert_frame_equal(batch.runs, loaded.runs, check_exact=True)
    pd.testing.assert_frame_equal(batch.years, loaded.years, check_exact=True)
    pd.testing.assert_frame_equal(batch.bands, loaded.bands, check_exact=True)
    assert loaded.scenario == batch.scenario
    assert loaded.seed == 8


def test_tables_have_the_documented_columns(batch):
    assert list(batch.runs.columns) == ["run", *RUN_OUTPUTS]
    assert list(batch.years.columns) == ["run", "fiscal_year", *YEAR_OUTPUTS]
    assert set(batch.bands["metric"]) == set(MONTH_OUTPUTS)
    assert {"month", "p5", "p25", "p50", "p75", "p95", "mean"} <= set(batch.bands.columns)
    assert batch.runs["disruptions_total"].dtype.kind == "i"


def test_manifest_records_what_a_reviewer_needs(batch, tmp_path):
    folder = batch.save(tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["scenario_name"] == "annual"
    assert manifest["seed"] == 8 and manifest["runs"] == 15
    assert manifest["scenario_sha256"] == batch.scenario.sha256()
    assert {"runs.parquet", "years.parquet", "bands.parquet", "scenario.toml"} <= set(manifest["files"])
    assert {"python", "numpy", "simpy", "fundsim"} <= set(manifest["versions"])
    assert load_scenario(folder / "scenario.toml") == batch.scenario


def test_an_existing_folder_is_not_replaced_without_force(batch, tmp_path):
    folder = batch.save(tmp_path / "x")
    before = (folder / "runs.parquet").read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        batch.save(folder)
    assert (folder / "runs.parquet").read_bytes() == before
    batch.save(folder, force=True)
    assert not list(tmp_path.glob(".*partial"))


def test_a_folder_whose_files_do_not_match_the_manifest_is_refused(batch, tmp_path):
    folder = batch.save(tmp_path / "t")
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.loc[0, "disruptions_total"] += 1
    runs.to_parquet(folder / "runs.parquet", index=False)
    with pytest.raises(ResultsError, match=r"runs\.parquet does not match its manifest"):
        load_results(folder)


def test_missing_folder_or_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(ResultsError, match="no such directory"):
        load_results(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResultsError, match=r"manifest\.json is missing"):
        load_results(tmp_path / "empty")


@pytest.mark.parametrize("change, message", [
    ({"files": ["runs.parquet"]}, r"files is a list, not a dict"),
    ({"seed": "7"}, r"seed is a str, not a int"),
    ({"seed": -1}, r"seed -1"),
    ({"runs": True}, r"runs is a bool, not a int"),
    ({"scenario": None}, r"scenario is a NoneType, not a dict"),
    ({"files": {"runs.parquet": 5}}, r"files must map names to sha256"),
])
def test_a_manifest_with_fields_of_the_wrong_kind_is_refused_not_a_crash(batch, tmp_path, change,
                                                                          message):
    """Issue 13: a manifest whose `files` is a list ended in "internal error" (TypeError)."""
    folder = batch.save(tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(change)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=rf"manifest\.json is unreadable \({message}"):
        load_results(folder)


@pytest.mark.parametrize("text", ["[1, 2]", "null", "{", "[" * 100_000])
def test_a_manifest_that_is_not_an_object_is_refused(batch, tmp_path, text):
    folder = batch.save(tmp_path / "m")
    (folder / "manifest.json").write_text(text)
    with pytest.raises(ResultsError, match=r"manifest\.json is unreadable"):
        load_results(folder)


def test_years_that_do_not_match_the_run_count_are_refused_even_when_rehashed(batch, tmp_path):
    import hashlib

    folder = batch.save(tmp_path / "y")
    years = pd.read_parquet(folder / "years.parquet")
    years[years["fiscal_year"] != 6].to_parquet(folder / "years.parquet", index=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["years.parquet"] = hashlib.sha256((folder / "years.parquet").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=r"years\.parquet does not hold one row per run and fiscal "
                                           r"year \(15 runs x 6 years\)"):
        load_results(folder)


def test_a_data_file_that_is_not_parquet_is_refused(batch, tmp_path):
    import hashlib

    folder = batch.save(tmp_path / "p")
    (folder / "runs.parquet").write_bytes(b"not parquet")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["runs.parquet"] = hashlib.sha256(b"not parquet").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=r"runs\.parquet: cannot be read as a results table"):
        load_results(folder)


def test_save_writes_a_manifest_that_says_fundsim_wrote_it_and_keeps_no_lock(batch, tmp_path):
    folder = batch.save(tmp_path / "w")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["written_by"] == "fundsim" and manifest["status"] == "complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]


def test_save_refuses_to_replace_a_folder_fundsim_did_not_write(batch, tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("keep")
    with pytest.raises(UsageError, match="replaces only a fundsim results folder"):
        batch.save(theirs, force=True)
    assert (theirs / "notes.txt").read_text() == "keep"


def test_arrow_columns_round_trip_without_pandas_conversions():
    """`fundsim run` passes columns to pyarrow as buffers (pyarrow's own conversions import pandas):
    what goes in comes back bit for bit, slices and strings included."""
    import pyarrow as pa

    from simulator.results import arrow_array, arrow_table, numpy_column

    floats = np.array([0.1, -0.0, np.nan, 1e300, 5.0])
    ints = np.arange(-2, 3, dtype=np.int64)
    schema = pa.schema([("f", pa.float64()), ("i", pa.int64()), ("s", pa.string())])
    table = arrow_table({"f": floats, "i": ints, "s": ["a", "ä", "", "xyz", "b"]}, schema)
    expected = pa.table({"f": floats, "i": ints, "s": ["a", "ä", "", "xyz", "b"]})
    assert table.schema == expected.schema
    assert table.select(["i", "s"]).equals(expected.select(["i", "s"]))  # (NaN != NaN for "f")
    assert numpy_column(table.column("f")).tobytes() == floats.tobytes()
    sliced = pa.chunked_array([arrow_array(ints).slice(1, 3), arrow_array(ints[::2].copy())])
    np.testing.assert_array_equal(numpy_column(sliced), [-1, 0, 1, -2, 0, 2])
    assert numpy_column(table.column("s")).tolist() == ["a", "ä", "", "xyz", "b"]
    with_nulls = pa.chunked_array([pa.array([1.0, None])])
    assert np.isnan(numpy_column(with_nulls)[1])


@pytest.mark.parametrize("shape", [(1, 72), (9, 5), (1000, 72), (3001, 13), (2, 1)])
def test_band_quantiles_are_numpys_over_runs_bit_for_bit_slab_by_slab(monkeypatch, shape):
    """The bands take each month's quantiles from a contiguous copy of a few months at a time
    (results._quantiles_by_month); they must be `np.quantile` over the runs axis exactly, whatever
    the slab (here also one or three months a slab), with ties and NaN runs."""
    from simulator import results

    rng = np.random.default_rng(sum(shape))
    data = rng.normal(size=shape)
    data[::4, 0] = np.nan
    data[:, -1] = 2.5  # every run the same
    expected = np.quantile(data, results.BAND_QUANTILES, axis=0)
    for slab_months in (None, 1, 3):
        if slab_months:
            monkeypatch.setattr(results, "_SLAB_BYTES", slab_months * 8 * shape[0])
        before = data.copy()
        got = results._quantiles_by_month(data)
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.array_equal(data, before, equal_nan=True)  # the block is left as it was
