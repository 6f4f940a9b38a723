"""Placebo-calibrated p-values: every test measured against its own null on the study's data.

``event_study(..., calibrate=B)`` draws ``B`` placebo day-0 dates for every event of the study
from the returns it was given (the event's own securities sharing each pseudo date, the same
estimation and event windows, never overlapping a real event window), fits them in one engine
call and runs the one battery (:mod:`eventstudy.battery`) on them, grouped exactly as the real
tables are grouped: one block per placebo draw of an event (``by="event_id"``), one placebo
study per draw pooling one pseudo-event per real event (``by=None``), or per pool.

For a test whose nominal p-value on the real data is ``p``, the calibrated p-value is

``p_calibrated = (1 + #{b : p_b <= p}) / (1 + B_used)``,

with ``p_b`` the same test's nominal p-value on placebo ``b`` and ``B_used`` the placebos where
it could be computed. Ordering by the nominal (two-sided) p-value makes "at least as extreme"
two-sided for every test, whatever its statistic (t, normal, F, chi-squared, Wilcoxon's V), and
ties count against the real data (conservative). This is the Monte Carlo p-value of Barnard
(1963) and Davison & Hinkley (1997, eq. 4.11), with the placebo studies of Brown & Warner (1980,
1985) as the null; it is valid whatever the test's own distributional assumptions, provided the
abnormal-return process is stationary over the history used (the placebo dates stand for the
event date) and the placebos are many enough (the smallest attainable value is ``1/(1 + B)``).

The same placebos give each test's measured size: the share of placebo studies in which it
rejects at 5%, with its Clopper-Pearson interval (:func:`eventstudy.simulate.binomial_interval`
runs the same rule on the lab's draws). A test is *valid here* when 5% lies in that interval.

References
----------
Barnard, G. A. (1963). Discussion of "The spectral analysis of point processes". *JRSS B* 25, 294.

Brown, S. J. and Warner, J. B. (1980, 1985). *Journal of Financial Economics* 8, 205-258; 14, 3-31.

Davison, A. C. and Hinkley, D. V. (1997). *Bootstrap Methods and their Application*. Cambridge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from scipy import special as _sp

from eventstudy.exceptions import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from eventstudy.results import EventStudyResults

__all__ = ["CIMethod", "Calibration", "binomial_interval", "calibrated_p", "measured_size"]

CIMethod = Literal["clopper-pearson", "wilson"]

#: The nominal level whose size the placebos measure for the verdict.
SIZE_LEVEL = 0.05


def binomial_interval(
    successes: Any,
    trials: Any,
    confidence: float = 0.95,
    method: CIMethod = "clopper-pearson",
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval for a binomial proportion (vectorised).

    Parameters
    ----------
    successes, trials : array_like of int
        Number of rejections and of placebo studies.
    confidence : float, default 0.95
        Coverage of the interval.
    method : {"clopper-pearson", "wilson"}
        ``"clopper-pearson"`` (default) is the exact interval, conservative: it covers the true
        rate at least ``confidence`` of the time. ``"wilson"`` is the score interval, shorter and
        close to nominal coverage.

    Returns
    -------
    (low, high) : tuple of ndarray
        NaN where ``trials`` is 0.

    Notes
    -----
    The intervals of statsmodels' ``proportion_confint`` (``method="beta"`` and ``"wilson"``;
    the tests check them against it), computed with ``scipy.special.betaincinv`` and
    ``ndtri``: statsmodels' module imports ``scipy.stats``, about a second of start-up on the
    command line, which every calibrated run would pay. ``NaN`` where there was no trial.
    Clopper–Pearson: ``low = Beta(a/2; k, n-k+1)``,
    ``high = Beta(1-a/2; k+1, n-k)`` quantiles, with ``low = 0`` when ``k = 0`` and ``high = 1``
    when ``k = n`` (Clopper and Pearson, 1934). Wilson:
    ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` (Wilson, 1927).
    """
    if method not in ("clopper-pearson", "wilson"):
        raise ConfigError(field="ci_method", value=method, expected='"clopper-pearson" or "wilson"')
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    alpha = 1.0 - confidence
    bad = ~(n > 0)
    n1 = np.where(bad, 1.0, n)
    k1 = np.clip(np.where(bad, 0.0, k), 0.0, n1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "clopper-pearson":
            low = np.where(k1 > 0, _sp.betaincinv(k1, n1 - k1 + 1, alpha / 2), 0.0)
            high = np.where(k1 < n1, _sp.betaincinv(k1 + 1, n1 - k1, 1 - alpha / 2), 1.0)
        else:
            z = _sp.ndtri(1 - alpha / 2)
            p = k1 / n1
            denom = 1 + z**2 / n1
            centre = (p + z**2 / (2 * n1)) / denom
            half = z * np.sqrt(p * (1 - p) / n1 + z**2 / (4 * n1**2)) / denom
            low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    low = np.where(bad, np.nan, low)
    high = np.where(bad, np.nan, high)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def calibrated_p(p_obs: np.ndarray, p_null: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(1 + #{p_null <= p_obs}) / (1 + n)`` along the last axis of ``p_null``.

    Parameters
    ----------
    p_obs : ndarray, shape (...)
        Nominal p-values on the real data.
    p_null : ndarray, shape (..., B)
        The same test's nominal p-values on the placebos (``NaN`` where it could not run).

    Returns
    -------
    p_calibrated, n_used : ndarray, shape (...)
        ``NaN`` where ``p_obs`` is ``NaN`` or no placebo has a p-value.
    """
    p_obs = np.asarray(p_obs, dtype=float)
    p_null = np.asarray(p_null, dtype=float)
    ok = np.isfinite(p_null)
    n = ok.sum(axis=-1)
    with np.errstate(invalid="ignore"):
        hits = (ok & (p_null <= p_obs[..., None])).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (1.0 + hits) / (1.0 + n)
    return np.where(np.isfinite(p_obs) & (n > 0), out, np.nan), n


def measured_size(p_null: np.ndarray, level: float = SIZE_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Share of placebos with a nominal p-value at or below ``level`` (last axis), and their
    number (``NaN`` without any)."""
    p_null = np.asarray(p_null, dtype=float)
    ok = np.isfinite(p_null)
    n = ok.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (ok & (p_null <= level)).sum(axis=-1) / n
    return np.where(n > 0, rate, np.nan), n


@dataclass(frozen=True, eq=False)
class Calibration:
    """The placebo studies of a study (see the module notes).

    Attributes
    ----------
    placebo : EventStudyResults or None
        The engine's results on every placebo event (``None`` when no event could be
        calibrated).
    template : dict
        placebo event id -> (real event id, draw number ``b``).
    events : list of str
        The real event ids calibrated, in the study's order.
    n_draws : int
        Placebo dates asked per event.
    eligible : dict
        real event id -> sessions that could serve as its placebo day 0.
    notes : list of str
        What limits the calibration (dates reused, events without placebos), in words.
    seed : int or None
    """

    placebo: EventStudyResults | None
    template: dict[str, tuple[str, int]]
    events: list[str]
    n_draws: int
    eligible: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seed: int | None = None

    @cached_property
    def _groupings(self) -> dict[Any, _Grouping]:
        """The placebo groupings already built, by real grouping and labels."""
        return {}

    @cached_property
    def _slots(self) -> tuple[np.ndarray, np.ndarray]:
        """Row (real event, in :attr:`events` order) and draw of each placebo event, in the
        placebo results' event order."""
        assert self.placebo is not None
        where = {e: i for i, e in enumerate(self.events)}
        slots = [self.template[pid] for pid in self.placebo.battery_labels("event_id")]
        rows = np.array([where[eid] for eid, _ in slots], dtype=np.intp)
        draws = np.array([b for _, b in slots], dtype=np.intp)
        return rows, draws

    def _grouping(self, by: Any, labels: Sequence[str] | None) -> _Grouping:
        """The placebo grouping matching the real grouping ``by`` (built once per grouping)."""
        key: Any
        if by is None or isinstance(by, str):
            key = (by, tuple(labels or ()))
        else:
            key = (
                tuple(sorted((str(k), str(v)) for k, v in dict(by).items())),
                tuple(labels or ()),
            )
        if key not in self._groupings:
            self._groupings[key] = self._make_grouping(by, labels)
        return self._groupings[key]

    def _make_grouping(self, by: Any, labels: Sequence[str] | None) -> _Grouping:
        """Placebo event -> block label ``"<real block>|<draw>"``, the real block labels in
        order, and the (real block, draw) of each placebo block in the battery's order."""
        assert self.placebo is not None
        present = set(self.placebo.battery_labels("event_id"))
        if by is None:
            real = ["all"]
            member = {e: "all" for e in self.events}
        elif isinstance(by, str):
            real = list(labels or [])
            member = {e: e for e in self.events}
        else:
            pools = {str(k): str(v) for k, v in dict(by).items()}
            real = list(labels or [])
            member = {e: pools[e] for e in self.events if e in pools}
        mapping = {
            pid: f"{member[eid]}|{b}"
            for pid, (eid, b) in self.template.items()
            if pid in present and eid in member
        }
        if not mapping:
            return _Grouping(mapping, real, np.empty(0, np.intp), np.empty(0, np.intp))
        block_labels = self.placebo.battery_labels(mapping)
        where = {lab: i for i, lab in enumerate(real)}
        split = [lab.rsplit("|", 1) for lab in block_labels]
        rows = np.array([where[r] for r, _ in split], dtype=np.intp)
        draws = np.array([int(b) for _, b in split], dtype=np.intp)
        return _Grouping(mapping, real, rows, draws)

    def null_pvalues(
        self,
        window: tuple[int, int],
        cumulative: bool,
        by: str | Mapping[str, str] | None,
        labels: Sequence[str] | None,
        tests: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Each test's nominal p-values on the placebos, per real block: arrays of shape
        ``(blocks, B)`` (cumulative) or ``(blocks, days, B)`` (daily), ``NaN`` where a placebo is
        missing or its test could not run."""
        if self.placebo is None:
            return {}
        g = self._grouping(by, labels)
        if not g.mapping:
            return {}
        res = self.placebo.battery(window, cumulative=cumulative, by=g.mapping, tests=tests)
        out: dict[str, np.ndarray] = {}
        for name, r in res.items():
            p = np.asarray(r.p_value, dtype=float)
            shape = (len(g.real), *p.shape[1:], self.n_draws)
            arr = np.full(shape, np.nan)
            if p.ndim == 1:
                arr[g.rows, g.draws] = p
            else:
                arr[g.rows, :, g.draws] = p
            out[name] = arr
        return out

    def portfolio_cars(self, window: tuple[int, int]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Placebo CARs of each real event's portfolio over ``window`` and their t-ratios:
        event id -> ``(car (B,), t (B,))``, ``NaN`` where a placebo is missing."""
        if self.placebo is None:
            return {}
        car, _, stat = self.placebo.portfolio_car_arrays(window)
        rows, draws = self._slots
        cars = np.full((len(self.events), self.n_draws), np.nan)
        ts = np.full((len(self.events), self.n_draws), np.nan)
        cars[rows, draws] = car
        ts[rows, draws] = stat
        out = {e: (cars[i], ts[i]) for i, e in enumerate(self.events)}
        return out


@dataclass(frozen=True, eq=False)
class _Grouping:
    """How the placebo blocks of one real grouping sit in the real blocks.

    Attributes
    ----------
    mapping : dict
        Placebo event id -> placebo block label ``"<real block>|<draw>"``.
    real : list of str
        The real block labels, in order.
    rows, draws : ndarray of int
        Real block and draw of each placebo block, in the placebo battery's block order.
    """

    mapping: dict[str, str]
    real: list[str]
    rows: np.ndarray
    draws: np.ndarray
