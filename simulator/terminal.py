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
import functools
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_BIDI = (0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_TABLE = {c: f"\\x{c:02x}" for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if c not in (0x09, 0x0A)}
_TABLE.update({c: f"\\u{c:04x}" for c in (*_BIDI, 0x2028, 0x2029)})


def clean(text: str) -> str:
    """`text` with control and bidirectional-override characters replaced by visible escapes."""
    return text.translate(_TABLE)


@functools.cache
def _safe_console_class() -> type[Console]:
    """`SafeConsole`, defined on first use: rich's console takes 40 ms to import, which every
    `fundsim` command paid at start-up, `run --quiet` included, which prints nothing (issue 10)."""
    from rich.console import Console

    class SafeConsole(Console):
        """A rich `Console` that cleans every string it renders: printed text, table cells,
        titles.

        Rich turns each string renderable into `Text` through `render_str`, so cleaning there
        covers every path; rich's own styling escapes are added later and are not touched.
        """

        def render_str(self, text: str, *args: Any, **kwargs: Any):  # type: ignore[override]
            return super().render_str(clean(text), *args, **kwargs)

    return SafeConsole


def __getattr__(name: str) -> Any:
    """`terminal.SafeConsole`, the class, for code that names it."""
    if name == "SafeConsole":
        return _safe_console_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class LazyConsole:
    """A `SafeConsole` with these options, made the first time anything is asked of it."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The console itself (for rich objects that want a real `Console`)."""
        if self._console is None:
            self._console = _safe_console_class()(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.console, name)


class SafeArgumentParser(argparse.ArgumentParser):
    """argparse echoes what it was given ("invalid choice: ..."): clean that too."""

    def _print_message(self, message: str, file: IO[str] | None = None) -> None:
        super()._print_message(clean(message) if message else message, file)
