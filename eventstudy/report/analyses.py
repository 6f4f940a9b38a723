"""The follow-up questions of one event, as report sections: does the answer change with the
benchmark, the model or the estimation window; with day 0 one session later; for the named
OEMs apart from the peers; with the overlapping window of a close event?"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eventstudy.movers import MOVERS_SHOWN
from eventstudy.plan import ROLE_NAMES
from eventstudy.report.display import Table, display
from eventstudy.report.inputs import ReportInput

__all__ = ["Analysis", "event_analyses"]

_ROBUST_COLS = ("n", "caar", "t_portfolio", "p_portfolio", "p_adjusted_patell")
_ROBUST_COLS2 = ("p_kolari_pynnonen", "p_grank")


@dataclass(frozen=True)
class Analysis:
    """One section: an id (``data-analysis``), a title, a note and an optional table."""

    id: str
    title: str
    note: str
    table: Table | None


def _rows_of(inp: ReportInput, name: str, eid: str, column: str = "event_id") -> pd.DataFrame:
    frame = inp.analyses.get(name)
    if frame is None or column not in frame:
        return pd.DataFrame()
    return frame[frame[column].astype(str) == eid]


def event_analyses(inp: ReportInput, eid: str) -> list[Analysis]:
    """The analysis sections of event ``eid`` (variants, date-only shift, roles, overlaps)."""
    out: list[Analysis] = []
    ex_col = ["exchange"] if inp.multi else []
    shifted = _rows_of(inp, "shifted", eid)
    if len(shifted):
        out.append(
            Analysis(
                "shifted",
                "If the first reacting session were one session later",
                "The announcement time is known only to the day, so day 0 may be one session "
                "late or early. The event is rerun with day 0 moved one session later "
                "(estimation window moved with it).",
                display(
                    shifted,
                    [*ex_col, "window", "timing", "day0", *_ROBUST_COLS, *_ROBUST_COLS2, "answer"],
                ),
            )
        )
    variants = _rows_of(inp, "variants", eid)
    if len(variants):
        changed = variants[variants["same_answer"] == False]  # noqa: E712
        note = (
            "Mean CAR of the event's securities and the p-values of the tests that stay valid "
            "when they share the date, under each specification. The answer is whether the "
            "portfolio test rejects at 5% and, if it does, the sign of the mean CAR (an "
            "insignificant mean CAR that changes sign is the same answer). "
        )
        note += (
            "The answer is the same under every variant."
            if changed.empty
            else "The answer changes in "
            + ", ".join(f"{r.variant} {r.window}" for r in changed.itertuples())
            + "."
        )
        out.append(
            Analysis(
                "variants",
                "Does the answer change? Benchmark, model and estimation window",
                note,
                display(
                    variants,
                    [
                        *ex_col,
                        "title",
                        "window",
                        *_ROBUST_COLS,
                        *_ROBUST_COLS2,
                        "answer",
                        "same_answer",
                    ],
                ),
            )
        )
    roles = _rows_of(inp, "roles", eid)
    if len(roles):
        out.append(
            Analysis(
                "roles",
                "Named OEMs and peers: equal-weighted portfolios",
                _role_note(inp, roles, eid),
                display(roles, [*ex_col, "subset", "window", *_ROBUST_COLS, *_ROBUST_COLS2]),
            )
        )
    over = inp.analyses.get("overlaps")
    if over is not None and len(over):
        mine = over[(over["first"].astype(str) == eid) | (over["second"].astype(str) == eid)]
        comb = inp.analyses.get("combined", pd.DataFrame())
        if len(comb):
            comb = comb[(comb["event_id"].astype(str) == eid) | (comb["second"].astype(str) == eid)]
        close = mine[mine["event_windows_overlap"].astype(bool)]
        far = mine[~mine["event_windows_overlap"].astype(bool)]
        if len(close) or len(comb):
            out.append(
                Analysis(
                    "combined",
                    "Overlapping windows and the combined window",
                    " ".join(close["statement"]),
                    display(
                        comb,
                        [*ex_col, "span", "window", "start", "end", *_ROBUST_COLS, *_ROBUST_COLS2],
                    )
                    if len(comb)
                    else None,
                )
            )
        if len(far):
            out.append(
                Analysis(
                    "overlaps",
                    "Other events inside the estimation window",
                    " ".join(far["statement"]),
                    None,
                )
            )
    return out


def _role_note(inp: ReportInput, roles: pd.DataFrame, eid: str) -> str:
    """What the role portfolios are, and which firms moved against the named OEMs on day 0
    (e.g. Suzuki on 2025-12-04)."""
    sizes = {
        str(r.role): int(r.n)
        for r in roles[roles["window"] == roles["window"].iloc[0]].itertuples(index=False)
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
    day = roles[(roles["window"] == "(0,0)") & (roles["role"] == "oem")]
    firms = inp.firms
    if day.empty or firms.empty:
        return parts[0]
    oem_car = float(day["caar"].iloc[0])
    n_oem = int(day["n"].iloc[0])
    ar0 = firms[(firms["event_id"].astype(str) == eid) & (firms["measure"] == "AR(0)")]
    oem_syms = [str(s) for s in ar0.loc[ar0["role"] == "oem", "security"]]
    day0 = _day0(inp, eid)
    oem_raw = [x for x in (_raw_day0(inp, day0, s) for s in oem_syms) if x is not None]
    against = ar0[
        (ar0["role"] != "oem")
        & np.isfinite(ar0["estimate"].to_numpy(dtype=float))
        & (np.sign(ar0["estimate"].to_numpy(dtype=float)) != np.sign(oem_car))
    ]
    more = 0
    if len(against) > MOVERS_SHOWN:  # a universe: name the largest moves against the OEMs
        more = len(against) - MOVERS_SHOWN
        against = against.iloc[
            np.argsort(-np.abs(against["estimate"].to_numpy(dtype=float)), kind="stable")[
                :MOVERS_SHOWN
            ]
        ]
    for r in against.itertuples(index=False):
        text = (
            f"{r.name} {r.security} moved against the {n_oem} named OEMs on day 0: AR "
            f"{r.estimate * 100:+.2f}%"
        )
        raw = _raw_day0(inp, day0, str(r.security))
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
