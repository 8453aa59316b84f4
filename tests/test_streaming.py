"""The chunk store: chunks become visible only when whole, a stopped batch resumes to the same
bits, a wrong resume is refused, and a full disk keeps finished work (a real ENOSPC from /dev/full)."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulator import ResultsError, UsageError, load_results, load_scenario, run_batch, streaming
from simulator.errors import RunError
from simulator.runner import chunk_bounds, simulate_chunk
from simulator.streaming import ChunkStore, partial_folder

ROOT = Path(__file__).resolve().parent.parent
ANNUAL = load_scenario(ROOT / "scenarios" / "annual.toml")
RUNS, SEED, SIZE = 30, 7, 8
PLAN = {"runs": RUNS, "chunk_size": SIZE, "target": None}


def _store(folder: Path, resume: bool = False, plan=PLAN, seed=SEED, scenario=ANNUAL,
           force: bool = False) -> ChunkStore:
    return ChunkStore.open(folder, scenario, seed, dict(plan), resume=resume, force=force)


def _fill(store: ChunkStore, bounds) -> None:
    for start, stop in bounds:
        store.add(simulate_chunk(store.scenario, store.seed, start, stop))


@pytest.fixture(scope="module")
def reference():
    return run_batch(ANNUAL, runs=RUNS, seed=SEED, workers=1)


def _assert_same(folder: Path, reference) -> None:
    loaded = load_results(folder)
    for table in ("runs", "years", "bands"):
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(reference, table), check_exact=True)


@pytest.mark.parametrize("size", [1, SIZE, RUNS])
def test_a_streamed_batch_equals_the_in_memory_batch_bit_for_bit(tmp_path, reference, size):
    store = _store(tmp_path / "annual", plan={**PLAN, "chunk_size": size})
    bounds = chunk_bounds(RUNS, size)
    _fill(store, reversed(bounds))  # finishing order must not matter
    folder = store.finish(RUNS, force=False)
    _assert_same(folder, reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["annual"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["chunk_size"] == size


def test_a_stopped_batch_resumes_running_only_what_is_missing(tmp_path, reference):
    bounds = chunk_bounds(RUNS, SIZE)
    _fill(_store(tmp_path / "annual"), bounds[:2])
    store = _store(tmp_path / "annual", resume=True)
    assert store.done() == dict(bounds[:2])
    assert store.missing(bounds) == bounds[2:]
    _fill(store, store.missing(bounds))
    _assert_same(store.finish(RUNS, force=False), reference)


def test_a_chunk_whose_file_changed_is_run_again_on_resume(tmp_path, reference):
    bounds = chunk_bounds(RUNS, SIZE)
    _fill(_store(tmp_path / "annual"), bounds)
    chunk_file = partial_folder(tmp_path / "annual") / "chunks" / "chunk-000000008.npys"
    chunk_file.write_bytes(chunk_file.read_bytes()[:-10])  # a torn write
    store = _store(tmp_path / "annual", resume=True)
    assert store.missing(bounds) == [bounds[1]]
    _fill(store, store.missing(bounds))
    _assert_same(store.finish(RUNS, force=False), reference)


def test_an_unfinished_batch_is_not_a_results_folder(tmp_path):
    _fill(_store(tmp_path / "annual"), chunk_bounds(RUNS, SIZE)[:1])
    with pytest.raises(ResultsError, match=r"an unfinished batch, not a results folder; .*--resume"):
        load_results(partial_folder(tmp_path / "annual"))
    with pytest.raises(ResultsError, match=r"runs 8-29 are missing"):
        _store(tmp_path / "annual", resume=True).finish(RUNS, force=False)


@pytest.mark.parametrize(("change", "message"), [
    ({"seed": 8}, r"was started with --seed 7, not 8"),
    ({"plan": {**PLAN, "runs": 40}}, r"was started with runs = 30, not 40"),
    ({"plan": {**PLAN, "chunk_size": 5}}, r"was started with chunk_size = 8, not 5"),
    ({"scenario": load_scenario(ROOT / "scenarios" / "three_year.toml")},
     r"was started from a different scenario"),
])
def test_resume_with_other_settings_is_refused(tmp_path, change, message):
    _fill(_store(tmp_path / "annual"), chunk_bounds(RUNS, SIZE)[:1])
    with pytest.raises(UsageError, match=message):
        _store(tmp_path / "annual", resume=True, **change)


def test_a_leftover_batch_needs_resume_or_force(tmp_path):
    _fill(_store(tmp_path / "annual"), chunk_bounds(RUNS, SIZE)[:1])
    with pytest.raises(UsageError, match=r"an unfinished batch is here; add --resume .* or --force"):
        _store(tmp_path / "annual")
    fresh = ChunkStore.open(tmp_path / "annual", ANNUAL, SEED, dict(PLAN), resume=False, force=True)
    assert fresh.done() == {}


def test_an_output_folder_that_cannot_exist_is_bad_input(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(UsageError, match=r"--out .*a-file: cannot write results there .*nothing was run"):
        _store(blocker / "annual")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full for a real ENOSPC")
def test_a_full_disk_keeps_finished_chunks_and_leaves_no_half_chunk(tmp_path, reference):
    """The chunk's temporary file is a link to /dev/full, so the kernel answers ENOSPC for real."""
    bounds = chunk_bounds(RUNS, SIZE)
    store = _store(tmp_path / "annual")
    _fill(store, bounds[:1])
    chunks = partial_folder(tmp_path / "annual") / "chunks"
    (chunks / ".chunk-000000008.npys.tmp").symlink_to("/dev/full")
    with pytest.raises(RunError, match=r"could not write results \(No space left on device\)\. "
                                       r"1 finished chunk\(s\) \(8 runs\) are kept .*--resume"):
        _fill(store, bounds[1:2])
    assert not list(chunks.glob("*-000000008.*")) and not list(chunks.glob(".*tmp"))
    store = _store(tmp_path / "annual", resume=True)
    assert store.done() == dict(bounds[:1])
    _fill(store, store.missing(bounds))
    _assert_same(store.finish(RUNS, force=False), reference)


