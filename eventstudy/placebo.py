"""Placebo event dates drawn from a study's own history (Brown & Warner 1980, 1985).

Used by the placebo lab (:mod:`eventstudy.simulate`) and by the calibrated p-values of a study
(:mod:`eventstudy.calibration`): pseudo day-0 dates where every security of an event has enough
estimation history and a full window, away from the real event windows.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.exceptions import ConfigError, DataError, PlaceboDatesWarning, format_warning
from eventstudy.vocabulary import Window

__all__ = [
    "Window",
    "as_columns",
    "default_event_ids",
    "draw_placebo_events",
    "eligible_positions",
]


def default_event_ids(events: pd.DataFrame) -> pd.DataFrame:
    missing = {"security", "event_date"} - set(events.columns)
    if missing:
        raise ConfigError(
            field="events",
            value=sorted(events.columns),
            expected=f"a DataFrame with columns security, event_date (missing {sorted(missing)})",
        )
    out = events.copy()
    out["event_date"] = pd.to_datetime(out["event_date"])
    if "event_id" not in out.columns:
        out["event_id"] = out["event_date"].dt.strftime("%Y-%m-%d")
    out["event_id"] = out["event_id"].astype(str)
    return out


def as_columns(returns: pd.DataFrame, names: Sequence[str], what: str) -> list[str]:
    cols = list(names)
    missing = [c for c in cols if c not in returns.columns]
    if missing:
        raise ConfigError(
            field=what, value=missing, expected=f"columns of returns ({list(returns.columns)})"
        )
    return cols


def eligible_positions(
    returns: pd.DataFrame,
    securities: Sequence[str],
    *,
    market: str | None,
    factors: Sequence[str] = (),
    estimation: Window = (-260, -11),
    window: Window = (-10, 10),
    min_estimation_obs: int = 100,
    avoid_dates: Sequence[Any] = (),
) -> np.ndarray:
    """Row positions of ``returns`` that can serve as a pseudo day 0 for a cluster.

    A position ``p`` is eligible when

    * the estimation window ``[p + estimation[0], p + estimation[1]]`` and the event window
      ``[p + window[0], p + window[1]]`` lie inside the sample;
    * every security of the cluster has at least ``min_estimation_obs`` returns in the estimation
      window on sessions where the market (and every factor) has one;
    * every security, the market and the factors have a return on every day of the event window;
    * the event window does not overlap the event window of any date in ``avoid_dates`` (the real
      events, and whatever else the analyst wants kept out): ``|p - q| > window[1] - window[0]``.

    Returns
    -------
    ndarray of int
        Sorted eligible positions.
    """
    n = len(returns)
    e0, e1 = estimation
    w0, w1 = window
    lo = max(0, -min(e0, w0))
    hi = n - 1 - max(w1, e1, 0)
    if hi < lo:
        return np.empty(0, dtype=np.intp)
    pos = np.arange(lo, hi + 1)
    common = [c for c in [market, *factors] if c is not None]
    base = returns[common].notna().all(axis=1).to_numpy() if common else np.ones(n, dtype=bool)
    # sessions each security (columns) has a return on, with the market and factors
    have = returns[list(securities)].notna().to_numpy() & base[:, None]
    cum = np.zeros((n + 1, have.shape[1]), dtype=np.int64)
    np.cumsum(have, axis=0, out=cum[1:])
    n_est = cum[pos + e1 + 1] - cum[pos + e0]
    n_win = cum[pos + w1 + 1] - cum[pos + w0]
    ok = ((n_est >= min_estimation_obs) & (n_win == w1 - w0 + 1)).all(axis=1)
    if len(avoid_dates):
        # a date that is not a session counts from the next session
        dates = pd.DatetimeIndex(pd.to_datetime(list(avoid_dates)))
        where = np.unique(returns.index.searchsorted(dates))
        gap = w1 - w0
        dist = np.abs(pos[:, None] - where[None, :])
        ok &= (dist > gap).all(axis=1)
    return pos[ok]


def draw_placebo_events(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    *,
    draws: int = 1000,
    market: str | None = "MKT",
    factors: Sequence[str] = (),
    estimation: Window = (-260, -11),
    window: Window = (-10, 10),
    min_estimation_obs: int = 100,
    exclude_dates: Sequence[Any] = (),
    seed: int | np.random.Generator = 0,
    min_dates: int = 30,
    dedupe: bool = True,
) -> pd.DataFrame:
    """Draw pseudo events that keep the study's structure.

    Each distinct cluster of the study (the securities sharing a real ``event_id``; events with
    the same securities count once) is a template. Draw ``d`` uses template ``d mod K`` (``K``
    templates, in order of first appearance, named by their first event) and a pseudo day 0
    drawn from :func:`eligible_positions` for that cluster, avoiding the real event windows and
    ``exclude_dates``. Dates are drawn without replacement within a template until its eligible
    dates run out, then from a fresh permutation (so draws beyond that number reuse dates, with
    a :class:`~eventstudy.exceptions.PlaceboDatesWarning`).

    Parameters
    ----------
    returns : DataFrame
        Returns panel (sessions x securities, market, factors).
    events : DataFrame
        The study's events: ``security``, ``event_date``, optional ``event_id``.
    draws : int
        Number of placebo studies.
    seed : int or numpy Generator
        Seed of ``numpy.random.default_rng``; the same seed gives the same draws.
    min_dates : int, default 30
        Fewest eligible sessions per template; fewer is a :class:`DataError` (a simulation on a
        handful of dates says nothing). Fewer eligible sessions than draws gives a
        :class:`~eventstudy.exceptions.PlaceboDatesWarning` (dates are reused).
    dedupe : bool, default True
        Events with the same securities share one template. ``False``: every event is a
        template of its own (draw ``d`` uses event ``d mod E``: placebo study ``b`` is draws
        ``b E .. b E + E - 1``, one pseudo-event per real event; see
        :mod:`eventstudy.calibration`).

    Returns
    -------
    DataFrame
        One row per (draw, security): ``draw``, ``event_id`` (``placebo-00000`` ...),
        ``template`` (the real event_id copied), ``security``, ``event_date``.

    Raises
    ------
    DataError
        When a template has fewer than ``min_dates`` eligible sessions.
    """
    if int(draws) < 1:
        raise ConfigError(field="draws", value=draws, expected="a positive integer")
    ev = default_event_ids(events)
    as_columns(returns, ev["security"].unique(), "events.security")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    # one template per distinct set of securities (events sharing the same securities are the
    # same structure: their draws come from one pool of dates, without replacement)
    templates = []
    seen: set[frozenset[str]] = set()
    for eid, g in ev.groupby("event_id", sort=False):
        key = frozenset(g["security"])
        if key not in seen or not dedupe:
            seen.add(key)
            templates.append(eid)
    avoid = [*ev["event_date"].unique(), *exclude_dates]
    k = len(templates)
    counts = [draws // k + (1 if i < draws % k else 0) for i in range(k)]
    index = returns.index
    rows_draw: list[np.ndarray] = []
    rows_pos: list[np.ndarray] = []
    rows_tpl: list[int] = []
    secs_by_tpl: list[list[str]] = []
    for t, (tpl, count) in enumerate(zip(templates, counts, strict=True)):
        secs = list(dict.fromkeys(ev.loc[ev["event_id"] == tpl, "security"]))
        secs_by_tpl.append(secs)
        if count == 0:
            continue
        elig = eligible_positions(
            returns,
            secs,
            market=market,
            factors=factors,
            estimation=estimation,
            window=window,
            min_estimation_obs=min_estimation_obs,
            avoid_dates=avoid,
        )
        if len(elig) < max(int(min_dates), 1):
            raise DataError(
                symbol=",".join(secs),
                detail=(
                    f"only {len(elig)} session(s) can serve as a placebo day 0 for event {tpl} "
                    f"(at least {min_dates} needed; each needs {min_estimation_obs} estimation "
                    f"returns in {estimation} and a full window {window} away from the real "
                    "events)"
                ),
                fix=(
                    "fetch a longer price history (data_start in the study, or "
                    "eventstudy.runner.prepare_history), or shorten the estimation window"
                ),
            )
        if len(elig) < count:
            warnings.warn(
                format_warning(PlaceboDatesWarning, event_id=tpl, eligible=len(elig), draws=count),
                stacklevel=3,
            )
        chosen: list[np.ndarray] = []
        need = count
        while need > 0:
            perm = rng.permutation(elig)
            chosen.append(perm[:need])
            need -= len(perm[:need])
        rows_pos.append(np.concatenate(chosen))
        rows_draw.append(np.arange(t, draws, k)[:count])
        rows_tpl.extend([t] * count)
    draw_ids = np.concatenate(rows_draw)
    positions = np.concatenate(rows_pos)
    tpl_ids = np.asarray(rows_tpl)
    order = np.argsort(draw_ids, kind="stable")
    draw_ids, positions, tpl_ids = draw_ids[order], positions[order], tpl_ids[order]
    width = max(5, len(str(draws - 1)))
    sizes = np.array([len(secs_by_tpl[t]) for t in tpl_ids])
    rep = np.repeat(np.arange(len(draw_ids)), sizes)
    out = pd.DataFrame(
        {
            "draw": draw_ids[rep].astype(int),
            "event_id": np.array([f"placebo-{int(d):0{width}d}" for d in draw_ids])[rep],
            "template": np.array(templates, dtype=object)[tpl_ids[rep]],
            "security": [s for t in tpl_ids for s in secs_by_tpl[t]],
            "event_date": index[positions[rep]],
        }
    )
    return out
