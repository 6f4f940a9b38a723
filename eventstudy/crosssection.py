"""Cross-sectional regressions of CARs on firm characteristics.

``res.cross_section("car ~ us_sales_share + log_mcap", window=(0, 1), data=characteristics)``
regresses each firm-event's CAR over ``window`` (from ``res.car(window)``) on characteristics
given per security (or per event and security), with statsmodels:

- **OLS**, or **WLS** with weights ``1 / se(CAR_i)^2`` (the prediction-error variance of each
  CAR, so noisy firms count less);
- standard errors **HC3** (MacKinnon & White 1985: ``(X'X)^{-1} X' diag(e_i^2 / (1 - h_ii)^2)
  X (X'X)^{-1}``, robust to heteroskedasticity and conservative in small samples) by default,
  or **clustered by event date** (``V = G/(G-1) (N-1)/(N-K) (X'X)^{-1} sum_g X_g'u_g u_g'X_g
  (X'X)^{-1}``, t with ``G - 1`` degrees of freedom) when firm-events share dates: CARs of
  firms on one date share that day's market-wide shock, so they are not independent
  observations. ``cov="auto"`` clusters when there are at least two dates and some date holds
  several firm-events; with a single date there is one cluster, so HC3 is used and the
  results say so (the intercept absorbs the common shock, but the residuals may still be
  correlated). With fewer than 10 dates the clustered errors rest on few clusters and the
  results say so too.

The left side is ``car``, ``bhar`` or ``scar`` (the standardized CAR ``car / se``); the right
side any patsy formula on the characteristics (``np.log(mcap)``, ``C(segment)``, ...).
Firm-events without characteristics, or with a missing value in a variable of the formula, are
left out and listed in :attr:`CrossSectionResults.notes`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from eventstudy.config import format_window
from eventstudy.exceptions import ConfigError, DataError, EventStudyWarning
from eventstudy.results import EventStudyResults

if TYPE_CHECKING:  # pragma: no cover - statsmodels is imported when a regression runs
    import plotly.graph_objects as go
    from statsmodels.iolib.summary import Summary
    from statsmodels.regression.linear_model import RegressionResultsWrapper

__all__ = [
    "CrossSectionResults",
    "Weights",
    "cross_section",
    "read_characteristics",
]

Weights = Literal["ols", "wls"]
Cov = Literal["auto", "hc3", "cluster"]
#: Left sides a regression can take (columns of the CAR table).
OUTCOMES: tuple[str, ...] = ("car", "bhar", "scar")
#: Below this many event dates, clustered standard errors rest on few clusters.
FEW_CLUSTERS = 10
_KEYS = ("security", "event_id")


def read_characteristics(path: str | Path) -> pd.DataFrame:
    """Read a CSV of firm characteristics: ``security`` (or ``symbol``/``ticker``), optional
    ``event_id``, then one column per characteristic.

    A column whose cells are numbers is numeric; a column of text is categorical (use it as
    ``C(column)``); a number column with a cell that is not a number is an error naming the
    line, so no value is read silently as a category.

    Raises
    ------
    DataError
        A missing file or key column, a duplicate key, or a bad number (one line: file, line,
        column, value, fix).
    """
    path = Path(path)
    where = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError(
            symbol=where,
            detail="no such file",
            fix="name an existing CSV of characteristics in cross_section.data",
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(
            symbol=where,
            detail=f"cannot read the CSV ({str(exc).splitlines()[0][:120]})",
            fix="save it as a comma-separated UTF-8 file with one header line",
        ) from None
    lower = {c.strip().lower(): c for c in raw.columns}
    sec = next((lower[k] for k in ("security", "symbol", "ticker") if k in lower), None)
    if sec is None:
        raise DataError(
            symbol=where,
            detail=f"no security column (columns: {', '.join(map(str, raw.columns))})",
            fix="add a column 'security' with the study's symbols, e.g. 7203.T",
        )
    rename = {sec: "security"}
    if "event_id" in lower:
        rename[lower["event_id"]] = "event_id"
    out = raw.rename(columns=rename)
    out.columns = [str(c).strip() for c in out.columns]
    keys = [k for k in _KEYS if k in out.columns]
    for k in keys:
        out[k] = out[k].str.strip()
        empty = np.flatnonzero(out[k].to_numpy() == "")
        if len(empty):
            raise DataError(
                symbol=where,
                detail=f"line {int(empty[0]) + 2}, column {k}: empty",
                fix=f"give every row its {k}",
            )
    dup = out.duplicated(keys, keep=False)
    if dup.any():
        lines = [str(i + 2) for i in np.flatnonzero(dup.to_numpy())[:4]]
        raise DataError(
            symbol=where,
            detail=f"lines {', '.join(lines)}: the same {' and '.join(keys)} twice",
            fix="one row per security" + (" and event" if "event_id" in keys else ""),
        )
    for col in out.columns:
        if col in keys:
            continue
        text = out[col].str.strip()
        nums = pd.to_numeric(text.where(text != "", None), errors="coerce")
        bad = (text != "") & nums.isna()
        if nums.notna().any() and bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                symbol=where,
                detail=f"line {i + 2}, column {col}: {text.iloc[i]!r} is not a number",
                fix="write numbers with a dot for decimals and no thousands separator, or "
                "leave the cell empty when unknown",
            )
        if nums.notna().any() or (text == "").all():
            out[col] = nums.astype(float)
        else:
            out[col] = text.where(text != "", None)
    return out


@dataclass(frozen=True, eq=False)
class CrossSectionResults:
    """A cross-sectional regression of CARs (see the module notes).

    Attributes
    ----------
    formula : str
    window : (int, int)
        The CAR window.
    weights : {"ols", "wls"}
    cov : {"hc3", "cluster"}
        The covariance used (``auto`` resolved).
    sample : DataFrame
        The firm-events regressed: event_id, security, event_date, car, bhar, se, scar and
        the characteristics.
    fit : statsmodels RegressionResults
    notes : tuple of str
        What was left out and why; the covariance choice.
    name, title : str
    """

    formula: str
    window: tuple[int, int]
    weights: str
    cov: str
    sample: pd.DataFrame
    fit: RegressionResultsWrapper
    notes: tuple[str, ...] = ()
    name: str = "regression"
    title: str = ""
    n_clusters: int = field(default=0)

    def summary(self) -> Summary:
        """statsmodels' summary of the fit (titled with the formula and the window)."""
        with warnings.catch_warnings():
            # the omnibus/kurtosis diagnostics of statsmodels' summary warn below 20
            # observations on older scipy; none of our numbers comes from them
            warnings.filterwarnings("ignore", message=".*kurtosistest.*", category=UserWarning)
            return self.fit.summary(title=self.title or self.label)

    @property
    def label(self) -> str:
        """``"car ~ x, CAR(0,+1), OLS, HC3"``."""
        cov = "clustered by event date" if self.cov == "cluster" else "HC3"
        return f"{self.formula}, CAR{format_window(self.window)}, {self.weights.upper()}, {cov}"

    @cached_property
    def table(self) -> pd.DataFrame:
        """Tidy: term, estimate, se, statistic, p_value, ci_low, ci_high (95%), df (of the t
        reference: ``N - K``, or ``G - 1`` clustered)."""
        f = self.fit
        ci = f.conf_int(0.05)
        df = float(self.n_clusters - 1) if self.cov == "cluster" else float(f.df_resid)
        return pd.DataFrame(
            {
                "term": [str(t) for t in f.params.index],
                "estimate": f.params.to_numpy(float),
                "se": f.bse.to_numpy(float),
                "statistic": f.tvalues.to_numpy(float),
                "p_value": f.pvalues.to_numpy(float),
                "ci_low": ci.iloc[:, 0].to_numpy(float),
                "ci_high": ci.iloc[:, 1].to_numpy(float),
                "df": df,
            }
        )

    @cached_property
    def stats(self) -> dict[str, float | int | str]:
        """n, r2, adj_r2, the covariance, weights, clusters, window and formula."""
        f = self.fit
        return {
            "name": self.name,
            "formula": self.formula,
            "window": format_window(self.window),
            "weights": self.weights,
            "cov": self.cov,
            "n": int(f.nobs),
            "n_clusters": int(self.n_clusters),
            "r2": float(f.rsquared),
            "adj_r2": float(f.rsquared_adj),
        }

    def plot(self) -> go.Figure:
        """The coefficients with their 95% intervals (a plotly Figure, not shown)."""
        from eventstudy.figures_quant import plot_coefficients

        return plot_coefficients(self.table, title=self.title or self.label)

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return f"<CrossSectionResults {self.label}, n={int(self.fit.nobs)}>"

    def _repr_html_(self) -> str:
        return str(self.summary().as_html())


