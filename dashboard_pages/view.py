"""The comparison view both pages draw: headlines, then one view at a time (distributions, fan
charts, run-by-run differences or tables), then why the headline is what it is.

`AnswerView` draws an `Answer` into fixed places on the page, so a partial answer (the first runs
of every scenario) can be drawn and then replaced by the full one in the same script run. Why not
a fragment or a second rerun: the full answer is already on its way in this run, and Streamlit
streams each element to the browser as it is written, so replacing the placeholders' contents is
the quickest way to the full answer, and the run that started a batch stays the one that reads it
(a newer edit stops both together).

A partial answer is never mistaken for the answer: a notice above it says how many runs it holds
and that the rest are running, its headline starts "First 200 of 1,000 runs:", every chart title
and table caption says so, and nothing else (the explanation, downloads, saving) is drawn from it.

Why the places: each chart sits in a container keyed `<prefix>_dist_<metric>` (a stable handle for
tests and for browser probes) holding an `st.empty`, and each view's widgets are written once
before the charts; Streamlit refuses a widget or a keyed element written twice in one run.
Everything slow that is not a chart (the explanation, about 0.1 s) is drawn after the charts, in a
place kept for it above them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from dashboard_pages.common import plain
from dashboard_pages.running import Answer
from simulator import assumptions, charts, comparison, uncertain
from simulator.analysis import describe, mean_ci
from simulator.results import BatchResults

VIEWS = ("Distributions", "Over time", "Run-by-run difference", "Summary table")

Slot = Any  # a Streamlit placeholder (`st.empty`)


def partial_note(answer: Answer) -> str:
    """"first 200 of 1,000 runs": what a partial answer holds."""
    return f"first {answer.runs:,} of {answer.of:,} runs"


class AnswerView:
    """One comparison on a page, drawn once per answer (a partial one, then the full one) in the
    same places. Streamlit keeps a container's children when the same place is given a container
    again in one run (emptying it first does not help), so both answers write the same elements in
    the same order, different only in their text; the partial notice has a place of its own, which
    the full answer empties. `paired=False` (results that do not share random numbers) leaves out run-by-run
    differences; `subject` (what a change is, and whether its verb is plural) makes the one
    headline say what the change does; `same` (a sentence) shows one scenario on its own with the
    reason no comparison is shown."""

    def __init__(self, prefix: str, *, paired: bool = True,
                 subject: tuple[str, bool] | None = None, same: str | None = None) -> None:
        self.prefix = prefix
        self.paired = paired and same is None
        self.subject = subject
        self.same = same
        self._notice: Slot | None = None
        self._header: Slot | None = None
        self._why: Slot | None = None
        self._view = VIEWS[0]
        self._options: dict[str, Any] = {}
        self._slots: dict[str, Slot] = {}

    def draw(self, answer: Answer) -> None:
        """Draw `answer` (partial or full), replacing what this view drew before."""
        results = answer.results
        note = partial_note(answer) if answer.partial else None
        first = self._header is None
        if first:
            self._notice, self._header = st.empty(), st.empty()
        if note:
            self._notice.info(plain(f"Partial answer: the {note} of each scenario. The rest are "
                                    "running, and the full answer replaces this one when they "
                                    "finish."), icon=":material/hourglass_top:")
        elif not first:
            self._notice.empty()
        with self._header.container():
            if self.same is not None:
                self._single_header(results, note)
            else:
                self._comparison_header(results, note)
        if first:
            self._why = st.empty() if self.paired and len(results) > 1 else None
            self._controls(results)
        self._body(results, note)
        if not answer.partial and self._why is not None:
            with self._why.container():
                self._explanation(results)

    def clear(self) -> None:
        """Remove what was drawn (a partial answer whose runs could not finish)."""
        for slot in [self._notice, self._header, self._why, *self._slots.values()]:
            if slot is not None:
                slot.empty()

    # ------------------------------------------------------------------ headlines

    def _comparison_header(self, results: Mapping[str, BatchResults], note: str | None) -> None:
        if self.paired and len(results) > 1:
            (a_name, a), *others = results.items()
            for b_name, b in others:
                pair = {a_name: a, b_name: b}
                sentence = (comparison.change_headline(*self.subject, pair)
                            if self.subject is not None else comparison.headline_text(pair))
                st.markdown(f"### {_prefixed(sentence, note)}")
                st.caption(plain(comparison.money_sentence(pair)) + " Intervals are the "
                           f"{plain(assumptions.PRECISION_LABEL)}; single runs spread much wider "
                           "(see the distributions, and the runs' spread in the summary table).")
        if len(results) > 1:
            # What the headline compares, a warning when it mixes groups of levers, and why.
            for line in comparison.what_differs(results):
                st.caption(plain(line))
            for warning in comparison.mixed_warnings(results):
                st.warning(plain(warning), icon=":material/warning:")
        for line in _uncertain_lines(results):  # parameters drawn per run widen the spread
            st.caption(plain(line))

    def _single_header(self, results: Mapping[str, BatchResults], note: str | None) -> None:
        name, res = next(iter(results.items()))
        values = res.runs["disruptions_total"].to_numpy(dtype=float)
        d = describe(values)
        sentence = (f"{name}: {d['mean']:,.0f} disruptions over {res.scenario.horizon.years} years "
                    f"on average (runs 5-95%: {d['p5']:,.0f} to {d['p95']:,.0f})")
        st.markdown(f"### {_prefixed(sentence, note)}")
        st.info(plain(self.same), icon=":material/info:")
        drawn = uncertain.describe(res.scenario)
        if drawn:
            st.caption(plain(drawn))

    def _explanation(self, results: Mapping[str, BatchResults]) -> None:
        """Why the headline is what it is, worked out only while the expander is open (about
        0.1 s of pandas merges a change, which a closed expander never needed): opening it reruns
        the page, whose results are cached by then."""
        box = st.expander("Why: what the difference is made of", key=f"{self.prefix}_why",
                          on_change="rerun")
        if not box.open:
            return
        why = comparison.explanation(results)
        with box:
            if not why:
                st.caption("No difference between these scenarios is clear enough to explain.")
                return
            for line in why:
                st.markdown(plain(line))
            frame = comparison.attribution_frame(results)
            means = list(frame.columns[list(frame.columns).index("unit") + 1:][:2])
            st.caption("Each line: the reference, the scenario, and the paired mean difference "
                       "with its 95% interval.")
            st.markdown("\n".join(
                f"- {plain(row['scenario']) + ', ' if 'scenario' in frame else ''}"
                f"{plain(row['driver'])}: {row[means[0]]:,.2f} → {row[means[1]]:,.2f}; "
                f"{row['difference']:+,.2f} ({row['95% CI low']:+,.2f} to "
                f"{row['95% CI high']:+,.2f})" for _, row in frame.iterrows()))

    # ------------------------------------------------------------------ the views

    def _controls(self, results: Mapping[str, BatchResults]) -> None:
        """The view picker and the chosen view's own widget, written once per run."""
        p = self.prefix
        self._view = st.radio("View", VIEWS, horizontal=True, key=f"{p}_view",
                              label_visibility="collapsed")
        if self._view == "Distributions":
            self._options["ecdf"] = st.toggle(
                "Show cumulative distributions (ECDF) instead of histograms", key=f"{p}_ecdf")
        elif self._view == "Run-by-run difference" and self.paired and len(results) > 1:
            self._options["metric"] = st.selectbox(
                "Output", charts.DISTRIBUTION_METRICS, format_func=charts.label,
                key=f"{p}_diff_metric")

    def _body(self, results: Mapping[str, BatchResults], note: str | None) -> None:
        """The chosen view's charts or tables. Each chart is built and sent before the next is
        built, so the browser draws one while the server builds the next (the workers are idle
        by then: two cores, two jobs)."""
        if self._view == "Distributions":
            runs = {name: r.runs for name, r in results.items()}
            ecdf = self._options["ecdf"]
            self._charts({f"dist_{m}": lambda m=m: charts.distribution_figure(runs, m, ecdf=ecdf)
                          for m in charts.DISTRIBUTION_METRICS}, 2, note)
        elif self._view == "Over time":
            bands = {name: r.bands for name, r in results.items()}
            self._charts({f"fan_{m}": lambda m=m: charts.fan_figure(bands, m)
                          for m in charts.FAN_METRICS}, len(charts.FAN_METRICS), note)
            if note is None:
                st.caption("Lines are medians; dark bands hold the middle half of runs, light "
                           "bands 90%.")
        elif self._view == "Run-by-run difference":
            self._differences(results, note)
        else:
            self._tables(results, note)

    def _place(self, name: str, column: Any = None) -> Slot:
        """The placeholder for `name`, made on first use inside a container keyed
        `<prefix>_<name>`."""
        if name not in self._slots:
            box = (column or st).container(key=f"{self.prefix}_{name}")
            self._slots[name] = box.empty()
        return self._slots[name]

    def _charts(self, figures: dict[str, Callable[[], go.Figure]], columns: int,
                note: str | None) -> None:
        """Charts in `columns` columns, each in its place (made on the first answer)."""
        cols = st.columns(columns) if not self._slots else [None] * columns
        for i, (name, figure) in enumerate(figures.items()):
            self._place(name, cols[i % columns]).plotly_chart(_titled(figure(), note))

    def _differences(self, results: Mapping[str, BatchResults], note: str | None) -> None:
        others = list(results.items())[1:] if self.paired else []
        if not others:
            self._place("diff_none").write("Run-by-run differences need results that share a "
                                           "seed.")
            return
        metric = self._options["metric"]
        figures = comparison.difference_figures(results, metric)
        a_name, a = next(iter(results.items()))
        for i, (b_name, b) in enumerate(others, start=1):
            diff = charts.paired_differences(a.runs, b.runs, metric)
            mean, lo, hi = mean_ci(diff)
            better = charts.better_share(diff, metric)
            with self._place(f"diff_{i}").container():
                st.markdown(f"**{_prefixed(f'{b_name} against {a_name}', note)}:** mean "
                            f"difference {plain(f'{mean:+,.1f}')} (95% CI "
                            f"{plain(f'{lo:+,.1f} to {hi:+,.1f}')}); {plain(b_name)} is better in "
                            f"**{better:.0%}** of paired runs.")
                st.plotly_chart(_titled(figures[f"diff_{i}"], note))

    def _tables(self, results: Mapping[str, BatchResults], note: str | None) -> None:
        others = list(results.items())[1:] if self.paired else []
        summary = comparison.summary_frame(results)
        keyed = note is None  # a key may be written once a run: the full answer's tables have it
        with self._place("tables").container():
            partial = f"Partial answer: the {note} of each scenario. " if note else ""
            st.caption(plain(partial + assumptions.INTERVALS_NOTE))
            config = _summary_config()
            st.dataframe(summary, hide_index=True, column_config=config, column_order=list(config),
                         key=f"{self.prefix}_summary" if keyed else None)
            if others:
                differences = comparison.differences_frame(results)
                differences["share of runs better"] = [
                    comparison.share_text(x) for x in differences["share of runs better"]]
                config = _differences_config()
                st.dataframe(differences, hide_index=True, column_config=config,
                             column_order=list(config),
                             key=f"{self.prefix}_differences" if keyed else None)


