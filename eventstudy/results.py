"""The immutable results of an event study, computed lazily from stacked arrays.

:class:`EventStudyResults` holds the fitted arrays (:class:`EngineData`, one row per
firm-event in event time) and derives every table on first use (``functools.cached_property``):
parameters, abnormal returns, CARs, the clustering diagnostics and the test battery. Tables
are returned as fresh (copy-on-write) DataFrames, so editing one never changes the results.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from eventstudy import stats as st
from eventstudy.exceptions import ConfigError
from eventstudy.models import fit_expected_returns, forecast_variance_factor

__all__ = ["CROSS_SECTIONAL_TESTS", "EngineData", "EventStudyResults", "ResultsSummary"]

#: A portfolio residual sd below this share of its members' largest is treated as zero.
_PORTFOLIO_MIN_SIGMA = 1e-8

#: Tests that need at least two firm-events (a cross-sectional standard deviation).
CROSS_SECTIONAL_TESTS: tuple[str, ...] = ("kolari_pynnonen", "grank", "t_test", "bmp")


@dataclass(frozen=True, eq=False)
class EngineData:
    """Everything a fit produced, as stacked arrays (``K`` firm-events, sorted by event).

    ``*_est`` arrays have one column per estimation day (``rel_est``), ``*_win`` arrays one
    per window day (``rel_win``); ``X_*`` are the designs ``(K, days, p)``.
    """

    model: str
    convention: str
    estimation: tuple[int, int]
    window: tuple[int, int]
    market_name: str | None
    factor_names: list[str]
    dimson_lags: int
    param_names: list[str]
    events: pd.DataFrame
    pos: np.ndarray
    rel_est: np.ndarray
    rel_win: np.ndarray
    dates_win: np.ndarray
    y_est: np.ndarray
    y_win: np.ndarray
    X_est: np.ndarray
    X_win: np.ndarray
    coef: np.ndarray
    xtx_inv: np.ndarray
    ar_est: np.ndarray
    ar_win: np.ndarray
    expected_win: np.ndarray
    sigma: np.ndarray
    n_obs: np.ndarray
    r2: np.ndarray
    k: int
    excluded: pd.DataFrame
    returns: pd.DataFrame
    market: np.ndarray | None
    factors: np.ndarray | None


@dataclass(frozen=True, eq=False)
class _Portfolio:
    names: list[str]
    ar_est: np.ndarray
    ar_win: np.ndarray
    X_win: np.ndarray
    xtx_inv: np.ndarray
    sigma: np.ndarray
    df: np.ndarray
    n_obs: np.ndarray


class ResultsSummary:
    """Text and HTML summary of a results object (``str()`` and ``_repr_html_``)."""

    def __init__(self, header: list[str], tables: list[tuple[str, pd.DataFrame]]) -> None:
        self.header = header
        self.tables = tables

    def as_text(self) -> str:
        """The summary as plain text."""
        out = list(self.header)
        for title, df in self.tables:
            out += ["", title, df.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        return "\n".join(out)

    def as_html(self) -> str:
        """The summary as an HTML fragment."""
        parts = ["<div class='eventstudy-summary'>"]
        parts += [f"<p>{html.escape(h)}</p>" for h in self.header]
        for title, df in self.tables:
            parts.append(f"<h4>{html.escape(title)}</h4>")
            parts.append(df.to_html(index=False, float_format=lambda v: f"{v:.4f}", border=0))
        parts.append("</div>")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.as_text()

    def __repr__(self) -> str:
        return self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()


def _nan_sd(a: np.ndarray) -> Any:
    """Sample standard deviation (ddof 1) over axis 0, ``NaN`` (no warning) when n < 2."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(ok, a, 0.0).sum(axis=0) / n
        ss = np.where(ok, (a - m) ** 2, 0.0).sum(axis=0)
        return np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)


def _restandardize(a: np.ndarray) -> np.ndarray:
    """``a / sd(a)`` over axis 0 (grank's GSAR); ``NaN`` without a warning when the sd is 0
    or undefined (identical values, fewer than two)."""
    sd = _nan_sd(a)
    ok = np.isfinite(sd) & (sd > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, a / np.where(ok, sd, 1.0), np.nan)


def _nan_mean_rows(a: np.ndarray) -> np.ndarray:
    n = np.isfinite(a).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(a, axis=0) / np.maximum(n, 1), np.nan)