def _outcome(formula: str) -> str:
    lhs, tilde, rhs = formula.partition("~")
    if not tilde or not rhs.strip() or lhs.strip() not in OUTCOMES:
        raise ConfigError(
            field="formula",
            value=formula,
            expected="'car ~ x1 + x2' with car, bhar or scar on the left",
        )
    return lhs.strip()


def cross_section(
    results: EventStudyResults,
    formula: str,
    window: tuple[int, int] = (0, 1),
    data: pd.DataFrame | None = None,
    *,
    weights: Weights = "ols",
    cov: Cov = "auto",
    name: str = "regression",
    title: str = "",
) -> CrossSectionResults:
    """Regress the firm-events' CARs over ``window`` on characteristics (module notes).

    Parameters
    ----------
    results : EventStudyResults
    formula : str
        patsy formula, ``car``, ``bhar`` or ``scar`` on the left.
    window : (int, int)
    data : DataFrame, optional
        Characteristics with a ``security`` column (and ``event_id`` when they differ per
        event); e.g. :func:`read_characteristics`.
    weights : {"ols", "wls"}
        ``wls`` weighs each firm-event by ``1 / se(CAR)^2``.
    cov : {"auto", "hc3", "cluster"}

    Raises
    ------
    ConfigError
        A bad formula, weights or cov, a variable that is not a column, clustering with one
        date.
    DataError
        Fewer firm-events than parameters + 1.
    """
    outcome = _outcome(formula)
    if weights not in ("ols", "wls"):
        raise ConfigError(field="weights", value=weights, expected="'ols' or 'wls'")
    if cov not in ("auto", "hc3", "cluster"):
        raise ConfigError(field="cov", value=cov, expected="'auto', 'hc3' or 'cluster'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        car = results.car((int(window[0]), int(window[1])))
    sample = car[["event_id", "security", "car", "bhar", "se"]].copy()
    sample["scar"] = car["statistic"]
    dates = results.events.set_index(["event_id", "security"])["event_date"]
    sample["event_date"] = dates.reindex(
        pd.MultiIndex.from_frame(sample[["event_id", "security"]])
    ).to_numpy()
    notes: list[str] = []
    if data is not None:
        if "security" not in data.columns:
            raise ConfigError(
                field="data",
                value=list(map(str, data.columns))[:8],
                expected="a DataFrame with a 'security' column",
            )
        keys = [k for k in ("event_id", "security") if k in data.columns]
        chars = data.copy()
        for k in keys:
            chars[k] = chars[k].astype(str)
        clash = [c for c in chars.columns if c in sample.columns and c not in keys]
        if clash:
            raise ConfigError(
                field="data",
                value=clash,
                expected="characteristics not named like the CAR table's columns "
                "(car, bhar, se, scar, event_date)",
            )
        merged = sample.merge(chars, on=keys, how="left", indicator=True)
        lost = merged[merged["_merge"] == "left_only"]
        if len(lost):
            notes.append(
                "left out, no characteristics: "
                + ", ".join(f"{r.event_id}/{r.security}" for r in lost.itertuples())
            )
        sample = merged[merged["_merge"] == "both"].drop(columns="_merge")
    import patsy
    import statsmodels.api as sm

    # pandas' string dtype (the default text dtype from pandas 3) as plain objects: patsy
    # before 1.0 asks numpy to interpret it and fails; the categories are the same
    text = [c for c in sample.columns if isinstance(sample[c].dtype, pd.StringDtype)]
    if text:
        sample = sample.astype(dict.fromkeys(text, object))
    try:
        y, X = patsy.dmatrices(formula, sample, return_type="dataframe", NA_action="drop")
    except patsy.PatsyError as exc:
        cols = ", ".join(c for c in sample.columns if c not in ("event_date",))
        raise ConfigError(
            field="formula",
            value=formula,
            expected=f"variables among {cols} ({str(exc).splitlines()[0][:100]})",
        ) from None
    dropped = sample.index.difference(X.index)
    if len(dropped):
        notes.append(
            "left out, a missing value in the formula's variables: "
            + ", ".join(f"{r.event_id}/{r.security}" for r in sample.loc[dropped].itertuples())
        )
    sample = sample.loc[X.index]
    n, k = X.shape
    if n <= k:
        raise DataError(
            symbol="cross_section",
            detail=f"{n} firm-event(s) with every variable of {formula!r} for {k} parameters",
            fix="give characteristics for more firms, or use fewer variables",
        )
    groups = pd.factorize(pd.DatetimeIndex(sample["event_date"]))[0]
    n_dates = int(groups.max()) + 1 if len(groups) else 0
    shared = bool(np.bincount(groups).max() > 1) if len(groups) else False
    used = cov
    if cov == "auto":
        used = "cluster" if n_dates >= 2 and shared else "hc3"
        if n_dates == 1:
            notes.append(
                "one event date: HC3 standard errors (clustering needs several dates; the "
                "firms share the date's shock, so read the estimates with care)"
            )
    if used == "cluster" and n_dates < 2:
        raise ConfigError(
            field="cov",
            value="cluster",
            expected="at least two event dates to cluster by date (the sample has one); "
            "use cov: hc3",
        )
    if used == "cluster" and n_dates < FEW_CLUSTERS:
        notes.append(
            f"standard errors clustered by event date on only {n_dates} dates: few clusters, "
            f"t with {n_dates - 1} degrees of freedom"
        )
    y_vec = y.iloc[:, 0]
    if outcome != y.columns[0]:  # pragma: no cover - patsy keeps the name
        y_vec = y_vec.rename(outcome)
    if weights == "wls":
        w = 1.0 / sample["se"].to_numpy(float) ** 2
        model = sm.WLS(y_vec, X, weights=w)
    else:
        model = sm.OLS(y_vec, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # HC3 with a leverage of 1
        if used == "cluster":
            fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        else:
            fit = model.fit(cov_type="HC3", use_t=True)
    return CrossSectionResults(
        formula=formula,
        window=(int(window[0]), int(window[1])),
        weights=weights,
        cov=used,
        sample=sample.reset_index(drop=True),
        fit=fit,
        notes=tuple(notes),
        name=name,
        title=title,
        n_clusters=n_dates if used == "cluster" else 0,
    )
