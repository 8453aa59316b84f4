"""What a reader must know before trusting a number: the key assumptions and limits of the model,
and what each interval around a result means.

The report (`report.py`) and the dashboard (`dashboard_pages/`) both show these words from here, so
the two never drift apart. Each assumption is argued in full in docs/model.md ("Known
simplifications and open questions", "Calibration a reviewer should challenge"); the calibration
targets' choices in docs/calibration.md.
"""

from __future__ import annotations

import pandas as pd

KEY_ASSUMPTIONS: tuple[str, ...] = (
    "Money is in real terms at 2020-21 prices (the £711m baseline budget); real growth is the only "
    "trend, with no price or pay drift.",
    "Output is disruptions only, over the six-year horizon: no social value, no threat model, "
    "nothing counted after the horizon (which undervalues capital projects).",
    "Not a forecast of the NCA: the baseline matches seven published figures, not its accounts, "
    "so read differences between scenarios more than absolute levels.",
    "Capability costs, benefits and lead times are illustrative or taken from named sources "
    "(NAO, PAC, McKinsey-Oxford), as docs/model.md lists field by field.",
    "Settlement confirmation delays are analogues taken from police grant dates, not NCA records.",
    "Unspent resource lapses (about £80m a year, with no published figure to check it); capital "
    "the four projects leave buys minor works, counted as nothing.",
    "Staff are never made redundant: a settlement below the staff in post is met by emergency "
    "cover; management does nothing beyond the coded rules.",
    "The runs' spread covers chance events and only the parameters a scenario declares uncertain; "
    "every other parameter is held at its stated value.",
)
"""The key assumptions and limits, one plain sentence each, as report and dashboard show them."""

KEY_ASSUMPTIONS_TITLE = "Key assumptions and limits"

READ_MORE: tuple[tuple[str, str], ...] = (
    ("docs/model.md", "every mechanism and parameter, and the sections 'Known simplifications and "
                      "open questions' and 'Calibration a reviewer should challenge'"),
    ("docs/calibration.md", "why each published figure was chosen as a calibration target"),
)
"""Where to read more, relative to the fundsim repository: (path, what it holds)."""


def read_more_lines() -> list[str]:
    """`READ_MORE` as plain sentences, one a document."""
    return [f"Read more in {path} (in the fundsim repository): {what}." for path, what in READ_MORE]

SPREAD_LABEL = "runs' spread, 5-95% (what could happen)"
PRECISION_LABEL = "95% CI of mean (Monte Carlo precision)"
INTERVALS_NOTE = ("Two different intervals: the runs' spread, 5-95%, holds the middle 90% of runs "
                  "(what could happen over one run's horizon); the 95% CI of the mean says how "
                  "precisely the runs pin down the mean (Monte Carlo precision), and it narrows as "
                  "runs are added while the spread does not.")
"""One sentence pair saying which interval is which, shown beside every summary."""

_OLD_LABELS = {"95% CI of mean": PRECISION_LABEL, "5th-95th pct": SPREAD_LABEL}


def label_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its interval columns named for what they are: "<scenario>: 95% CI of mean" and
    "<scenario>: 5th-95th pct" (`comparison.summary_frame`), and "95% CI of mean"
    (`calibration.table`)."""
    renamed = {}
    for column in frame.columns:
        head, sep, tail = str(column).rpartition(": ")
        if tail in _OLD_LABELS:
            renamed[column] = f"{head}{sep}{_OLD_LABELS[tail]}"
    return frame.rename(columns=renamed)
