"""Text that reaches a terminal: control characters shown, never obeyed.

Why: scenario names, file names and folder names come from users and files, and a terminal obeys
what it is sent. A name holding `ESC [ 2 J` clears the screen, `ESC ] 8` plants a link, a carriage
return overwrites the line before it, and Unicode's bidirectional overrides make text read in a
different order than it runs ("Trojan source"). Every string the CLI prints goes through `clean`,
which replaces such characters with a visible escape (`\\x1b`, `\\u202e`), so what was in the
name is still shown, harmlessly. Newlines and tabs are kept: they are fundsim's own layout.
"""

from __future__ import annotations

import argparse
from typing import IO, Any

from rich.console import Console

_BIDI = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TABLE = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}
_TABLE.update({c: f"\\u{c:04x}" for c in (*_BIDI, 0x2028, 0x2029)})


def clean(text: str) -> str:
    """`text` with control and bidirectional-override characters replaced by visible escapes."""
    return text.translate(_TABLE)


class SafeConsole(Console):
    """A rich `Console` that cleans every string it renders: printed text, table cells, titles.

    Rich turns each string renderable into `Text` through `render_str`, so cleaning there covers
    every path; rich's own styling escapes are added later and are not touched.
    """

    def render_str(self, text: str, *args: Any, **kwargs: Any):  # type: ignore[override]
        return super().render_str(clean(text), *args, **kwargs)


class SafeArgumentParser(argparse.ArgumentParser):
    """argparse echoes what it was given ("invalid choice: ..."): clean that too."""

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        super()._print_message(clean(message) if message else message, file)
