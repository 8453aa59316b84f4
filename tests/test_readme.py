"""Every command in the README runs as written (SimPy's habit of running its doc examples)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
FUNDSIM = Path(sys.executable).with_name("fundsim")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _fundsim_commands() -> list[str]:
    return [line.strip() for block in _blocks("bash") for line in block.splitlines()
            if line.strip().startswith("fundsim ")]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "scenarios", work / "scenarios")
    return work


def test_readme_keeps_the_two_setup_commands():
    setup = "\n".join(_blocks("bash"))
    assert "make demo" in setup and "make test" in setup


def test_readme_names_shipped_scenarios_that_exist():
    for name in re.findall(r"`scenarios/([a-z_]+\.toml)`", README):
        assert (ROOT / "scenarios" / name).is_file(), name


def test_every_fundsim_command_in_the_readme_runs(workdir):
    commands = _fundsim_commands()
    assert len(commands) >= 4
    for command in commands:
        args = shlex.split(command)[1:]
        done = subprocess.run([str(FUNDSIM), *args], cwd=workdir, capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr


def test_the_python_api_example_runs(workdir):
    (block,) = _blocks("python")
    done = subprocess.run([sys.executable, "-c", block], cwd=workdir, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
