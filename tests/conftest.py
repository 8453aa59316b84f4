"""Shared fixtures: the text of baseline.toml, and small scenario files written over it on the fly."""

from __future__ import annotations

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
