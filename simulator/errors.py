"""The project's exceptions: one base class so callers can catch everything fundsim raises.

The CLI turns a `FundsimError` into one clear message and exit code 2 (bad input); anything else is
a bug and exits 1. Messages follow SimPy's "value plus rule" wording, with the file and field path
in front, so a finance analyst can fix a scenario file without reading Python.
"""

from __future__ import annotations

from dataclasses import dataclass


class FundsimError(Exception):
    """Base class for every error fundsim raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where it is, what it holds and the rule it breaks."""

    path: str
    value: object
    rule: str
    inherited_from: str | None = None
    """The file that holds the field, when it is a file the scenario inherits (through `base`)
    rather than the scenario file itself."""

    def render(self) -> str:
        where = self.path or "(file)"
        if self.value is _NO_VALUE:
            return f"{where}: {self.rule}"
        return f"{where} = {_show(self.value)}: {self.rule}"


_NO_VALUE = object()


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {_show(v)}" for k, v in value.items()) + "}"
    return text if len(text) <= 80 else text[:77] + "..."


class ScenarioError(FundsimError):
    """A scenario file that cannot be used: every problem found, each with file, path, value, rule."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        lines = [f"{p.inherited_from} (inherited by {file}): {p.render()}" if p.inherited_from
                 else f"{file}: {p.render()}" for p in problems]
        super().__init__("\n".join(lines))


def problem(path: str, rule: str, value: object = _NO_VALUE) -> Problem:
    """Build a `Problem`; leave `value` out when there is no value to show (a missing field)."""
    return Problem(path=path, value=value, rule=rule)


class ResultsError(FundsimError):
    """A results folder that is missing, incomplete or does not match its manifest."""


class UsageError(FundsimError):
    """A command-line request that cannot be carried out as asked (e.g. an existing output folder)."""


class RunError(FundsimError):
    """A batch that could not finish for a reason outside the user's input (a worker died, the disk
    is full, a scheduler cannot be reached). The CLI exits 1, not 2, and says what was kept."""

    exit_code = 1


class ModelError(FundsimError):
    """A run that cannot give usable numbers for this scenario: an output that would be infinite,
    NaN or too large to count exactly, or a run the scenario's values make impossible to compute.
    It is the scenario's doing (exit 2), and the message names the scenario, run and output.
    Message-only, so it crosses process and Dask boundaries intact."""


class EnvironmentProblem(RunError):
    """Something outside fundsim's input stopped it (a lock it cannot take, a resource it cannot
    use); exit 1 with a plain message."""