def test_a_batch_stopped_after_assembly_but_before_the_rename_only_renames_on_resume(tmp_path, reference):
    bounds = chunk_bounds(RUNS, SIZE)
    store = _store(tmp_path / "annual")
    _fill(store, bounds)
    store.assemble(RUNS)  # a kill here leaves a complete folder under its .partial name
    assert not (tmp_path / "annual").exists()
    assert not (partial_folder(tmp_path / "annual") / "chunks").exists()
    again = _store(tmp_path / "annual", resume=True)
    assert again.assembled and again.missing(bounds) == []
    _assert_same(again.finish(RUNS, force=False), reference)


def test_a_batch_killed_before_its_first_manifest_starts_afresh_on_resume(tmp_path, reference):
    """A partial folder with no manifest lists no finished chunk: nothing to keep, nothing to trust."""
    stray = partial_folder(tmp_path / "annual") / "chunks"
    stray.mkdir(parents=True)
    (stray / "chunk-000000000.npys").write_bytes(b"half")
    store = _store(tmp_path / "annual", resume=True)
    assert store.done() == {} and not (stray / "chunk-000000000.npys").exists()
    _fill(store, chunk_bounds(RUNS, SIZE))
    _assert_same(store.finish(RUNS, force=False), reference)


def test_a_chunk_file_another_process_replaced_is_never_published(tmp_path):
    """What made issue 13's mixed folder: a second writer's chunk files under the first's manifest.
    Assembly checks every chunk against the digest this batch recorded when it wrote it."""
    bounds = chunk_bounds(RUNS, SIZE)
    store = _store(tmp_path / "annual")
    _fill(store, bounds)
    other = _store(tmp_path / "other", seed=SEED + 1)
    _fill(other, bounds[1:2])
    name = "chunk-000000008.npys"
    foreign = partial_folder(tmp_path / "other") / "chunks" / name
    (partial_folder(tmp_path / "annual") / "chunks" / name).write_bytes(foreign.read_bytes())
    with pytest.raises(ResultsError, match=rf"{name}: is not the chunk this batch wrote .*Nothing "
                                           r"was published"):
        store.finish(RUNS, force=False)
    assert not (tmp_path / "annual").exists()


@pytest.mark.parametrize("key, value", [("seed", SEED + 1), ("runs", RUNS - 1), ("batch", "x")])
def test_an_assembled_folder_that_disagrees_with_this_batch_is_not_published(tmp_path, key, value):
    store = _store(tmp_path / "annual")
    _fill(store, chunk_bounds(RUNS, SIZE))
    store.assemble(RUNS)
    path = partial_folder(tmp_path / "annual") / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest[key] = value
    path.write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=rf"manifest\.json says {key} = .*another process wrote "
                                           r"here\. Nothing was published"):
        store.publish(force=False)
    assert not (tmp_path / "annual").exists()


