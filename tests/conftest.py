"""Shared fixtures: the text of baseline.toml, small scenario files written over it on the fly, and a
pseudo-terminal to run the command on."""

from __future__ import annotations

import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

BASELINE_TOML = Path(__file__).resolve().parent.parent / "scenarios" / "baseline.toml"


@pytest.fixture
def baseline_text() -> str:
    """The text of scenarios/baseline.toml, to copy and edit into a bad file."""
    return BASELINE_TOML.read_text(encoding="utf-8")


@pytest.fixture
def write_override(tmp_path: Path) -> Callable[..., Path]:
    """Write `name` in tmp_path: `base = "<abs path to baseline.toml>"` then `body`."""

    def write(body: str, name: str = "override.toml") -> Path:
        path = tmp_path / name
        path.write_text(f'base = "{BASELINE_TOML.as_posix()}"\n{body}\n', encoding="utf-8")
        return path

    return write


@pytest.fixture
def on_terminal() -> Callable[[list[str]], str]:
    """Run a command with stderr on a pseudo-terminal (as at a shell); return what it drew there."""

    def run(argv: list[str]) -> str:
        leader, follower = pty.openpty()
        proc = subprocess.Popen(argv, cwd=BASELINE_TOML.parent.parent, stdout=subprocess.DEVNULL,
                                stderr=follower, env={**os.environ, "COLUMNS": "120", "TERM": "xterm"})
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the terminal closed: the process has exited
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=300)
        os.close(leader)
        assert proc.returncode == 0
        return b"".join(chunks).decode(errors="replace")

    return run