def render_comparison(results: Mapping[str, BatchResults], prefix: str, paired: bool = True,
                      subject: tuple[str, bool] | None = None) -> None:
    """Finished results, drawn once (the Compare page's results folders)."""
    runs = len(next(iter(results.values())).runs)
    AnswerView(prefix, paired=paired, subject=subject).draw(Answer(dict(results), runs, runs))


# ------------------------------------------------------------------ helpers


def _prefixed(sentence: str, note: str | None) -> str:
    """A headline as plain text, starting "First 200 of 1,000 runs:" when it is partial."""
    return plain(f"{note[:1].upper()}{note[1:]}: {sentence}" if note else sentence)


def _titled(figure: go.Figure, note: str | None) -> go.Figure:
    """A partial answer's chart says so in its title."""
    if note:
        figure.update_layout(title_text=f"{figure.layout.title.text} ({note})")
    return figure


def _uncertain_lines(results: Mapping[str, BatchResults]) -> list[str]:
    """Which uncertain parameters each scenario draws, said once for scenarios that draw the
    same ones ("annual and annual with ... each draw 7 uncertain parameters ...")."""
    groups: dict[str, list[str]] = {}
    first: dict[str, tuple[str, str]] = {}
    for name, res in results.items():
        drawn = uncertain.describe(res.scenario)
        if not drawn:
            continue
        key = json.dumps(res.scenario.to_dict()["uncertain"], sort_keys=True, default=str)
        groups.setdefault(key, []).append(name)
        first.setdefault(key, (res.scenario.name, drawn))
    lines = []
    for key, names in groups.items():
        own, drawn = first[key]
        if len(names) > 1 and drawn.startswith(f"{own} draws "):
            drawn = f"{' and '.join(names)} each draw " + drawn[len(f"{own} draws "):]
        lines.append(drawn)
    return lines