def _frozen(value: Any) -> Any:
    """A hashable stand-in for an argument (lists of windows become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _memoized(method: Any) -> Any:
    """Remember what a table method of the (immutable) results returns, per arguments.

    Reports, headlines and analyses ask for the same tables many times; the results compute
    each once. Callers get a shallow copy, so adding a column to it leaves the memo intact.
    """

    @functools.wraps(method)
    def wrapper(self: EventStudyResults, *args: Any, **kwargs: Any) -> Any:
        memo = self.__dict__.setdefault("_memo", {})  # __dict__, as cached_property does
        key = (
            method.__name__,
            _frozen(args),
            tuple(sorted((k, _frozen(v)) for k, v in kwargs.items())),
        )
        if key not in memo:
            memo[key] = method(self, *args, **kwargs)
        value = memo[key]
        return value.copy(deep=False) if isinstance(value, pd.DataFrame) else value

    return wrapper


class EventStudyResults:
    """Results of :func:`eventstudy.event_study` (immutable; tables computed on first use).

    Attributes
    ----------
    window, estimation : (int, int)
        Computed event window and estimation window (inclusive relative days).
    model : str
        Expected-return model.
    convention : str
        ``"textbook"`` or ``"estudy2"``.
    """

    def __init__(self, data: EngineData) -> None:
        object.__setattr__(self, "_d", data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("EventStudyResults is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("EventStudyResults is immutable")

    # ------------------------------------------------------------------ settings

    @property
    def window(self) -> tuple[int, int]:
        return self._d.window

    @property
    def estimation(self) -> tuple[int, int]:
        return self._d.estimation

    @property
    def model(self) -> str:
        return self._d.model

    @property
    def convention(self) -> str:
        return self._d.convention

    @property
    def market(self) -> str | None:
        """Name of the market column (or Series) used."""
        return self._d.market_name

    # ------------------------------------------------------------------ internals

    @cached_property
    def _codes(self) -> np.ndarray:
        ids = self._d.events["event_id"].to_numpy(dtype=object)
        return pd.Index(self._event_ids, dtype=object).get_indexer(ids)

    @cached_property
    def _event_ids(self) -> list[str]:
        return [str(x) for x in pd.unique(self._d.events["event_id"].to_numpy(dtype=object))]

    @cached_property
    def _cluster_rows(self) -> list[np.ndarray]:
        codes = self._codes
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(self._event_ids) + 1))
        return [order[bounds[c] : bounds[c + 1]] for c in range(len(self._event_ids))]

    @cached_property
    def _df_sigma(self) -> np.ndarray:
        d = self._d
        return d.n_obs - (1 if d.convention == "estudy2" else max(d.k, 1))

    @cached_property
    def _df_patell(self) -> np.ndarray:
        d = self._d
        return d.n_obs - 2 if d.convention == "estudy2" else self._df_sigma

    @cached_property
    def _mterm_win(self) -> np.ndarray:
        """``(M_t - Mbar)^2 / Sxx`` on window days, market moments over every market
        observation of the estimation window (estudy2's regressor); zero without a
        regression on the market (constant mean, market adjusted) or a constant market."""
        d = self._d
        if d.market is None or d.model in ("constant_mean", "market_adjusted"):
            return np.zeros(d.ar_win.shape)
        m_est = d.X_est[..., 1]
        m_win = d.X_win[..., 1]
        ok = np.isfinite(m_est)
        n = np.maximum(ok.sum(axis=1), 1)
        mbar = np.where(ok, m_est, 0.0).sum(axis=1) / n
        sxx = np.where(ok, (m_est - mbar[:, None]) ** 2, 0.0).sum(axis=1)
        safe = np.where(sxx > 0, sxx, 1.0)
        return np.where((sxx > 0)[:, None], (m_win - mbar[:, None]) ** 2 / safe[:, None], 0.0)

    @cached_property
    def _h_win(self) -> np.ndarray:
        d = self._d
        return forecast_variance_factor(d.X_win, d.xtx_inv)

    @cached_property
    def _c_sar(self) -> np.ndarray:
        """Prediction-error correction ``1 + x'(X'X)^{-1}x`` of each window AR variance."""
        d = self._d
        if d.convention == "estudy2" and d.model == "market" and d.dimson_lags == 0:
            return 1.0 + 1.0 / d.n_obs[:, None] + self._mterm_win
        return 1.0 + self._h_win

    @cached_property
    def _sar_win(self) -> np.ndarray:
        d = self._d
        return d.ar_win / (d.sigma[:, None] * np.sqrt(self._c_sar))

    @cached_property
    def _ranks_textbook(self) -> tuple[np.ndarray, np.ndarray]:
        """Ranks over estimation + computed window and the row medians (textbook)."""
        d = self._d
        ranks, srt = st.rank_rows(np.concatenate([d.ar_est, d.ar_win], axis=1), True)
        return ranks, st.row_medians(srt)

    @cached_property
    def _rank_z_textbook(self) -> dict[str, np.ndarray]:
        """Daily corrado_sign / corrado_rank / modified_rank over the whole computed window
        (textbook, all firm-events): the window statistics are ``sum_t z_t / sqrt(D)``."""
        d = self._d
        Le, W = d.ar_est.shape[1], d.ar_win.shape[1]
        tested = Le + np.arange(W)
        ranks, med = self._ranks_textbook
        full = self._full_textbook
        return {
            "corrado_sign": st.corrado_sign(full, tested, medians=med).statistic,
            "corrado_rank": st.corrado_rank(ranks, tested).statistic,
            "modified_rank": st.modified_rank(ranks, tested).statistic,
        }

    @cached_property
    def _aar_est_all(self) -> np.ndarray:
        """Average estimation-window AR on each relative day over all firm-events."""
        return _nan_mean_rows(self._d.ar_est)

    @cached_property
    def _sr_est(self) -> np.ndarray:
        """Standardized estimation residuals ``e_it / s_i`` (grank)."""
        return self._d.ar_est / self._d.sigma[:, None]

    @cached_property
    def _sr_est_rank_sums(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ranks of the standardized estimation residuals (``NaN`` as 0), their count per
        firm-event and the number of firm-events observed on each estimation day."""
        ranks = st.rank_rows(self._sr_est)
        ok = np.isfinite(ranks)
        return (
            np.where(ok, ranks, 0.0),
            ok.sum(axis=1).astype(float),
            ok.sum(axis=0).astype(float),
        )

    @cached_property
    def _corr_cache(self) -> dict[int, np.ndarray]:
        return {}

    def _resid_corr(self, c: int) -> np.ndarray:
        if c not in self._corr_cache:
            self._corr_cache[c] = _pairwise_corr(self._d.ar_est[self._cluster_rows[c]])
        return self._corr_cache[c]

    @cached_property
    def _rbar(self) -> np.ndarray:
        vals = []
        for c, rows in enumerate(self._cluster_rows):
            n = len(rows)
            if n < 2:
                vals.append(np.nan)
                continue
            E = self._d.ar_est[rows]
            if np.isfinite(E).all():
                # complete panel: sum of the correlation matrix = |sum_i z_i|^2 / L
                Z = (E - E.mean(axis=1, keepdims=True)) / E.std(axis=1, keepdims=True)
                total = float(np.sum(Z.sum(axis=0) ** 2) / E.shape[1])
                vals.append((total - n) / (n * (n - 1)))
                continue
            C = self._resid_corr(c)
            off = C[~np.eye(n, dtype=bool)]
            vals.append(float(np.nanmean(off)) if np.isfinite(off).any() else np.nan)
        return np.array(vals, dtype=float)

    @cached_property
    def _portfolio(self) -> _Portfolio:
        d = self._d
        rows = self._cluster_rows
        first = np.array([r[0] for r in rows])
        order = np.concatenate(rows)
        starts = np.cumsum([0] + [len(r) for r in rows[:-1]])

        identity = bool(np.array_equal(order, np.arange(len(order))))

        def pmean(a: np.ndarray) -> np.ndarray:
            if not identity:  # firm-events are stored sorted by event, so rarely needed
                a = a[order]
            ok = np.isfinite(a)
            s = np.add.reduceat(np.where(ok, a, 0.0), starts, axis=0)
            n = np.add.reduceat(ok.astype(float), starts, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(n > 0, s / n, np.nan)

        y_est, y_win = pmean(d.y_est), pmean(d.y_win)
        X_est, X_win = d.X_est[first], d.X_win[first]
        fit = fit_expected_returns(d.model, y_est, X_est, y_win, X_win, names=d.param_names)  # type: ignore[arg-type]
        df = fit.n_obs - (1 if d.convention == "estudy2" else max(fit.k, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma = np.sqrt(fit.ssr / df)
        # members that offset exactly (S1 = -S0) leave a constant portfolio: its residual
        # variance is 0 up to rounding, no test (NaN, see test_notes)
        scale = np.array([np.nanmax(d.sigma[r]) for r in rows])
        sigma = np.where(sigma > _PORTFOLIO_MIN_SIGMA * scale, sigma, np.nan)
        return _Portfolio(
            names=d.param_names,
            ar_est=fit.ar_est,
            ar_win=fit.ar_win,
            X_win=X_win,
            xtx_inv=fit.xtx_inv,
            sigma=sigma,
            df=df.astype(float),
            n_obs=fit.n_obs,
        )

    def _cols(self, window: tuple[int, int] | None) -> tuple[int, int, np.ndarray]:
        w0, w1 = self._d.window
        if window is None:
            a, b = w0, w1
        else:
            try:
                a, b = (int(v) for v in window)
            except (TypeError, ValueError):
                raise ConfigError(
                    field="window", value=window, expected="a pair of relative days (start, end)"
                ) from None
        if not (w0 <= a <= b <= w1):
            raise ConfigError(
                field="window",
                value=window,
                expected=f"start <= end inside the computed window {self._d.window}",
            )
        return a, b, np.arange(a - w0, b - w0 + 1)

    def _rbar_eff(self, rows: np.ndarray) -> float:
        """Mean pairwise residual correlation over all pairs of ``rows`` (0 across events)."""
        n = len(rows)
        if n < 2:
            return 0.0
        counts = np.bincount(self._codes[rows], minlength=len(self._event_ids)).astype(float)
        r = np.nan_to_num(self._rbar, nan=0.0)
        return float(np.sum(counts * (counts - 1) * r) / (n * (n - 1)))

    def _car_arrays(self, cols: np.ndarray) -> dict[str, np.ndarray]:
        d = self._d
        ar = d.ar_win[:, cols]
        ok = np.isfinite(ar)
        L2 = ok.sum(axis=1).astype(float)
        car = np.where(L2 > 0, np.nansum(ar, axis=1), np.nan)
        s = np.where(ok[..., None], d.X_win[:, cols], 0.0).sum(axis=1)
        q = L2 + np.einsum("ki,kij,kj->k", s, d.xtx_inv, s)
        se = d.sigma * np.sqrt(q)
        r = d.y_win[:, cols]
        e = d.expected_win[:, cols]
        okr = np.isfinite(r) & np.isfinite(e)
        bhar = np.prod(np.where(okr, 1 + r, 1.0), axis=1) - np.prod(
            np.where(okr, 1 + e, 1.0), axis=1
        )
        bhar = np.where(okr.any(axis=1), bhar, np.nan)
        return {"car": car, "se": se, "L2": L2, "bhar": bhar}

    def _portfolio_car(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self._portfolio
        ar = p.ar_win[:, cols]
        ok = np.isfinite(ar)
        L2 = ok.sum(axis=1).astype(float)
        car = np.where(L2 > 0, np.nansum(ar, axis=1), np.nan)
        s = np.where(ok[..., None], p.X_win[:, cols], 0.0).sum(axis=1)
        q = L2 + np.einsum("ki,kij,kj->k", s, p.xtx_inv, s)
        return car, p.sigma * np.sqrt(q)

    @cached_property
    def _sur_setup(self) -> list[np.ndarray | str]:
        """Per event: the common estimation days of its securities, or why SUR cannot run."""
        d = self._d
        out: list[np.ndarray | str] = []
        for rows in self._cluster_rows:
            N = len(rows)
            Y = d.y_est[rows].T
            X = d.X_est[rows[0]]
            common = np.isfinite(Y).all(axis=1) & np.isfinite(X).all(axis=1)
            Lc = int(common.sum())
            k = max(d.k, 1)
            if Lc - k <= N:
                out.append(
                    f"{N} securities but only {Lc - k} residual degrees of freedom on {Lc} "
                    "common estimation days (needs N < days - parameters)"
                )
            else:
                out.append(common)
        return out

    def _sur(self, c: int, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | str:
        """CARs and their joint covariance for event ``c`` (SUR with event dummies)."""
        d = self._d
        setup = self._sur_setup[c]
        if isinstance(setup, str):
            return setup
        rows = self._cluster_rows[c]
        Yw = d.y_win[rows][:, cols].T
        Xw = d.X_win[rows[0]][cols]
        if not (np.isfinite(Yw).all() and np.isfinite(Xw).all()):
            return "a security has no return on a tested day"
        Sigma, nu, B, xtx_inv = self._sur_sigma(c)
        if d.model == "market_adjusted":
            car = (Yw - Xw[:, [1]]).sum(axis=0)
            q = float(len(cols))
        else:
            car = (Yw - Xw @ B).sum(axis=0)
            s = Xw.sum(axis=0)
            q = float(len(cols) + s @ xtx_inv @ s)
        return car, Sigma * q, nu

    def _sur_sigma(self, c: int) -> tuple[np.ndarray, float, Any, Any]:
        """Joint residual covariance of event ``c`` on its common estimation days, its
        degrees of freedom, the coefficients and ``(X'X)^{-1}`` (``None`` market adjusted)."""
        if c in self._sur_sigma_cache:
            return self._sur_sigma_cache[c]
        d = self._d
        common = self._sur_setup[c]
        assert not isinstance(common, str)
        rows = self._cluster_rows[c]
        Lc = int(common.sum())
        Yc = d.y_est[rows].T[common]  # (L, N)
        Xc = d.X_est[rows[0]][common]  # (L, p)
        if d.model == "market_adjusted":
            E = Yc - Xc[:, [1]]
            E = E - E.mean(axis=0)
            nu = float(Lc - 1)
            out = (E.T @ E / nu, nu, None, None)
        else:
            xtx_inv = np.linalg.inv(Xc.T @ Xc)
            B = xtx_inv @ Xc.T @ Yc
            E = Yc - Xc @ B
            nu = float(Lc - Xc.shape[1])
            out = (E.T @ E / nu, nu, B, xtx_inv)
        self._sur_sigma_cache[c] = out
        return out

    @cached_property
    def _sur_sigma_cache(self) -> dict[int, tuple[np.ndarray, float, Any, Any]]:
        return {}

    def _sur_tests(self, clusters: Sequence[int], cols: np.ndarray) -> list[st.TestResult]:
        """``sur_wald`` and ``sur_wald_mean`` for the events ``clusters``.

        One event: the Hotelling F form. Several (independent) events: ``sum_e N_e F_e``
        against chi-squared(sum N_e), and the pooled mean CAR against ``F(1, sum nu_e)``.
        """
        parts = [self._sur(c, cols) for c in clusters]
        parts = [p for p in parts if not isinstance(p, str)]
        if not parts:
            nan = float("nan")
            return [
                st.TestResult("sur_wald", nan, nan, None, "all CARs = 0"),
                st.TestResult("sur_wald_mean", nan, nan, None, "mean CAR = 0"),
            ]
        if len(parts) == 1:
            car, cov, nu = parts[0]
            return [st.sur_wald(car, cov, nu), st.sur_wald_mean(car, cov, nu)]
        from scipy import stats as sps

        tests = [st.sur_wald(car, cov, nu) for car, cov, nu in parts]
        stat = float(sum(t.statistic * t.df for t in tests))
        dfs = float(sum(t.df for t in tests))
        car_all = np.concatenate([p[0] for p in parts])
        var_sum = float(sum(p[1].sum() for p in parts))
        n_all = len(car_all)
        w_mean = (car_all.mean()) ** 2 / (var_sum / n_all**2)
        nu_all = float(sum(p[2] for p in parts))
        return [
            st.TestResult("sur_wald", stat, float(sps.chi2.sf(stat, dfs)), dfs, "all CARs = 0"),
            st.TestResult(
                "sur_wald_mean",
                float(w_mean),
                float(sps.f.sf(w_mean, 1, nu_all)),
                1.0,
                "mean CAR = 0",
            ),
        ]

    @cached_property
    def _full_textbook(self) -> np.ndarray:
        d = self._d
        return np.concatenate([d.ar_est, d.ar_win], axis=1)

    @cached_property
    def _est_sign_counts(self) -> tuple[np.ndarray, np.ndarray]:
        a = self._d.ar_est
        ok = np.isfinite(a)
        return ((a > 0) & ok).sum(axis=1), ok.sum(axis=1)

    def _full(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
        """AR matrix over the rank/sign window, tested columns and the variance divisor."""
        d = self._d
        Le = d.ar_est.shape[1]
        if d.convention == "estudy2":
            full = np.concatenate([d.ar_est[rows], d.ar_win[rows][:, cols]], axis=1)
            divisor = float(np.mean(np.isfinite(full).sum(axis=1)))
            return full, Le + np.arange(len(cols)), divisor
        full = self._full_textbook if len(rows) == len(self._codes) else self._full_textbook[rows]
        return full, Le + cols, None

    def _ranks(self, rows: np.ndarray, full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row ranks and medians of the rank/sign window."""
        if self._d.convention == "estudy2":
            ranks, srt = st.rank_rows(full, True)
            return ranks, st.row_medians(srt)
        ranks, med = self._ranks_textbook
        return ranks[rows], med[rows]

    def _grank_window(self, rows: np.ndarray, scar_star: np.ndarray) -> st.TestResult:
        """KP (2011) window test: estimation SARs plus one SCAR* column, without re-ranking.

        Adding one value ``x_i`` to row ``i`` moves the estimation ranks above it up by one
        (a half for a tie) and gives ``x_i`` the rank ``1 + #below + #ties/2``; only the
        cross-sectional mean ranks are needed.
        """
        every = len(rows) == len(self._codes)
        sr = self._sr_est if every else self._sr_est[rows]
        base0, n_est, n_t_all = self._sr_est_rank_sums
        if not every:
            base0, n_est = base0[rows], n_est[rows]
        x = scar_star
        has_x = np.isfinite(x)
        w = np.where(has_x, 1.0 / (n_est + 2.0), 1.0 / (n_est + 1.0))
        with np.errstate(invalid="ignore"):
            gt = sr > x[:, None]
            eq = sr == x[:, None]
        ties = bool(eq.any())
        gt[~has_x] = False
        n_gt = np.count_nonzero(gt, axis=1)
        n_eq = np.count_nonzero(eq, axis=1) if ties else 0
        shift = w @ gt if not ties else w @ (gt + 0.5 * (eq & has_x[:, None]))
        n_t = n_t_all if every else np.isfinite(sr).sum(axis=0).astype(float)
        sums = w @ base0 + shift - 0.5 * n_t
        x_rank = 1.0 + (n_est - n_gt - n_eq) + 0.5 * n_eq
        u_x = np.where(has_x, x_rank * w - 0.5, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):  # a day nobody traded: n_t 0
            ubar = np.append(np.where(n_t > 0, sums / n_t, np.nan), _nan_mean_rows(u_x))
        n_all = np.append(n_t, float(has_x.sum()))
        return st.grank_from_means(ubar, n_all, len(rows), len(ubar) - 1)

    def _p_hat(self, rows: np.ndarray) -> float:
        pos, n = (c[rows] for c in self._est_sign_counts)
        if self._d.convention == "estudy2":
            return float(pos.sum() / n.sum())
        return float(np.mean(pos / n))

    def _battery(self, rows: np.ndarray, cols: np.ndarray, cumulative: bool) -> list[st.TestResult]:
        d = self._d
        e2 = d.convention == "estudy2"
        clusters = sorted(set(self._codes[rows].tolist()))
        ar = d.ar_win[rows][:, cols]
        sar = self._sar_win[rows][:, cols]
        sigma = d.sigma[rows]
        aar_est = (
            self._aar_est_all if len(rows) == len(self._codes) else _nan_mean_rows(d.ar_est[rows])
        )
        dfp = self._df_patell[rows]
        df_bw = float(np.mean(d.n_obs[rows])) - 1
        rbar = self._rbar_eff(rows)
        if 1 + (len(rows) - 1) * rbar <= st.KP_MIN_DESIGN_EFFECT:
            rbar = float("nan")  # KP factor undefined for the block (see test_notes)
        every = len(rows) == len(self._codes)
        cached_ranks = every and not e2  # textbook rank tests over all firm-events are cached
        if cached_ranks:
            tested = d.ar_est.shape[1] + cols
        else:
            full, tested, divisor = self._full(rows, cols)
            ranks, medians = self._ranks(rows, full)
        lamb_c = 1 + 1 / np.mean(d.n_obs[rows]) + _nan_mean_rows(self._mterm_win[rows][:, cols])
        p = self._portfolio
        out: list[st.TestResult] = []
        if cumulative:
            ca = self._car_arrays(cols)
            car, se = ca["car"][rows], ca["se"][rows]
            scar = car / se
            n_days = len(cols)
            car_p, se_p = self._portfolio_car(cols)
            out.append(st.portfolio(car_p[clusters], se_p[clusters], p.df[clusters]))
            out += self._sur_tests(clusters, cols)
            out.append(st.adjusted_patell(scar, dfp, rbar))
            out.append(st.kolari_pynnonen(scar, rbar))
            out.append(self._grank_window(rows, _restandardize(scar)))
            out.append(st.t_test(car))
            out.append(st.brown_warner_1980(car, sigma, n_days=n_days, df=df_bw, estudy2_sums=e2))
            out.append(st.brown_warner_1985(car, aar_est, n_days=n_days))
            out.append(st.lamb(ar, aar_est, lamb_c, cumulative=True))
            out.append(st.patell(scar, dfp, estudy2_sums=e2))
            out.append(st.bmp(scar))
            out.append(st.sign(car, estudy2_sums=e2))
            out.append(st.generalized_sign(car, self._p_hat(rows), estudy2_sums=e2))
            if cached_ranks:
                for name, z in self._rank_z_textbook.items():
                    out.append(st.z_result(name, st.cumulate(z[cols]), "median AR = 0"))
            else:
                out.append(
                    st.corrado_sign(
                        full, tested, divisor, cumulative=True, estudy2_sums=e2, medians=medians
                    )
                )
                out.append(st.corrado_rank(ranks, tested, divisor, cumulative=True, estudy2=e2))
                out.append(
                    st.modified_rank(ranks, tested, divisor, cumulative=True, estudy2_sums=e2)
                )
            out.append(st.wilcoxon(car))
            return out
        h_p = forecast_variance_factor(p.X_win[:, cols], p.xtx_inv)
        se_p = p.sigma[:, None] * np.sqrt(1 + h_p)
        out.append(st.portfolio(p.ar_win[clusters][:, cols], se_p[clusters], p.df[clusters]))
        sur = [self._sur_tests(clusters, np.array([c])) for c in cols]
        for j, name in enumerate(("sur_wald", "sur_wald_mean")):
            out.append(
                st.TestResult(
                    name,
                    np.array([s[j].statistic for s in sur], dtype=float),
                    np.array([s[j].p_value for s in sur], dtype=float),
                    np.array([np.nan if s[j].df is None else s[j].df for s in sur], dtype=float),
                    sur[0][j].null,
                )
            )
        out.append(st.adjusted_patell(sar, dfp, rbar))
        out.append(st.kolari_pynnonen(sar, rbar))
        sr_est = self._sr_est if every else self._sr_est[rows]
        sar_all = self._sar_win if every else self._sar_win[rows]
        restd = _restandardize(sar_all)
        if e2:
            G = np.concatenate([sr_est, restd[:, cols]], axis=1)
        else:
            G = np.concatenate([sr_est, restd], axis=1)
        out.append(st.grank(G, tested))
        out.append(st.t_test(ar))
        out.append(st.brown_warner_1980(ar, sigma, df=df_bw, estudy2_sums=e2))
        out.append(st.brown_warner_1985(ar, aar_est))
        out.append(st.lamb(ar, aar_est, lamb_c))
        out.append(st.patell(sar, dfp, estudy2_sums=e2))
        out.append(st.bmp(sar))
        out.append(st.sign(ar, estudy2_sums=e2))
        out.append(st.generalized_sign(ar, self._p_hat(rows), estudy2_sums=e2))
        if cached_ranks:
            for name, z in self._rank_z_textbook.items():
                out.append(st.z_result(name, z[cols], "median AR = 0"))
        else:
            out.append(st.corrado_sign(full, tested, divisor, estudy2_sums=e2, medians=medians))
            out.append(st.corrado_rank(ranks, tested, divisor, estudy2=e2))
            out.append(st.modified_rank(ranks, tested, divisor, estudy2_sums=e2))
        out.append(st.wilcoxon(ar))
        return out

    def _blocks(self, by: str | None) -> list[tuple[str | None, np.ndarray]]:
        if by is None:
            return [(None, np.arange(len(self._codes)))]
        if by != "event_id":
            raise ConfigError(field="by", value=by, expected="None or 'event_id'")
        return [(e, rows) for e, rows in zip(self._event_ids, self._cluster_rows, strict=True)]

    # ------------------------------------------------------------------ public tables

    @cached_property
    def _params(self) -> pd.DataFrame:
        d = self._d
        out = d.events[["event_id", "security"]].copy()
        for j, name in enumerate(d.param_names):
            out[name] = d.coef[:, j]
        if "beta" not in out:
            out["beta"] = np.nan
        if d.dimson_lags:
            lag_cols = [f"beta_lag{j}" for j in range(1, d.dimson_lags + 1)]
            out["beta_dimson"] = out["beta"] + out[lag_cols].sum(axis=1)
        out["sigma"] = d.sigma
        out["n_obs"] = d.n_obs.astype(int)
        out["r2"] = d.r2
        return out

    @property
    def params(self) -> pd.DataFrame:
        """event_id, security, alpha, beta (and one column per factor / Dimson lag), sigma,
        n_obs, r2 (sigma with ``L - k`` degrees of freedom; estudy2: ``L - 1``)."""
        return self._params.copy(deep=False)

    @cached_property
    def _abnormal_returns(self) -> pd.DataFrame:
        d = self._d
        K, W = d.ar_win.shape
        return pd.DataFrame(
            {
                "event_id": np.repeat(d.events["event_id"].to_numpy(), W),
                "security": np.repeat(d.events["security"].to_numpy(), W),
                "rel_day": np.tile(d.rel_win, K),
                "date": d.dates_win.ravel(),
                "ar": d.ar_win.ravel(),
            }
        )

    @property
    def abnormal_returns(self) -> pd.DataFrame:
        """Long table: event_id, security, rel_day, date, ar (``NaN`` = no return that day)."""
        return self._abnormal_returns.copy(deep=False)

    @property
    def events(self) -> pd.DataFrame:
        """The firm-events studied: event_id, security, event_date."""
        return self._d.events.copy(deep=False)

    @property
    def excluded(self) -> pd.DataFrame:
        """Firm-events left out: event_id, security, reason."""
        return self._d.excluded.copy(deep=False)

    @_memoized
    def car(self, window: tuple[int, int] | None = None) -> pd.DataFrame:
        """CAR and BHAR of each firm-event over ``window`` with the Mikkelson-Partch error.

        Returns
        -------
        DataFrame
            event_id, security, car, bhar, se, statistic, p_value, n_days. ``se`` is
            ``s sqrt(L2 + s_W'(X'X)^{-1}s_W)``, i.e. for the market model
            ``s sqrt(L2 + L2^2/L + (sum_W (M_t - Mbar))^2 / Sxx)``; ``statistic = car / se``
            against t with the residual degrees of freedom.
        """
        _, _, cols = self._cols(window)
        ca = self._car_arrays(cols)
        out = self._d.events[["event_id", "security"]].copy()
        out["car"] = ca["car"]
        out["bhar"] = ca["bhar"]
        out["se"] = ca["se"]
        out["statistic"] = ca["car"] / ca["se"]
        from scipy import stats as sps

        out["p_value"] = 2 * sps.t.sf(np.abs(out["statistic"].to_numpy()), self._df_sigma)
        out["n_days"] = ca["L2"].astype(int)
        return out

    @_memoized
    def aar_tests(
        self, window: tuple[int, int] | None = None, by: str | None = None
    ) -> pd.DataFrame:
        """Tests of the mean abnormal return, one row per day and test.

        Parameters
        ----------
        window : (int, int), optional
            Days tested (default: the computed window).
        by : {None, "event_id"}
            ``None`` pools every firm-event in event time; ``"event_id"`` gives one block per
            event (an ``event_id`` column is added).

        Returns
        -------
        DataFrame
            rel_day, test, statistic, p_value, df, null (clustering-robust tests first), plus
            ``aar`` (the mean AR of the day) and ``n`` (firm-events observed that day).
        """
        a, _, cols = self._cols(window)
        frames = []
        for eid, rows in self._blocks(by):
            results = self._battery(rows, cols, cumulative=False)
            ar = self._d.ar_win[rows][:, cols]
            aar, n_obs = _nan_mean_rows(ar), np.isfinite(ar).sum(axis=0)
            recs = []
            for j in range(len(cols)):
                for r in results:
                    stat = np.asarray(r.statistic, dtype=float)
                    pv = np.asarray(r.p_value, dtype=float)
                    df = np.asarray(np.nan if r.df is None else r.df, dtype=float)
                    recs.append(
                        {
                            "rel_day": a + j,
                            "test": r.name,
                            "statistic": float(stat[j] if stat.ndim else stat),
                            "p_value": float(pv[j] if pv.ndim else pv),
                            "df": float(df[j] if df.ndim else df),
                            "null": r.null,
                            "aar": float(aar[j]),
                            "n": int(n_obs[j]),
                        }
                    )
            f = pd.DataFrame.from_records(recs)
            if by is not None:
                f.insert(0, "event_id", eid)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def test_results(
        self, window: tuple[int, int] | None = None, by: str | None = None
    ) -> dict[str, st.TestResult] | dict[str, dict[str, st.TestResult]]:
        """The CAAR tests over ``window`` as :class:`~eventstudy.stats.TestResult` objects.

        Returns ``{test name: TestResult}``; with ``by="event_id"``,
        ``{event_id: {test name: TestResult}}``.
        """
        _, _, cols = self._cols(window)
        blocks = {
            eid: {r.name: r for r in self._battery(rows, cols, cumulative=True)}
            for eid, rows in self._blocks(by)
        }
        return blocks[None] if by is None else blocks  # type: ignore[return-value]

    def aar_test_results(self, window: tuple[int, int] | None = None) -> dict[str, st.TestResult]:
        """The daily tests as :class:`TestResult` objects (arrays with one value per day)."""
        _, _, cols = self._cols(window)
        return {r.name: r for r in self._battery(np.arange(len(self._codes)), cols, False)}

    @_memoized
    def caar_tests(
        self, window: tuple[int, int] | None = None, by: str | None = None
    ) -> pd.DataFrame:
        """Tests of the mean CAR over ``window`` (default: the computed window).

        Returns
        -------
        DataFrame
            test, statistic, p_value, df, null, plus ``caar`` (mean CAR) and ``n``; with
            ``by="event_id"`` an ``event_id`` column first. ``sur_wald`` needs fewer
            securities than estimation days: when it cannot run its row is ``NaN`` and the
            reason is in :attr:`test_notes`.
        """
        _, _, cols = self._cols(window)
        ca = self._car_arrays(cols)
        frames = []
        for eid, rows in self._blocks(by):
            f = pd.DataFrame.from_records(
                [r.as_row() for r in self._battery(rows, cols, cumulative=True)]
            )
            f["caar"] = float(_nan_mean_rows(ca["car"][rows]))
            f["n"] = int(np.isfinite(ca["car"][rows]).sum())
            if by is not None:
                f.insert(0, "event_id", eid)
            frames.append(f)
        return pd.concat(frames, ignore_index=True)

    def portfolio_bootstrap(
        self, window: tuple[int, int] | None = None, n_boot: int = 9999, seed: int | None = 0
    ) -> pd.DataFrame:
        """Bootstrap p-value of each event portfolio's CAR over ``window``.

        The null distribution of the CAR is built by summing ``L2`` abnormal returns drawn
        with replacement from the portfolio's own (centred) estimation-window abnormal
        returns; the two-sided p-value is the share of draws at least as large in absolute
        value. Robust to cross-correlation (it is the portfolio's own series) and to
        non-normal returns; it ignores estimation error in the portfolio's parameters.

        Returns
        -------
        DataFrame
            event_id, car, p_value, n_boot.
        """
        _, _, cols = self._cols(window)
        car, _ = self._portfolio_car(cols)
        rng = np.random.default_rng(seed)
        recs = []
        for e, eid in enumerate(self._event_ids):
            pool = self._portfolio.ar_est[e]
            pool = pool[np.isfinite(pool)]
            pool = pool - pool.mean()
            n_days = int(np.isfinite(self._portfolio.ar_win[e, cols]).sum())
            draws = rng.choice(pool, size=(int(n_boot), n_days), replace=True).sum(axis=1)
            p = (1 + np.sum(np.abs(draws) >= abs(car[e]))) / (n_boot + 1)
            recs.append((eid, float(car[e]), float(p), int(n_boot)))
        return pd.DataFrame(recs, columns=["event_id", "car", "p_value", "n_boot"])

    @cached_property
    def test_notes(self) -> pd.DataFrame:
        """Tests that cannot run (their rows are ``NaN``), per event: event_id, test, reason.

        A test that cannot be computed is ``NaN`` and listed here, never silently ``NaN``.
        Reasons that hold for some windows only name the relative days concerned.

        - ``sur_wald`` / ``sur_wald_mean``: too many securities for the common estimation
          days, a security without a return on some window day (windows including that
          day have no SUR test), or a singular residual covariance (linearly dependent
          residuals, e.g. two securities with identical returns);
        - ``portfolio``: the event's equal-weighted portfolio has no residual variance (its
          members' abnormal returns offset exactly);
        - ``t_test``, ``bmp``, ``kolari_pynnonen``, ``grank``: an event with one firm-event
          has no cross-sectional variance (the pooled rows run when the study has several),
          nor has a window made only of days on which fewer than two firm-events have a
          return;
        - identical CARs (a window made only of days on which every abnormal return is
          equal): ``t_test``; when they are all 0 also ``bmp``, ``kolari_pynnonen``,
          ``grank`` and ``wilcoxon`` (zeros are dropped);
        - ``adjusted_patell``, ``kolari_pynnonen``: ``rbar <= -1/(N - 1)``, where the
          Kolari-Pynnonen factor is undefined (:func:`eventstudy.stats.kp_factor`);
        - ``generalized_sign``: ``p_hat`` is 0 or 1 (no estimation AR, or every one,
          positive).
        """
        d = self._d
        secs = d.events["security"].to_numpy()
        recs: list[tuple[str, str, str]] = []

        def days(mask: np.ndarray) -> str:
            hit = d.rel_win[mask]
            more = ", ..." if len(hit) > 6 else ""
            return ", ".join(f"{int(x):+d}" for x in hit[:6]) + more

        for c, eid in enumerate(self._event_ids):
            rows = self._cluster_rows[c]
            n = len(rows)
            setup = self._sur_setup[c]
            why: str | None = setup if isinstance(setup, str) else None
            if why is None:
                miss = ~np.isfinite(d.y_win[rows])
                if miss.any():
                    who = ", ".join(map(str, secs[rows][miss.any(axis=1)][:4]))
                    why = f"no return for {who} on day(s) {days(miss.any(axis=0))}: windows "
                    why += "including them"
                gap = ~np.isfinite(d.X_win[rows[0]]).all(axis=1)
                if why is None and gap.any():
                    why = f"no market/factor return on day(s) {days(gap)}: windows including them"
            if why is not None:
                recs += [(eid, "sur_wald", why), (eid, "sur_wald_mean", why)]
            else:
                sigma = self._sur_sigma(c)[0]
                if st.is_singular(sigma):
                    recs.append(
                        (
                            eid,
                            "sur_wald",
                            "singular residual covariance: the securities' estimation "
                            "residuals are linearly dependent (e.g. identical returns)",
                        )
                    )
                if not float(np.sum(sigma)) > 0:
                    recs.append(
                        (
                            eid,
                            "sur_wald_mean",
                            "the mean residual has no variance (the securities' residuals "
                            "offset exactly)",
                        )
                    )
            if not np.isfinite(self._portfolio.sigma[c]):
                recs.append(
                    (
                        eid,
                        "portfolio",
                        "the equal-weighted portfolio has no residual variance (its "
                        "members' abnormal returns offset exactly, or too few estimation days)",
                    )
                )
            ar = d.ar_win[rows]
            ok = np.isfinite(ar)
            n_t = ok.sum(axis=0)
            lost = (n_t > 0) & ~np.isfinite(self._portfolio.ar_win[c])
            if lost.any() and np.isfinite(self._portfolio.sigma[c]):
                recs.append(
                    (
                        eid,
                        "portfolio",
                        f"no portfolio abnormal return on day(s) {days(lost)} (the "
                        "portfolio uses the market/factor returns of the event's first "
                        "firm-event, which has none there): windows made only of those days",
                    )
                )
            hi = np.where(ok, ar, -np.inf).max(axis=0)
            lo = np.where(ok, ar, np.inf).min(axis=0)
            zero = (n_t >= 1) & (hi == 0) & (lo == 0)
            if zero.any():
                why = (
                    f"every abnormal return is 0 on day(s) {days(zero)}: windows made "
                    "only of those days have CARs of 0 (no variance, no signed ranks)"
                )
                tests = ["wilcoxon"] if n < 2 else ["bmp", "kolari_pynnonen", "grank", "wilcoxon"]
                recs += [(eid, test, why) for test in tests]
            if n < 2:
                for test in CROSS_SECTIONAL_TESTS:
                    recs.append((eid, test, "one firm-event: no cross-sectional variance"))
            else:
                r = float(self._rbar[c])
                if np.isfinite(r) and 1 + (n - 1) * r <= st.KP_MIN_DESIGN_EFFECT:
                    why = (
                        f"mean residual correlation rbar = {r:.4f} <= -1/(N - 1) = "
                        f"{-1 / (n - 1):.4f}: the Kolari-Pynnonen factor is undefined"
                    )
                    recs += [(eid, "adjusted_patell", why), (eid, "kolari_pynnonen", why)]
                few = n_t < 2
                if few.any():
                    why = (
                        f"fewer than two firm-events with a return on day(s) {days(few)}: "
                        "windows made only of those days have at most one CAR (no "
                        "cross-sectional variance)"
                    )
                    recs += [(eid, test, why) for test in CROSS_SECTIONAL_TESTS]
                equal = (n_t >= 2) & (hi == lo)
                if equal.any():
                    why = (
                        f"every abnormal return is equal on day(s) {days(equal)}: windows "
                        "made only of those days have identical CARs (no cross-sectional "
                        "variance)"
                    )
                    recs.append((eid, "t_test", why))
            aar_est = _nan_mean_rows(d.ar_est[rows])
            s_aar = float(_nan_sd(aar_est[np.isfinite(aar_est)]))
            if not s_aar > _PORTFOLIO_MIN_SIGMA * float(np.max(d.sigma[rows])):
                why = (
                    "the mean estimation AR has no variance (the firm-events' residuals "
                    "offset exactly)"
                )
                recs += [(eid, "brown_warner_1985", why), (eid, "lamb", why)]
            rank_z = self._rank_z_event(rows)
            for test, z in rank_z.items():
                if not np.isfinite(z).any():
                    why = "no variation of the daily mean signs/ranks (they offset exactly)"
                    recs.append((eid, test, why))
            p_hat = self._p_hat(rows)
            if not 0 < p_hat < 1:
                recs.append(
                    (
                        eid,
                        "generalized_sign",
                        f"share of positive estimation ARs p_hat = {p_hat:g}: no binomial variance",
                    )
                )
        return pd.DataFrame(recs, columns=["event_id", "test", "reason"])

    def _rank_z_event(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Daily corrado_sign / corrado_rank / modified_rank of ``rows`` on every window day
        (``NaN`` everywhere when their time-series variance is 0)."""
        cols = np.arange(self._d.ar_win.shape[1])
        full, tested, divisor = self._full(rows, cols)
        ranks, medians = self._ranks(rows, full)
        e2 = self._d.convention == "estudy2"
        return {
            "corrado_sign": np.asarray(
                st.corrado_sign(full, tested, divisor, estudy2_sums=e2, medians=medians).statistic
            ),
            "corrado_rank": np.asarray(
                st.corrado_rank(ranks, tested, divisor, estudy2=e2).statistic
            ),
            "modified_rank": np.asarray(
                st.modified_rank(ranks, tested, divisor, estudy2_sums=e2).statistic
            ),
        }

    @cached_property
    def _clustering(self) -> pd.DataFrame:
        n = np.array([len(r) for r in self._cluster_rows])
        rbar = self._rbar
        return pd.DataFrame(
            {
                "event_id": self._event_ids,
                "n_securities": n,
                "rbar": rbar,
                "design_effect": 1 + (n - 1) * np.nan_to_num(rbar, nan=0.0),
            }
        )

    @property
    def clustering(self) -> pd.DataFrame:
        """Per event: event_id, n_securities, rbar (mean pairwise correlation of estimation
        residuals on common days), design_effect ``1 + (N - 1) rbar``."""
        return self._clustering.copy(deep=False)

    @_memoized
    def residual_correlation(self, event_id: str | None = None) -> pd.DataFrame:
        """Securities x securities correlation of estimation residuals (pairwise-complete).

        ``event_id`` defaults to the event with the most securities.
        """
        c = self._event_code(event_id)
        secs = self._d.events["security"].to_numpy()[self._cluster_rows[c]]
        return pd.DataFrame(self._resid_corr(c), index=list(secs), columns=list(secs))

    def _event_code(self, event_id: str | None) -> int:
        if event_id is None:
            return int(np.argmax([len(r) for r in self._cluster_rows]))
        try:
            return self._event_ids.index(str(event_id))
        except ValueError:
            raise ConfigError(
                field="event_id",
                value=event_id,
                expected="one of " + ", ".join(self._event_ids[:6]),
            ) from None

    @_memoized
    def car_paths(self) -> pd.DataFrame:
        """Cumulative AR from the window start, per firm-event and per event portfolio.

        Returns
        -------
        DataFrame
            event_id, security (``"portfolio"`` for the equal-weighted portfolio of the
            event), rel_day, date, car, se; ``se`` is the Mikkelson-Partch standard error
            of the CAR up to that day (the portfolio's from its own estimation variance).
        """
        d = self._d
        K, W = d.ar_win.shape

        def paths(ar: np.ndarray, X: np.ndarray, inv: np.ndarray, sigma: np.ndarray):
            ok = np.isfinite(ar)
            car = np.cumsum(np.where(ok, ar, 0.0), axis=1)
            L2 = np.cumsum(ok, axis=1).astype(float)
            S = np.cumsum(np.where(ok[..., None], X, 0.0), axis=1)
            q = L2 + np.einsum("kwi,kij,kwj->kw", S, inv, S)
            car = np.where(L2 > 0, car, np.nan)
            return car, sigma[:, None] * np.sqrt(q)

        car, se = paths(d.ar_win, d.X_win, d.xtx_inv, d.sigma)
        firms = pd.DataFrame(
            {
                "event_id": np.repeat(d.events["event_id"].to_numpy(), W),
                "security": np.repeat(d.events["security"].to_numpy(), W),
                "rel_day": np.tile(d.rel_win, K),
                "date": d.dates_win.ravel(),
                "car": car.ravel(),
                "se": se.ravel(),
            }
        )
        p = self._portfolio
        pcar, pse = paths(p.ar_win, p.X_win, p.xtx_inv, p.sigma)
        E = len(self._event_ids)
        first = np.array([r[0] for r in self._cluster_rows])
        port = pd.DataFrame(
            {
                "event_id": np.repeat(np.array(self._event_ids, dtype=object), W),
                "security": "portfolio",
                "rel_day": np.tile(d.rel_win, E),
                "date": d.dates_win[first].ravel(),
                "car": pcar.ravel(),
                "se": pse.ravel(),
            }
        )
        return pd.concat([firms, port], ignore_index=True)

    def fit_details(
        self,
        event_id: str,
        security: str,
        cov_type: Literal["nonrobust", "HC0", "HC1", "HC3", "HAC"] = "nonrobust",
        maxlags: int | None = None,
    ) -> Any:
        """statsmodels OLS of one firm-event on its estimation window.

        Parameters
        ----------
        event_id, security : str
        cov_type : {"nonrobust", "HC0", "HC1", "HC3", "HAC"}
            ``"HAC"`` is Newey-West with ``maxlags`` (default ``floor(4 (L/100)^(2/9))``).

        Returns
        -------
        statsmodels.regression.linear_model.RegressionResultsWrapper
        """
        import statsmodels.api as sm

        d = self._d
        if d.model == "market_adjusted":
            raise ConfigError(
                field="model", value=d.model, expected="a model with estimated parameters"
            )
        ev = d.events
        hit = np.flatnonzero(
            (ev["event_id"].to_numpy() == str(event_id)) & (ev["security"].to_numpy() == security)
        )
        if len(hit) == 0:
            raise ConfigError(
                field="event_id/security",
                value=f"{event_id}/{security}",
                expected="a fitted firm-event (see res.events and res.excluded)",
            )
        i = int(hit[0])
        y, X = d.y_est[i], d.X_est[i]
        ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
        rows = d.pos[i] + d.rel_est
        dates = d.returns.index[np.clip(rows, 0, len(d.returns.index) - 1)][ok]
        exog = pd.DataFrame(X[ok], index=dates, columns=d.param_names)
        endog = pd.Series(y[ok], index=dates, name=security)
        model = sm.OLS(endog, exog)
        if cov_type == "HAC":
            lags = maxlags if maxlags is not None else int(4 * (ok.sum() / 100) ** (2 / 9))
            return model.fit(cov_type="HAC", cov_kwds={"maxlags": lags})
        return model.fit(cov_type=cov_type)

    # ------------------------------------------------------------------ presentation

    def summary(self) -> ResultsSummary:
        """Summary: setup, clustering diagnostics, CAAR tests (robust first), day-0 tests."""
        d = self._d
        n_ev = len(self._event_ids)
        header = [
            f"Event study: {d.model} model"
            + (f" on {d.market_name}" if d.market_name else "")
            + f", convention {d.convention}",
            f"Estimation window {d.estimation}, event window {d.window}; "
            f"{len(d.events)} firm-events in {n_ev} event(s); {len(d.excluded)} excluded",
        ]
        clustered = self._clustering[self._clustering["n_securities"] > 1]
        if len(clustered):
            header.append(
                "Clustered event dates: tests assuming independence over-reject; read "
                "portfolio, sur_wald, adjusted_patell, kolari_pynnonen and grank first."
            )
        tables: list[tuple[str, pd.DataFrame]] = [("Clustering", self._clustering)]
        caar = self.caar_tests()[["test", "statistic", "p_value", "caar", "n"]]
        tables.append((f"CAAR tests over {d.window}", caar))
        if d.window[0] <= 0 <= d.window[1]:
            day0 = self.aar_tests((0, 0))[["test", "statistic", "p_value"]]
            tables.append(("AAR tests on day 0", day0))
        if len(d.excluded):
            tables.append(("Excluded", d.excluded))
        return ResultsSummary(header, tables)

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        d = self._d
        return (
            f"<EventStudyResults {d.model}/{d.convention}: {len(d.events)} firm-events, "
            f"{len(self._event_ids)} events, window {d.window}>"
        )

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    # ------------------------------------------------------------------ figures (lazy)

    def plot_ar(self, event_id: str | None = None, **kw: Any) -> Any:
        """Bar chart of abnormal returns (see :mod:`eventstudy.figures`)."""
        from eventstudy import figures

        return figures.plot_ar(self, event_id=event_id, **kw)

    def plot_car(self, event_id: str | None = None, **kw: Any) -> Any:
        """CAR paths with confidence bands, including the event portfolio."""
        from eventstudy import figures

        return figures.plot_car(self, event_id=event_id, **kw)

    def plot_heatmap(self, window: tuple[int, int] = (0, 1), **kw: Any) -> Any:
        """Heatmap of CARs, securities x events."""
        from eventstudy import figures

        return figures.plot_heatmap(self, window=window, **kw)

    def plot_forest(self, window: tuple[int, int] = (0, 1), **kw: Any) -> Any:
        """Forest plot of CARs with confidence intervals."""
        from eventstudy import figures

        return figures.plot_forest(self, window=window, **kw)

    def plot_diagnostics(self, **kw: Any) -> Any:
        """Model diagnostics (fit, residuals)."""
        from eventstudy import figures

        return figures.plot_diagnostics(self, **kw)

    def plot_residual_correlation(self, event_id: str | None = None, **kw: Any) -> Any:
        """Heatmap of the estimation-residual correlation of an event's securities."""
        from eventstudy import figures

        return figures.plot_residual_correlation(self, event_id=event_id, **kw)

    def plot_tests(self, windows: Sequence[tuple[int, int]] | None = None, **kw: Any) -> Any:
        """Test statistics across windows."""
        from eventstudy import figures

        return figures.plot_tests(self, windows=windows, **kw)


def _pairwise_corr(E: np.ndarray) -> np.ndarray:
    """Pairwise-complete correlation matrix of the rows of ``E`` (n securities x L days)."""
    M = np.isfinite(E).astype(float)
    Z = np.where(M > 0, E, 0.0)
    n = M @ M.T
    sx = Z @ M.T
    sxx = (Z * Z) @ M.T
    sxy = Z @ Z.T
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        vx = sxx - sx**2 / n
        vy = sxx.T - sx.T**2 / n
        C = cov / np.sqrt(vx * vy)
    C[n < 3] = np.nan
    C[~np.isfinite(C)] = np.nan  # a pair without variance on its common days (0 / 0, x / 0)
    np.fill_diagonal(C, 1.0)
    return C
