"""``SimulatedSource``: seeded prices from a factor model with known abnormal returns.

Used by ``configs/demo.yaml`` (a study that runs without network or data files) and by
tests, which check that the engine recovers the injected abnormal returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from eventstudy.data.sources import finalize_prices, make_provenance, to_timestamp
from eventstudy.exceptions import ConfigError, UnknownSymbol

__all__ = ["SimulatedSource"]


def _per_symbol(value: float | Mapping[str, float], symbols: list[str], what: str) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(symbols))
        if unknown:
            raise ConfigError(
                field=what, value=unknown[0], expected=f"one of the symbols {symbols}"
            )
        return np.array([float(value.get(s, _DEFAULTS[what])) for s in symbols])
    return np.full(len(symbols), float(value))


_DEFAULTS = {"betas": 1.0, "alphas": 0.0, "idio_vol": 0.015, "industry_loadings": 1.0}


class SimulatedSource:
    r"""Seeded market and stock prices from a one- or two-factor model.

    Daily simple returns on each session :math:`t` are

    .. math::

        r_{m,t} = \mu_m + \sigma_m z_{m,t}, \qquad
        r_{i,t} = \alpha_i + \beta_i r_{m,t} + \lambda_i \sigma_f f_t
                  + \sigma_i \varepsilon_{i,t} + A_{i,t},

    with independent standard normal :math:`z, f, \varepsilon`; :math:`f` is a common
    industry factor (``industry_vol`` :math:`=\sigma_f`, zero by default) that makes the
    stocks' residuals cross-correlated as real same-industry stocks are, and
    :math:`A_{i,t}` the injected abnormal returns. Prices start at ``start_price`` and
    compound these returns, so ``compute_returns`` on them gives back :math:`r` exactly
    (to rounding) from the second session on.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments give the same prices.
    start, end : date-like
        First and last session simulated.
    symbols : iterable of str
        Stock symbols.
    market_symbol : str, default "MARKET"
        Symbol of the market index.
    betas, alphas, idio_vol, industry_loadings : float or mapping symbol -> float
        Market betas (default 1.0), daily alphas (0.0), idiosyncratic daily volatility
        (0.015) and loadings on the industry factor (1.0).
    market_mu, market_vol : float
        Daily mean (0.0003) and volatility (0.01) of the market return.
    industry_vol : float, default 0.0
        Daily volatility of the common industry factor (0 switches it off).
    injected : mapping (symbol, date) -> float, optional
        Abnormal returns added on given sessions, e.g. ``{("7203.T", "2025-07-23"): 0.08}``.
    sessions : DatetimeIndex, optional
        Session calendar (e.g. XTKS sessions); default business days ``start..end``.
    start_price : float, default 100.0
        Price on the day before the first session.
    name : str, default "simulated"
        Source name.

    Attributes
    ----------
    returns : DataFrame
        The simulated returns (sessions x [market, symbols...]).
    abnormal : DataFrame
        The injected abnormal returns (``symbol``, ``date``, ``abnormal_return``).

    Examples
    --------
    >>> src = SimulatedSource(1, "2024-01-01", "2024-12-31", ["AAA", "BBB"],
    ...                       injected={("AAA", "2024-06-03"): 0.05})
    >>> src.get("AAA").shape[0] == len(src.sessions)
    True
    """

    remote = False

    def __init__(
        self,
        seed: int,
        start: Any,
        end: Any,
        symbols: Iterable[str],
        market_symbol: str = "MARKET",
        *,
        betas: float | Mapping[str, float] = 1.0,
        alphas: float | Mapping[str, float] = 0.0,
        idio_vol: float | Mapping[str, float] = 0.015,
        industry_loadings: float | Mapping[str, float] = 1.0,
        market_mu: float = 0.0003,
        market_vol: float = 0.01,
        industry_vol: float = 0.0,
        injected: Mapping[tuple[str, Any], float] | None = None,
        sessions: pd.DatetimeIndex | None = None,
        start_price: float = 100.0,
        name: str = "simulated",
    ) -> None:
        self.seed = int(seed)
        self.name = name
        self.symbols = list(dict.fromkeys(symbols))
        self.market_symbol = market_symbol
        if market_symbol in self.symbols:
            raise ConfigError(
                field="symbols",
                value=market_symbol,
                expected="stock symbols distinct from market_symbol",
            )
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        assert t0 is not None and t1 is not None
        if t1 < t0:
            raise ConfigError(
                field="end", value=str(t1.date()), expected=f"on or after {t0.date()}"
            )
        if sessions is None:
            sess = pd.bdate_range(t0, t1)
        else:
            sess = pd.DatetimeIndex(sessions)
            if sess.tz is not None:
                sess = sess.tz_localize(None)
            sess = sess.normalize().unique().sort_values()
            sess = sess[(sess >= t0) & (sess <= t1)]
        if len(sess) < 2:
            raise ConfigError(
                field="start", value=str(t0.date()), expected="at least two sessions to simulate"
            )
        self.sessions = pd.DatetimeIndex(sess, name="date")
        self.params: dict[str, Any] = {
            "betas": _per_symbol(betas, self.symbols, "betas"),
            "alphas": _per_symbol(alphas, self.symbols, "alphas"),
            "idio_vol": _per_symbol(idio_vol, self.symbols, "idio_vol"),
            "industry_loadings": _per_symbol(industry_loadings, self.symbols, "industry_loadings"),
            "market_mu": float(market_mu),
            "market_vol": float(market_vol),
            "industry_vol": float(industry_vol),
            "start_price": float(start_price),
        }
        rows = []
        for (sym, date), ar in (injected or {}).items():
            d = to_timestamp(date, "injected date")
            if sym not in self.symbols and sym != market_symbol:
                raise ConfigError(
                    field=f"injected[{sym!r}]", value=sym, expected=f"one of {self.symbols}"
                )
            if d not in self.sessions:
                raise ConfigError(
                    field=f"injected[{sym!r}]",
                    value=str(date),
                    expected="a simulated session (a business day inside start..end)",
                )
            rows.append({"symbol": sym, "date": d, "abnormal_return": float(ar)})
        self.abnormal = pd.DataFrame(rows, columns=["symbol", "date", "abnormal_return"])
        self.returns = self._simulate()

    def _simulate(self) -> pd.DataFrame:
        p = self.params
        rng = np.random.default_rng(self.seed)
        n = len(self.sessions)
        k = len(self.symbols)
        rm = p["market_mu"] + p["market_vol"] * rng.standard_normal(n)
        f = rng.standard_normal(n)
        eps = rng.standard_normal((n, k))
        r = (
            p["alphas"][None, :]
            + p["betas"][None, :] * rm[:, None]
            + p["industry_loadings"][None, :] * p["industry_vol"] * f[:, None]
            + p["idio_vol"][None, :] * eps
        )
        out = pd.DataFrame(
            np.column_stack([rm, r]),
            index=self.sessions,
            columns=[self.market_symbol, *self.symbols],
        )
        if len(self.abnormal):  # one vectorised addition (thousands of injected cells)
            rows = self.sessions.get_indexer(pd.DatetimeIndex(self.abnormal["date"]))
            cols = out.columns.get_indexer(self.abnormal["symbol"])
            values = out.to_numpy(copy=True)
            np.add.at(values, (rows, cols), self.abnormal["abnormal_return"].to_numpy(float))
            out = pd.DataFrame(values, index=out.index, columns=out.columns)
        # keep prices positive whatever the parameters
        return out.clip(lower=-0.95)

    @property
    def cache_key(self) -> str:
        """Cache folder name: distinct for every seed, calendar and parameter set."""
        import hashlib

        h = hashlib.sha1()
        h.update(repr((self.seed, self.market_symbol, self.symbols)).encode())
        h.update(self.sessions.asi8.tobytes())
        h.update(repr({k: np.asarray(v).tolist() for k, v in self.params.items()}).encode())
        h.update(self.abnormal.to_csv().encode())
        return f"{self.name}-{h.hexdigest()[:12]}"

    def __repr__(self) -> str:
        return (
            f"SimulatedSource(seed={self.seed}, {self.sessions[0].date()}.."
            f"{self.sessions[-1].date()}, {len(self.symbols)} symbols)"
        )

    def get(
        self,
        symbol: str,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Return the simulated Prices frame of ``symbol`` (``close == adj_close``)."""
        if symbol not in self.returns.columns:
            raise UnknownSymbol(
                symbol=symbol,
                source=f"the simulation (symbols {', '.join(self.returns.columns)})",
            )
        price = self.params["start_price"] * (1.0 + self.returns[symbol]).cumprod()
        df = pd.DataFrame({"close": price, "adj_close": price})
        prov = self._provenance(symbol, int((self.abnormal["symbol"] == symbol).sum()))
        return finalize_prices(
            df, symbol, prov, start=to_timestamp(start, "start"), end=to_timestamp(end, "end")
        )

    def _provenance(self, symbol: str, injected: int) -> dict[str, Any]:
        return make_provenance(
            self.name,
            symbol,
            seed=self.seed,
            sessions=f"{self.sessions[0].date()}..{self.sessions[-1].date()}",
            injected=injected,
        )

    def _check(self, symbols: Iterable[str] | None) -> list[str]:
        wanted = list(self.returns.columns) if symbols is None else list(dict.fromkeys(symbols))
        for sym in wanted:
            if sym not in self.returns.columns:
                raise UnknownSymbol(
                    symbol=sym,
                    source=f"the simulation (symbols {', '.join(self.returns.columns)})",
                )
        return wanted

    def panel(
        self,
        symbols: Iterable[str] | None = None,
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> pd.DataFrame:
        """Adjusted closes of many symbols at once: a sessions x symbols frame.

        Every column equals the ``adj_close`` of :meth:`get` for that symbol to the bit
        (the same compounding, :math:`P_0 \\prod (1 + r)`, down each column).

        Parameters
        ----------
        symbols : iterable of str, optional
            Symbols (duplicates once); default the market and every stock.
        start, end : date-like, optional
            Inclusive bounds.

        Returns
        -------
        DataFrame
            Index: the simulated sessions inside ``start..end`` (named ``date``); one
            float64 column per symbol, in the order asked. ``attrs["provenance"]``: the
            source, ``symbol`` (the first five symbols), seed and sessions.

        Raises
        ------
        UnknownSymbol
            For the first symbol (in the order asked) that is not simulated.
        """
        wanted = self._check(symbols)
        price = self.params["start_price"] * (1.0 + self.returns[wanted]).cumprod()
        t0, t1 = to_timestamp(start, "start"), to_timestamp(end, "end")
        keep = np.ones(len(price), dtype=bool)
        if t0 is not None:
            keep &= price.index >= t0
        if t1 is not None:
            keep &= price.index <= t1
        out = pd.DataFrame(
            price.to_numpy()[keep],
            index=pd.DatetimeIndex(self.sessions.as_unit("ns").to_numpy()[keep], name="date"),
            columns=wanted,
        )
        out.columns.name = None
        prov = self._provenance(",".join(wanted[:5]) + (" ..." if len(wanted) > 5 else ""), 0)
        del prov["injected"]
        out.attrs = {"provenance": prov}
        return out

    def frames(
        self,
        symbols: Iterable[str],
        start: pd.Timestamp | str | None = None,
        end: pd.Timestamp | str | None = None,
    ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        """The frames :meth:`get` gives for each symbol, built from one :meth:`panel`.

        Parameters
        ----------
        symbols : iterable of str
            Symbols (duplicates once).
        start, end : date-like, optional
            Inclusive bounds.

        Returns
        -------
        frames : dict of str to DataFrame
            Per symbol, the frame of :meth:`get` (equal to it, provenance included but
            for ``fetched_at``).
        panel : DataFrame
            The :meth:`panel` they come from.

        Raises
        ------
        UnknownSymbol
            For the first symbol (in the order asked) that is not simulated.
        """
        panel = self.panel(symbols, start, end)
        counts = self.abnormal["symbol"].value_counts()
        index = panel.index
        values = panel.to_numpy()
        out: dict[str, pd.DataFrame] = {}
        for j, sym in enumerate(panel.columns):
            col = values[:, j]
            # one block of two equal columns (what finalize_prices gives for close == adj)
            df = pd.DataFrame(
                np.column_stack([col, col]), index=index.copy(), columns=["close", "adj_close"]
            )
            df.attrs = {"provenance": self._provenance(sym, int(counts.get(sym, 0)))}
            out[sym] = df
        return out, panel
