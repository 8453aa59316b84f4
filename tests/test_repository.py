"""The repository stands alone (issue 12): every document a file mentions, and every relative link
in the Markdown, is a file the repository holds (docs/model.md and scenarios/baseline.toml once
cited MODEL.md, INTERFACES.md and shared/domain/SOURCES.md, which it did not)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _tracked(*suffixes: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:  # not a git checkout (an unpacked archive): read the tree
        return [p for p in ROOT.rglob("*") if p.suffix in suffixes and ".venv" not in p.parts]
    return [ROOT / name for name in listed.stdout.split() if name.endswith(suffixes)]


_MENTION = re.compile(r"(?<![\w/.<-])((?:\.\./|[\w-]+/)*[\w-]+\.md)\b")
_LINK = re.compile(r"\]\((?!https?:|mailto:|#)([^)#\s]+)(?:#[^)]*)?\)")


def _resolves(source: Path, target: str) -> bool:
    return any((base / target).exists() for base in (source.parent, ROOT, ROOT / "docs"))


SELF = Path(__file__).resolve()


@pytest.mark.parametrize("source", [p for p in _tracked(".md", ".toml", ".py") if p != SELF],
                         ids=lambda p: p.name)
def test_every_document_mentioned_is_in_the_repository(source):
    text = source.read_text(encoding="utf-8")
    missing = [m for m in _MENTION.findall(text) if not _resolves(source, m)]
    if source.suffix == ".md":
        missing += [m for m in _LINK.findall(text) if not _resolves(source, m)]
    assert not missing, f"{source.relative_to(ROOT)} mentions {missing}"


def test_the_sources_the_defaults_rest_on_are_in_docs():
    sources = (ROOT / "docs" / "sources.md").read_text()
    assert "NCA budget 2020-21" in sources and "£711m" in sources
    assert (ROOT / "docs" / "design.md").is_file()


def test_the_check_finds_a_missing_document(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("See MODEL.md and [the interfaces](INTERFACES.md).")
    text = page.read_text()
    assert [m for m in _MENTION.findall(text) if not _resolves(page, m)] == ["MODEL.md",
                                                                             "INTERFACES.md"]
    assert _LINK.findall(text) == ["INTERFACES.md"]
