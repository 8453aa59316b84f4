"""The project's exceptions: one base class, and problems worded `file: path = value: rule`."""

from __future__ import annotations

import pytest

from simulator.errors import FundsimError, Problem, ResultsError, ScenarioError, UsageError, problem


def test_problem_renders_path_value_and_rule():
    rendered = problem("horizon.years", "must be at least 1", 0).render()
    assert rendered == "horizon.years = 0: must be at least 1"


def test_problem_quotes_string_values():
    rendered = problem("funding.streams.core.arrival", "must be 'tranches'", "monthly").render()
    assert rendered == "funding.streams.core.arrival = 'monthly': must be 'tranches'"


def test_problem_without_a_value_leaves_the_value_out():
    assert problem("workforce.initial_fte", "required field is missing").render() == (
        "workforce.initial_fte: required field is missing")


def test_problem_with_none_as_its_value_still_shows_it():
    assert problem("base", "must be a path", None).render() == "base = None: must be a path"


def test_problem_about_the_whole_file_says_file():
    assert problem("", "file not found").render() == "(file): file not found"


def test_problem_renders_a_table_value_in_toml_style():
    rendered = problem("x", "must be a number", {"a": 1, "b": "c"}).render()
    assert rendered == "x = {a = 1, b = 'c'}: must be a number"


def test_problem_shortens_long_values_to_80_characters():
    rendered = problem("scenario.description", "too long", "y" * 200).render()
    value = rendered.removeprefix("scenario.description = ").removesuffix(": too long")
    assert len(value) == 80
    assert value.endswith("...")


def test_problem_is_a_frozen_record():
    p = Problem(path="a", value=1, rule="r")
    with pytest.raises(AttributeError):
        p.rule = "other"  # type: ignore[misc]


def test_scenario_error_message_is_file_then_each_problem_on_its_own_line():
    exc = ScenarioError("annual.toml", [
        problem("funding.streams.core.share", "shares must sum to 1 (got 0.9)", 0.7),
        problem("horizon", "required field is missing"),
    ])
    assert str(exc) == ("annual.toml: funding.streams.core.share = 0.7: shares must sum to 1 (got 0.9)\n"
                        "annual.toml: horizon: required field is missing")
    assert exc.file == "annual.toml"
    assert [p.path for p in exc.problems] == ["funding.streams.core.share", "horizon"]


def test_scenario_error_can_be_matched_by_pytest_raises():
    with pytest.raises(ScenarioError, match=r"^a\.toml: horizon\.years = 0: must be at least 1$"):
        raise ScenarioError("a.toml", [problem("horizon.years", "must be at least 1", 0)])


@pytest.mark.parametrize("cls", [ScenarioError, ResultsError, UsageError])
def test_every_error_is_a_fundsim_error(cls):
    assert issubclass(cls, FundsimError)


def test_fundsim_error_subclasses_exception_not_base_exception_directly():
    assert FundsimError.__bases__ == (Exception,)
    assert issubclass(FundsimError, Exception)


def test_except_exception_catches_fundsim_errors():
    for exc in (ResultsError("r: manifest.json is missing"), UsageError("u: exists"),
                ScenarioError("s.toml", [problem("", "file not found")])):
        try:
            raise exc
        except Exception as caught:
            assert caught is exc


def test_results_and_usage_errors_keep_their_message():
    with pytest.raises(ResultsError, match=r"^results/x: manifest\.json is missing$"):
        raise ResultsError("results/x: manifest.json is missing")
    with pytest.raises(UsageError, match="use --force"):
        raise UsageError("results/x: results folder already exists; use --force to replace it")