@pytest.mark.parametrize("name", ["bands.parquet", "scenario.toml"])
def test_an_assembled_data_file_changed_before_the_rename_is_not_published(tmp_path, name):
    """scenario.toml included: the store skips re-validating the one it wrote only when the file
    is still byte for byte that one."""
    store = _store(tmp_path / "annual")
    _fill(store, chunk_bounds(RUNS, SIZE))
    store.assemble(RUNS)
    (partial_folder(tmp_path / "annual") / name).write_bytes(b"x")
    with pytest.raises(ResultsError, match=re.escape(name) + " does not match the manifest just written"):
        store.publish(force=False)


def test_the_assembled_files_are_the_same_bytes_whatever_the_chunk_size(tmp_path, monkeypatch):
    """Row groups have a fixed size, not one per chunk: a batch gives the same files however it was
    cut. A row group of 7 rows makes chunks straddle row groups at these sizes."""
    monkeypatch.setattr(streaming, "ROW_GROUP_ROWS", 7)
    written = {}
    for size in (1, SIZE, RUNS):
        store = _store(tmp_path / f"s{size}", plan={**PLAN, "chunk_size": size})
        _fill(store, chunk_bounds(RUNS, size))
        folder = store.finish(RUNS, force=False)
        written[size] = {name: (folder / name).read_bytes()
                         for name in ("runs.parquet", "years.parquet", "bands.parquet")}
        assert pq.ParquetFile(folder / "runs.parquet").metadata.num_row_groups == -(-RUNS // 7)
    assert written[1] == written[SIZE] == written[RUNS]


def test_a_chunk_file_holds_the_chunks_arrays_as_npy_records(tmp_path):
    """One file a chunk: per-run, per-year and per-month arrays (months as metrics x runs x months),
    readable with NumPy alone, no pickles."""
    store = _store(tmp_path / "annual")
    chunk = simulate_chunk(ANNUAL, SEED, 8, 16)
    store.add(chunk)
    path = partial_folder(tmp_path / "annual") / "chunks" / "chunk-000000008.npys"
    with path.open("rb") as fh:
        arrays = [np.load(fh, allow_pickle=False) for _ in range(3)]
        assert fh.read() == b""
    np.testing.assert_array_equal(arrays[0], chunk.runs)
    np.testing.assert_array_equal(arrays[1], chunk.years)
    np.testing.assert_array_equal(arrays[2], chunk.months.transpose(2, 0, 1))
    entry = json.loads((partial_folder(tmp_path / "annual") / "manifest.json").read_text())
    assert entry["chunks"]["8"]["files"] == {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}


def test_a_batch_started_by_an_earlier_chunk_format_is_refused_on_resume(tmp_path):
    _fill(_store(tmp_path / "annual"), chunk_bounds(RUNS, SIZE)[:1])
    path = partial_folder(tmp_path / "annual") / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["chunk_format"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match=r"was started by an earlier fundsim, whose chunk files this "
                                         r"version does not read; use --force"):
        _store(tmp_path / "annual", resume=True)
    assert _store(tmp_path / "annual", resume=False, force=True).done() == {}


def test_precision_targets_read_the_per_run_values_as_runs_parquet_stores_them(tmp_path, reference):
    store = _store(tmp_path / "annual")
    _fill(store, reversed(chunk_bounds(RUNS, SIZE)))
    for metric in ("disruptions_total", "lapsed_funds_m"):
        np.testing.assert_array_equal(store.metric_values(metric, 16),
                                      reference.runs[metric].to_numpy(dtype=float)[:16])


def test_a_chunk_file_gone_before_assembly_is_never_published(tmp_path):
    bounds = chunk_bounds(RUNS, SIZE)
    store = _store(tmp_path / "annual")
    _fill(store, bounds)
    (partial_folder(tmp_path / "annual") / "chunks" / "chunk-000000016.npys").unlink()
    with pytest.raises(ResultsError, match=r"chunk-000000016\.npys: is not the chunk this batch "
                                           r"wrote .*Nothing was published"):
        store.finish(RUNS, force=False)
    assert not (tmp_path / "annual").exists()
    assert _store(tmp_path / "annual", resume=True).missing(bounds) == [bounds[2]]