_NUMBER = "%,.1f"
_SIGNED = "%+,.1f"


def _summary_config() -> dict:
    """One format per column (thousands separators, one decimal), intervals as two numeric
    columns, widths that fit a 1440-pixel screen beside the sidebar."""
    number = {"width": 96}
    return {
        "output": st.column_config.TextColumn("output", width=270),
        "scenario": st.column_config.TextColumn("scenario", width=200),
        comparison.MEAN: st.column_config.NumberColumn("mean", format=_NUMBER, **number),
        comparison.CI_LOW: st.column_config.NumberColumn(
            "95% CI low", format=_NUMBER, help=assumptions.PRECISION_LABEL, **number),
        comparison.CI_HIGH: st.column_config.NumberColumn(
            "95% CI high", format=_NUMBER, help=assumptions.PRECISION_LABEL, **number),
        comparison.P5: st.column_config.NumberColumn(
            "runs 5%", format=_NUMBER, help=assumptions.SPREAD_LABEL, **number),
        comparison.P95: st.column_config.NumberColumn(
            "runs 95%", format=_NUMBER, help=assumptions.SPREAD_LABEL, **number),
    }


def _differences_config() -> dict:
    number = {"width": 100}
    return {
        "scenario": st.column_config.TextColumn("scenario", width=190),
        "against": st.column_config.TextColumn("against", width=130),
        "output": st.column_config.TextColumn("output", width=230),
        "mean difference": st.column_config.NumberColumn("mean difference", format=_SIGNED,
                                                         **number),
        "95% CI low": st.column_config.NumberColumn("95% CI low", format=_SIGNED, **number),
        "95% CI high": st.column_config.NumberColumn("95% CI high", format=_SIGNED, **number),
        "share of runs better": st.column_config.TextColumn(
            "runs better", width=90, alignment="right",
            help="Share of paired runs where the scenario has more output or loses less money; "
                 "n/a where neither is better (capability spend)."),
    }
