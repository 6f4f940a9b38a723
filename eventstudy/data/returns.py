"""Daily returns from adjusted closes, aligned on one exchange's sessions."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

from eventstudy.exceptions import DataError, DataWarning, MissingSessionsWarning, format_warning

__all__ = ["compute_returns", "returns_from_panel"]

#: A series whose observations fall on non-sessions more often than this is on another
#: calendar (FX, a foreign index) and is aligned "as of" instead of session by session.
OFF_CALENDAR_SHARE = 0.02
#: As-of alignment never reaches further back than this many calendar days.
MAX_STALENESS_DAYS = 7


def _fmt_dates(dates: pd.DatetimeIndex, limit: int = 10) -> str:
    shown = ", ".join(f"{d.date()}" for d in dates[:limit])
    more = len(dates) - limit
    return shown + (f" (+{more} more)" if more > 0 else "")


def compute_returns(
    prices: Mapping[str, pd.DataFrame],
    sessions: pd.DatetimeIndex | None = None,
    kind: Literal["simple", "log"] = "simple",
    *,
    exchange: str | None = None,
    asof: Iterable[str] | None = None,
    asof_side: Literal["on_or_before", "before"] = "on_or_before",
) -> pd.DataFrame:
    r"""Daily returns of every symbol from its adjusted close, on one set of sessions.

    Parameters
    ----------
    prices : mapping of str to DataFrame
        Prices frames (the ``PriceSource`` shape) keyed by symbol; ``adj_close`` is used.
    sessions : DatetimeIndex, optional
        The sessions of the exchange the returns are aligned on (from the calendar
        module, e.g. XTKS sessions). Default: the union of all the series' dates.
    kind : {"simple", "log"}, default "simple"
        :math:`P_t / P_{t-1} - 1` or :math:`\ln(P_t / P_{t-1})`.
    exchange : str, optional
        Exchange name used in warnings (e.g. ``"XTKS"``).
    asof : iterable of str, optional
        Symbols to align "as of" (see Notes). Default: detected, namely every series
        with more than 2% of its dates on non-sessions (FX, foreign indices).
    asof_side : {"on_or_before", "before"}, default "on_or_before"
        For as-of series, take the last observation on or before each session date, or
        strictly before it (use "before" when the series' daily close comes after the
        exchange's close, e.g. a New York index in a Tokyo study, to avoid look-ahead).

    Returns
    -------
    DataFrame
        Index: the sessions (tz-naive, named ``date``); one column per symbol in the
        order of ``prices``; ``NaN`` where there is no observation. ``attrs["missing"]``
        maps each symbol to the sessions it lacks, ``attrs["alignment"]`` to
        ``"sessions"`` or ``"asof"``.

    Warns
    -----
    MissingSessionsWarning
        For each symbol on the exchange's calendar that lacks sessions between its first
        and last observation (those returns stay ``NaN``: the session with no price and
        the next one; nothing is forward-filled).
    DataWarning
        When a session-aligned series has prices on dates that are not sessions (they
        are ignored), or an as-of series has gaps longer than a week.

    Notes
    -----
    *Series on the exchange's calendar* (stocks and the local index) are reindexed on
    the sessions: the return on session :math:`t` is :math:`P_t/P_{t-1} - 1` with
    :math:`t-1` the previous **session**; when either price is missing, the return is
    ``NaN`` and the session is reported. The first session's return is ``NaN``.

    *Series on another calendar* (e.g. ``JPY=X``, whose fixings include Tokyo holidays
    and skip some Tokyo sessions) are aligned as of each session: :math:`P_t` is the
    last observation on or before session :math:`t` (strictly before with
    ``asof_side="before"``), at most 7 calendar days old. The return on session
    :math:`t` therefore spans everything since the previous session, including moves on
    the exchange's holidays, so returns still compound to the series' total change.
    """
    if kind not in ("simple", "log"):
        raise DataError(
            symbol="returns", detail=f"unknown return kind {kind!r}", fix="use 'simple' or 'log'"
        )
    series: dict[str, pd.Series] = {}
    for sym, df in prices.items():
        if "adj_close" not in df.columns:
            raise DataError(
                symbol=sym, detail="prices have no adj_close column", fix="use a PriceSource"
            )
        s = df["adj_close"].astype("float64").dropna()
        idx = pd.DatetimeIndex(s.index)
        if idx.tz is not None:
            idx = idx.tz_localize(None)
        s.index = idx.normalize()
        if s.index.has_duplicates:
            raise DataError(
                symbol=sym,
                detail=f"duplicate date {s.index[s.index.duplicated()][0].date()}",
                fix="keep one price per date",
            )
        s = s.sort_index()
        if (s <= 0).any():
            bad = s.index[(s <= 0).to_numpy()][0]
            raise DataError(
                symbol=sym,
                detail=f"non-positive adjusted close on {bad.date()}",
                fix="prices must be positive",
            )
        series[sym] = s
    union = pd.DatetimeIndex([])
    if sessions is None:
        for s in series.values():
            union = union.union(s.index)
    sess = _sessions(sessions, union)
    where = exchange or "the exchange"
    forced = set(asof or ())
    out: dict[str, np.ndarray] = {}
    missing: dict[str, list[pd.Timestamp]] = {}
    alignment: dict[str, str] = {}
    for sym, s in series.items():
        out[sym], missing[sym], alignment[sym] = _one_series(
            sym, s, sess, where, forced, asof, asof_side, kind
        )
    res = pd.DataFrame(out, index=sess, columns=list(series))
    res.columns.name = None
    res.attrs = {"missing": missing, "alignment": alignment, "kind": kind}
    return res


def _asof_prices(
    s: pd.Series, sess: pd.DatetimeIndex, side: str
) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Last observation on or before (or strictly before) each session, if recent enough."""
    obs = s.index.to_numpy()
    pos = np.searchsorted(obs, sess.to_numpy(), side="right" if side == "on_or_before" else "left")
    pos = pos - 1
    valid = pos >= 0
    p = np.full(len(sess), np.nan)
    p[valid] = s.to_numpy()[pos[valid]]
    age = np.full(len(sess), np.inf)
    age[valid] = (sess.to_numpy()[valid] - obs[pos[valid]]) / np.timedelta64(1, "D")
    too_old = valid & (age > MAX_STALENESS_DAYS)
    p[too_old] = np.nan
    # sessions after the series ends are outside it (NaN, not carried forward); with
    # side="before" the first session after the last observation still uses it
    last = s.index[-1]
    after = np.asarray(sess > last)
    if side == "before" and after.any():
        after[int(np.argmax(after))] = False
    stale = sess[too_old & ~after]
    p[after] = np.nan
    return p, stale


def returns_from_panel(
    panel: pd.DataFrame,
    sessions: pd.DatetimeIndex | None = None,
    kind: Literal["simple", "log"] = "simple",
    *,
    exchange: str | None = None,
    asof: Iterable[str] | None = None,
    asof_side: Literal["on_or_before", "before"] = "on_or_before",
) -> pd.DataFrame:
    """:func:`compute_returns` of a dates x symbols panel of adjusted closes, vectorised.

    The result is the one :func:`compute_returns` gives for per-symbol Prices frames
    holding each column's non-missing values (``NaN`` = no price that day): the same
    returns to the bit, the same ``attrs`` (``missing``, ``alignment``, ``kind``), the
    same warnings in the same order and the same first error.

    Parameters
    ----------
    panel : DataFrame
        Adjusted closes: one column per symbol (unique names), a date index.
    sessions : DatetimeIndex, optional
        The exchange's sessions; default every date where some symbol has a price.
    kind : {"simple", "log"}, default "simple"
        As for :func:`compute_returns`.
    exchange : str, optional
        Exchange name used in warnings.
    asof : iterable of str, optional
        Symbols to align "as of" (default: detected, as :func:`compute_returns` does).
    asof_side : {"on_or_before", "before"}, default "on_or_before"
        As for :func:`compute_returns`.

    Returns
    -------
    DataFrame
        As :func:`compute_returns`.

    Notes
    -----
    The columns on the exchange's calendar (no price on a non-session between the first
    and the last session, not aligned "as of") are computed as one array: prices
    reindexed on the sessions, :math:`P_t/P_{t-1} - 1` (or its log) down the rows. The
    other columns (as-of series such as FX, series with off-session prices, empty ones)
    go through the per-symbol code, in column order so that warnings keep their order.
    A panel whose date index has duplicates, is unsorted or has duplicate column names
    is handed to :func:`compute_returns` as per-symbol frames (its errors and order are
    then those of the per-symbol path by construction).
    """
    if kind not in ("simple", "log"):
        raise DataError(
            symbol="returns", detail=f"unknown return kind {kind!r}", fix="use 'simple' or 'log'"
        )
    idx = pd.DatetimeIndex(panel.index)
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    idx = idx.normalize()
    names = [str(c) for c in panel.columns]
    if idx.has_duplicates or not idx.is_monotonic_increasing or len(set(names)) != len(names):
        frames = {
            sym: pd.DataFrame({"adj_close": panel.iloc[:, j].to_numpy()}, index=panel.index)
            for j, sym in enumerate(names)
        }
        return compute_returns(
            frames, sessions, kind, exchange=exchange, asof=asof, asof_side=asof_side
        )
    values = panel.to_numpy(dtype="float64", copy=False)
    notna = ~np.isnan(values)
    with np.errstate(invalid="ignore"):
        bad = notna & (values <= 0)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        first_bad = idx[int(np.argmax(bad[:, j]))]
        raise DataError(
            symbol=names[j],
            detail=f"non-positive adjusted close on {first_bad.date()}",
            fix="prices must be positive",
        )
    sess = _sessions(sessions, idx[notna.any(axis=1)])
    where = exchange or "the exchange"
    forced = set(asof or ())
    n_obs = notna.sum(axis=0)
    if len(sess):
        in_range = (idx >= sess[0]) & (idx <= sess[-1])
        off = in_range & ~idx.isin(sess)
        n_in = (notna & in_range[:, None]).sum(axis=0)
        n_off = (notna & off[:, None]).sum(axis=0)
    else:
        n_in = n_off = np.zeros(len(names), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(n_in > 0, n_off / np.maximum(n_in, 1), 0.0)
    special = (n_obs == 0) | (n_off > 0) | (len(sess) == 0)
    if asof is None:
        special |= share > OFF_CALENDAR_SHARE
    special |= np.array([sym in forced for sym in names], dtype=bool)
    pos = idx.get_indexer(sess)
    p = np.full((len(sess), len(names)), np.nan)
    if len(sess):
        p[pos >= 0] = values[pos[pos >= 0]]
    out = _ratio(p, kind)
    gap_cols = np.zeros(len(names), dtype=bool)
    gap_mask = np.zeros_like(p, dtype=bool)
    if len(sess) and len(idx):
        first = idx.to_numpy()[np.argmax(notna, axis=0)]
        last = idx.to_numpy()[len(idx) - 1 - np.argmax(notna[::-1], axis=0)]
        s_arr = sess.to_numpy()[:, None]
        gap_mask = (s_arr >= first[None, :]) & (s_arr <= last[None, :]) & np.isnan(p)
        gap_cols = gap_mask.any(axis=0) & ~special
    missing: dict[str, list[pd.Timestamp]] = {}
    alignment: dict[str, str] = {}
    for j, sym in enumerate(names):
        if special[j]:
            s = pd.Series(values[:, j], index=idx).dropna()
            out[:, j], missing[sym], alignment[sym] = _one_series(
                sym, s, sess, where, forced, asof, asof_side, kind
            )
            continue
        alignment[sym] = "sessions"
        if gap_cols[j]:
            gaps = sess[gap_mask[:, j]]
            _warn_gaps(sym, gaps, where)
            missing[sym] = list(gaps)
        else:
            missing[sym] = []
    res = pd.DataFrame(out, index=sess, columns=names)
    res.columns.name = None
    res.attrs = {"missing": missing, "alignment": alignment, "kind": kind}
    return res


def _sessions(sessions: pd.DatetimeIndex | None, union: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The sessions returns are aligned on: ``sessions`` normalised, or ``union``."""
    if sessions is None:
        sess = union
    else:
        sess = pd.DatetimeIndex(sessions)
        if sess.tz is not None:
            sess = sess.tz_localize(None)
        sess = sess.normalize()
    return pd.DatetimeIndex(sess.unique().sort_values(), name="date")


def _one_series(
    sym: str,
    s: pd.Series,
    sess: pd.DatetimeIndex,
    where: str,
    forced: set[str],
    asof: Iterable[str] | None,
    asof_side: Literal["on_or_before", "before"],
    kind: Literal["simple", "log"],
    stacklevel: int = 3,
) -> tuple[np.ndarray, list[pd.Timestamp], str]:
    """One symbol's returns on ``sess``: (returns, sessions missing, alignment), warning
    about the sessions it lacks (see :func:`compute_returns`); ``stacklevel`` 3 points
    the warnings at the caller of the function that called this one."""
    if len(s) == 0 or len(sess) == 0:
        return np.full(len(sess), np.nan), [], "sessions"
    in_range = s[(s.index >= sess[0]) & (s.index <= sess[-1])]
    off = ~in_range.index.isin(sess)
    share = float(off.mean()) if len(in_range) else 0.0
    use_asof = sym in forced or (asof is None and share > OFF_CALENDAR_SHARE)
    if use_asof:
        p, stale = _asof_prices(s, sess, asof_side)
        if len(stale):
            warnings.warn(
                DataWarning(
                    f"{sym}: no observation within {MAX_STALENESS_DAYS} days before "
                    f"{len(stale)} session(s) of {where}: {_fmt_dates(stale)}; "
                    "those returns are NaN"
                ),
                stacklevel=stacklevel,
            )
        return _ratio(p, kind), list(stale), "asof"
    if off.any():
        extra = in_range.index[off]
        warnings.warn(
            DataWarning(
                f"{sym}: {len(extra)} price(s) on dates that are not sessions of "
                f"{where}, ignored: {_fmt_dates(extra)}"
            ),
            stacklevel=stacklevel,
        )
    p = s.reindex(sess).to_numpy()
    inside = (sess >= s.index[0]) & (sess <= s.index[-1])
    gaps = sess[inside & np.isnan(p)]
    _warn_gaps(sym, gaps, where, stacklevel + 1)
    return _ratio(p, kind), list(gaps), "sessions"


def _warn_gaps(sym: str, gaps: pd.DatetimeIndex, where: str, stacklevel: int = 3) -> None:
    if len(gaps):
        warnings.warn(
            format_warning(
                MissingSessionsWarning,
                symbol=sym,
                count=len(gaps),
                exchange=where,
                dates=_fmt_dates(gaps) + " (returns left NaN, not forward-filled)",
            ),
            stacklevel=stacklevel,
        )


def _ratio(p: np.ndarray, kind: Literal["simple", "log"]) -> np.ndarray:
    """:math:`P_t/P_{t-1} - 1` (or its log) down axis 0; the first row is NaN."""
    prev = np.concatenate([np.full((1, *p.shape[1:]), np.nan), p[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = p / prev
        return np.log(r) if kind == "log" else r - 1.0
