"""The follow-up questions of one event, as report sections: does the answer change with the
benchmark, the model or the estimation window; with day 0 one session later; for the named
OEMs apart from the peers; with the overlapping window of a close event?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.movers import MOVERS_SHOWN
from eventstudy.plan import ROLE_NAMES
from eventstudy.report.display import Table, display_rows
from eventstudy.report.inputs import ReportInput

__all__ = ["Analysis", "AnalysisTables", "event_analyses"]

_ROBUST_COLS = ("n", "caar", "t_portfolio", "p_portfolio", "p_adjusted_patell")
_ROBUST_COLS2 = ("p_kolari_pynnonen", "p_grank")


@dataclass(frozen=True)
class Analysis:
    """One section: an id (``data-analysis``), a title, a note and an optional table."""

    id: str
    title: str
    note: str
    table: Table | None


class _Rows:
    """A small table as Python lists, read out of pandas once: the analyses filter a few
    dozen rows by event many times, which costs milliseconds a time in pandas.

    A column's values are those ``itertuples`` yields (``Series.tolist``), so the cells
    :func:`~eventstudy.report.display.display_rows` formats are the ones
    :func:`~eventstudy.report.display.display` formatted from the frame.
    """

    def __init__(self, data: dict[str, list[Any]], n: int) -> None:
        self.data = data
        self.n = n
        self._text: dict[str, list[Any]] = {}

    @classmethod
    def of(cls, frame: pd.DataFrame | None) -> _Rows:
        if frame is None:
            return cls({}, 0)
        return cls({str(c): frame[c].tolist() for c in frame.columns}, len(frame))

    def __len__(self) -> int:
        return self.n

    def __contains__(self, column: str) -> bool:
        return column in self.data

    def __getitem__(self, column: str) -> list[Any]:
        return self.data[column]

    def text(self, column: str, frame: pd.DataFrame) -> list[Any]:
        """``frame[column].astype(str)`` as a list (missing values stay missing), once."""
        if column not in self._text:
            self._text[column] = frame[column].astype(str).tolist()
        return self._text[column]

    def take(self, rows: Sequence[int]) -> _Rows:
        return _Rows({c: [v[i] for i in rows] for c, v in self.data.items()}, len(rows))

    def display(self, columns: Sequence[str]) -> Table:
        """:func:`~eventstudy.report.display.display` of these rows."""
        cols = [c for c in columns if c in self.data]
        return display_rows(cols, zip(*(self.data[c] for c in cols), strict=True))


class AnalysisTables:
    """The analysis tables, the firms and the timing of a report as :class:`_Rows`, read
    once for every event (see :func:`event_analyses`)."""

    def __init__(self, inp: ReportInput) -> None:
        self.inp = inp
        self.frames = dict(inp.analyses)
        self.rows = {name: _Rows.of(frame) for name, frame in self.frames.items()}
        self.firms = _Rows.of(inp.firms)
        self.timing = _Rows.of(inp.timing) if inp.timing is not None else _Rows({}, 0)

    def of_event(self, name: str, eid: str, column: str = "event_id") -> _Rows:
        """The rows of table ``name`` whose ``column`` (as text) is ``eid``."""
        rows = self.rows.get(name)
        if rows is None or column not in rows:
            return _Rows({}, 0)
        keys = rows.text(column, self.frames[name])
        return rows.take([i for i, k in enumerate(keys) if k == eid])


def event_analyses(
    inp: ReportInput, eid: str, tables: AnalysisTables | None = None
) -> list[Analysis]:
    """The analysis sections of event ``eid`` (variants, date-only shift, roles, overlaps).

    ``tables``: the report's :class:`AnalysisTables`, read once for all its events.
    """
    at = AnalysisTables(inp) if tables is None else tables
    out: list[Analysis] = []
    ex_col = ["exchange"] if inp.multi else []
    shifted = at.of_event("shifted", eid)
    if len(shifted):
        out.append(
            Analysis(
                "shifted",
                "If the first reacting session were one session later",
                "The announcement time is known only to the day, so day 0 may be one session "
                "late or early. The event is rerun with day 0 moved one session later "
                "(estimation window moved with it).",
                shifted.display(
                    [*ex_col, "window", "timing", "day0", *_ROBUST_COLS, *_ROBUST_COLS2, "answer"]
                ),
            )
        )
    variants = at.of_event("variants", eid)
    if len(variants):
        changed = [
            i
            for i, same in enumerate(variants["same_answer"])
            if same == False  # noqa: E712
        ]
        note = (
            "Mean CAR of the event's securities and the p-values of the tests that stay valid "
            "when they share the date, under each specification. The answer is whether the "
            "portfolio test rejects at 5% and, if it does, the sign of the mean CAR (an "
            "insignificant mean CAR that changes sign is the same answer). "
        )
        note += (
            "The answer is the same under every variant."
            if not changed
            else "The answer changes in "
            + ", ".join(f"{variants['variant'][i]} {variants['window'][i]}" for i in changed)
            + "."
        )
        out.append(
            Analysis(
                "variants",
                "Does the answer change? Benchmark, model and estimation window",
                note,
                variants.display(
                    [
                        *ex_col,
                        "title",
                        "window",
                        *_ROBUST_COLS,
                        *_ROBUST_COLS2,
                        "answer",
                        "same_answer",
                    ]
                ),
            )
        )
    roles = at.of_event("roles", eid)
    if len(roles):
        out.append(
            Analysis(
                "roles",
                "Named OEMs and peers: equal-weighted portfolios",
                _role_note(inp, roles, eid, at),
                roles.display([*ex_col, "subset", "window", *_ROBUST_COLS, *_ROBUST_COLS2]),
            )
        )
    over_frame = at.frames.get("overlaps")
    if over_frame is not None and len(over_frame):
        over = at.rows["overlaps"]
        first = over.text("first", over_frame)
        second = over.text("second", over_frame)
        mine = over.take([i for i in range(len(over)) if eid in (first[i], second[i])])
        comb = _Rows({}, 0)
        comb_frame = at.frames.get("combined")
        if comb_frame is not None and len(comb_frame):
            rows = at.rows["combined"]
            ev, sec = rows.text("event_id", comb_frame), rows.text("second", comb_frame)
            comb = rows.take([i for i in range(len(rows)) if eid in (ev[i], sec[i])])
        said = list(zip(mine["statement"], mine["event_windows_overlap"], strict=True))
        close = [s for s, o in said if bool(o)]
        far = [s for s, o in said if not bool(o)]
        if close or len(comb):
            out.append(
                Analysis(
                    "combined",
                    "Overlapping windows and the combined window",
                    " ".join(close),
                    comb.display(
                        [*ex_col, "span", "window", "start", "end", *_ROBUST_COLS, *_ROBUST_COLS2]
                    )
                    if len(comb)
                    else None,
                )
            )
        if far:
            out.append(
                Analysis(
                    "overlaps",
                    "Other events inside the estimation window",
                    " ".join(far),
                    None,
                )
            )
    return out


def _role_note(inp: ReportInput, roles: _Rows, eid: str, at: AnalysisTables) -> str:
    """What the role portfolios are, and which firms moved against the named OEMs on day 0
    (e.g. Suzuki on 2025-12-04)."""
    first_window = roles["window"][0]
    sizes = {
        str(role): int(n)
        for role, n, w in zip(roles["role"], roles["n"], roles["window"], strict=True)
        if w == first_window
    }
    parts_named = [f"the {ROLE_NAMES.get(role, role)} ({n})" for role, n in sizes.items() if n]
    named = (
        ", ".join(parts_named[:-1]) + " and " + parts_named[-1]
        if len(parts_named) > 1
        else "".join(parts_named)
    )
    parts = [
        f"Equal-weighted portfolios of {named}, each tested by the portfolio test (its own "
        "estimation-window variance); every firm alone is in the firm table above."
    ]
    day = [
        i
        for i, (w, role) in enumerate(zip(roles["window"], roles["role"], strict=True))
        if w == "(0,0)" and role == "oem"
    ]
    firms = at.firms
    if not day or not len(firms):
        return parts[0]
    oem_car = float(roles["caar"][day[0]])
    n_oem = int(roles["n"][day[0]])
    keys = firms.text("event_id", inp.firms)
    ar0 = firms.take(
        [i for i, (k, m) in enumerate(zip(keys, firms["measure"], strict=True))
         if k == eid and m == "AR(0)"]
    )  # fmt: skip
    # ar0 keeps the firms' columns even without rows: firms has rows here
    oem_syms = [
        str(s) for s, role in zip(ar0["security"], ar0["role"], strict=True) if role == "oem"
    ]
    day0 = _day0(inp, eid)
    oem_raw = [x for x in (_raw_day0(inp, day0, s) for s in oem_syms) if x is not None]
    estimate = np.asarray(ar0["estimate"], dtype=float)
    role_of = ar0["role"]
    against = [
        i
        for i in range(len(ar0))
        if role_of[i] != "oem"
        and np.isfinite(estimate[i])
        and np.sign(estimate[i]) != np.sign(oem_car)
    ]
    more = 0
    if len(against) > MOVERS_SHOWN:  # a universe: name the largest moves against the OEMs
        more = len(against) - MOVERS_SHOWN
        order = np.argsort(-np.abs(estimate[against]), kind="stable")[:MOVERS_SHOWN]
        against = [against[k] for k in order]
    for i in against:
        name, security, est = ar0["name"][i], ar0["security"][i], ar0["estimate"][i]
        text = (
            f"{name} {security} moved against the {n_oem} named OEMs on day 0: AR {est * 100:+.2f}%"
        )
        raw = _raw_day0(inp, day0, str(security))
        if raw is not None and oem_raw:
            text += (
                f" (close-to-close {raw * 100:+.2f}%, while the named OEMs moved "
                f"{min(oem_raw) * 100:+.2f}% to {max(oem_raw) * 100:+.2f}%)"
            )
        text += f" against the named OEMs' mean AR of {oem_car * 100:+.2f}%."
        parts.append(text)
    if more:
        parts.append(
            f"{more:,} more firms moved against the named OEMs on day 0 (the "
            f"{MOVERS_SHOWN} largest such moves are named above; every firm: tables/firms.csv)."
        )
    return " ".join(parts)


def _day0(inp: ReportInput, eid: str) -> pd.Timestamp | None:
    """The event's day 0: the session of its first timing row (None without timing)."""
    t = inp.timing
    if t is None or not len(t):
        return None
    rows = t[t["event_id"].astype(str) == eid]
    return None if rows.empty else pd.Timestamp(rows["session"].iloc[0])


def _raw_day0(inp: ReportInput, day0: pd.Timestamp | None, symbol: str) -> float | None:
    """Close-to-close return of ``symbol`` on day 0 (adjusted close): the close of ``day0``
    over the last close before it (missing closes skipped)."""
    frame = inp.prices.get(symbol)
    if frame is None or day0 is None:
        return None
    col = "adj_close" if "adj_close" in frame else "close"
    series = frame[col]
    try:
        pos = series.index.get_loc(day0)
    except KeyError:
        return None
    if not isinstance(pos, int):  # a repeated date: read the series without its gaps
        series = series.dropna()
        if day0 not in series.index:
            return None
        pos = series.index.get_loc(day0)
        return None if pos == 0 else float(series.iloc[pos] / series.iloc[pos - 1] - 1.0)
    # the closes up to day 0 as floats (not the whole history without its gaps for each
    # firm): the same division as on the series without its gaps
    closes = series.iloc[: pos + 1].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(closes[-1]):
        return None
    before = closes[:-1][~np.isnan(closes[:-1])]
    return float(closes[-1] / before[-1] - 1.0) if len(before) else None
