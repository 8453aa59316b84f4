"""The compiled model: used when a build matches the sources, named by `fundsim --version`, never
used stale, and replaced by the plain modules when asked or when it cannot load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from simulator import native

ROOT = Path(__file__).resolve().parent.parent
FUNDSIM = Path(sys.executable).with_name("fundsim")


def _version(**env: str) -> str:
    done = subprocess.run([str(FUNDSIM), "--version"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_version_names_the_model_in_use():
    status = native.status()
    assert f"model: {status.describe()}" in _version()


def test_a_fresh_build_is_used():
    """`make test` builds the compiled model first, so here it must be in use (a machine that
    cannot compile fails this test rather than silently running six times slower)."""
    status = native.status()
    assert status.used, status.reason
    import simulator.model.ledger as ledger

    assert str(ledger.__file__).startswith(str(native.build_dir()))


def test_the_plain_model_can_be_asked_for():
    assert "model: plain Python (FUNDSIM_MODEL=python)" in _version(FUNDSIM_MODEL="python")


def test_a_build_whose_sources_changed_is_stale(tmp_path):
    """A source edited after the build: the build is not used, and the reason names the file."""
    model = tmp_path / "model"
    shutil.copytree(native.MODEL, model)
    build = tmp_path / "build"
    build.mkdir()
    (build / "manifest.json").write_text(json.dumps(
        {"python": sys.version, "sources": native.source_hashes(model)}))
    assert native.check(build, model) is None
    ledger = model / "ledger.py"
    ledger.write_text(ledger.read_text() + "\n# an edit\n")
    assert native.check(build, model) == "stale: ledger.py changed since the build: run `make native`"


def test_a_build_for_another_python_is_not_used(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"python": "2.7.18", "sources": native.source_hashes()}))
    assert native.check(tmp_path).startswith("built for Python '2.7.18'")


def test_no_build_says_how_to_make_one(tmp_path):
    assert native.check(tmp_path) == "no compiled build: run `make native`"


def _fresh_checkout(tmp_path: Path) -> Path:
    """The package alone, as a clone is before `make native`: no build beside it."""
    shutil.copytree(ROOT / "simulator", tmp_path / "simulator",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _import_model(where: Path, **env: str) -> subprocess.CompletedProcess[str]:
    code = "import simulator.native as n; print(n.status().describe())"
    return subprocess.run([sys.executable, "-c", code], cwd=where, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(where), **env}, timeout=120)


def test_without_a_build_the_plain_model_runs_and_says_why(tmp_path):
    done = _import_model(_fresh_checkout(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "plain Python (no compiled build: run `make native`)"


def test_asking_for_the_compiled_model_without_one_is_an_error(tmp_path):
    """FUNDSIM_MODEL=native turns a missing build into an error instead of a slow run."""
    done = _import_model(_fresh_checkout(tmp_path), FUNDSIM_MODEL="native")
    assert done.returncode != 0
    assert "FUNDSIM_MODEL=native but the compiled model cannot be used: no compiled build" in done.stderr
