"""Plotly figures of the robustness lab: size bars, power curves, the specification curve.

Pure Plotly on the tidy DataFrames of :mod:`eventstudy.simulate` and
:mod:`eventstudy.sensitivity` (this module imports nothing of ours). Every function returns a
``go.Figure`` without showing it; rates and returns are shown in percent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from eventstudy.figures import TEMPLATE
from eventstudy.figures_spec import Spec, figure, grid, hline, on, vline

__all__ = ["power_curves", "size_bars", "specification_curve"]

_OK = "#2a9d8f"
_BAD = "#e76f51"
_LOW = "#e9c46a"
_GREY = "#8d99ae"
_CHOICES = ("model", "benchmark", "estimation_length", "gap", "car_window", "returns")


def _pick_window(df: pd.DataFrame, window: str | None) -> str:
    windows = list(dict.fromkeys(df["window"]))
    if not windows:
        raise ValueError("empty table: nothing to plot")
    if window is None:
        return "AR(0)" if "AR(0)" in windows else windows[0]
    if window not in windows:
        raise ValueError(f"window {window!r} not in the table; have {windows}")
    return window


def size_bars(
    size: pd.DataFrame,
    level: float = 0.05,
    window: str | None = None,
    title: str | None = None,
) -> go.Figure:
    """Empirical size of each test with its binomial interval and the nominal level.

    Parameters
    ----------
    size : DataFrame
        ``SimulationResults.size`` (test, window, level, rejection_rate, ci_low, ci_high,
        n_draws).
    level : float
        Nominal level shown (a row of ``size["level"]``).
    window : str, optional
        ``"AR(0)"``, ``"CAR(-1,+1)"``...; default ``"AR(0)"`` if present, else the first.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Horizontal bars sorted by rejection rate, coloured by whether the interval lies above
        (over-rejects), below (under-rejects) or around the nominal level, with a dashed line
        at the nominal level.
    """
    w = _pick_window(size, window)
    d = size[np.isclose(size["level"], level) & (size["window"] == w)]
    d = d.sort_values("rejection_rate")
    colour = np.where(d["ci_low"] > level, _BAD, np.where(d["ci_high"] < level, _LOW, _OK))
    n = int(d["n_draws"].max()) if len(d) else 0
    bars = {
        "type": "bar",
        "x": 100 * d["rejection_rate"],
        "y": d["test"],
        "orientation": "h",
        "marker": {"color": colour},
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": 100 * (d["ci_high"] - d["rejection_rate"]),
            "arrayminus": 100 * (d["rejection_rate"] - d["ci_low"]),
            "color": "#333",
        },
        "customdata": np.c_[100 * d["ci_low"], 100 * d["ci_high"], d["n_draws"]],
        "hovertemplate": (
            "%{y}: %{x:.1f}% of %{customdata[2]} placebo studies rejected"
            "<br>95% interval %{customdata[0]:.1f}%–%{customdata[1]:.1f}%<extra></extra>"
        ),
        "name": "rejection rate",
    }
    nominal = 100 * level
    layout: Spec = {
        "template": TEMPLATE,
        "title": {
            "text": title
            or f"Size under the null: rejection rate at {100 * level:g}% ({w}, {n} draws)"
        },
        "xaxis": {"title": {"text": "rejection rate (%)"}},
        "height": max(320, 24 * len(d) + 140),
        "showlegend": False,
        "margin": {"l": 140},
        "shapes": [vline(nominal, {"color": "#333", "dash": "dash"})],
        "annotations": [
            {
                "showarrow": False,
                "text": f"nominal {100 * level:g}%",
                "x": nominal,
                "xanchor": "center",
                "xref": "x",
                "y": 1,
                "yanchor": "bottom",
                "yref": "y domain",
            }
        ],
    }
    return figure([bars], layout)


def power_curves(
    power: pd.DataFrame,
    size: pd.DataFrame | None = None,
    level: float = 0.05,
    window: str | None = None,
    tests: Sequence[str] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Power of each test against the abnormal return injected on day 0.

    Parameters
    ----------
    power : DataFrame
        ``SimulationResults.power`` (test, window, injected, level, rejection_rate).
    size : DataFrame, optional
        ``SimulationResults.size``: adds the point at 0% injected (the size).
    level : float
        Nominal level.
    window : str, optional
        Window shown (default ``"AR(0)"`` if present).
    tests : sequence of str, optional
        Tests drawn (default all).
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        One line per test: x the injected abnormal return (%), y the rejection rate (%), with a
        dashed line at the nominal level.
    """
    w = _pick_window(power, window)
    d = power[np.isclose(power["level"], level) & (power["window"] == w)]
    if size is not None:
        s = size[np.isclose(size["level"], level) & (size["window"] == w)]
        d = pd.concat([d, s.assign(injected=0.0)[list(d.columns)]], ignore_index=True)
    if tests is not None:
        d = d[d["test"].isin(list(tests))]
    data: list[Spec] = []
    for test, g in d.groupby("test", sort=True):
        g = g.sort_values("injected")
        data.append(
            {
                "type": "scatter",
                "x": 100 * g["injected"],
                "y": 100 * g["rejection_rate"],
                "mode": "lines+markers",
                "name": str(test),
                "hovertemplate": f"{test}: %{{y:.1f}}% rejected with %{{x:.1f}}% injected"
                "<extra></extra>",
            }
        )
    layout: Spec = {
        "template": TEMPLATE,
        "title": {
            "text": title
            or f"Power: rejection rate at {100 * level:g}% by abnormal return on day 0 ({w})"
        },
        "xaxis": {"title": {"text": "abnormal return injected on day 0 (%)"}},
        "yaxis": {"title": {"text": "rejection rate (%)"}, "range": [0, 100]},
        "legend": {"title": {"text": "test"}},
        "shapes": [hline(100 * level, {"color": "#333", "dash": "dash"})],
    }
    return figure(data, layout)


def specification_curve(
    specs: pd.DataFrame,
    event_id: str | None = None,
    security: str = "portfolio",
    choices: Sequence[str] = _CHOICES,
    title: str | None = None,
) -> go.Figure:
    """Specification curve: sorted CAR estimates with intervals, the choices beneath.

    Parameters
    ----------
    specs : DataFrame
        ``SensitivityResults.specs`` (spec_id, the choice columns, event_id, security, car,
        ci_low, ci_high, significant, p_value).
    event_id : str, optional
        Event shown (default: the first).
    security : str
        ``"portfolio"`` (default) or a security.
    choices : sequence of str
        Choice columns shown in the lower panel.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Upper panel: every specification's CAR (%) sorted from lowest to highest, with its
        interval, coloured by significance and sign. Lower panel: one row per value of each
        choice, a mark where the specification uses it (Simonsohn, Simmons & Nelson 2020).
    """
    if event_id is None:
        event_id = str(specs["event_id"].iloc[0])
    d = specs[(specs["event_id"].astype(str) == str(event_id)) & (specs["security"] == security)]
    if d.empty:
        raise ValueError(f"no specification for event {event_id!r} and security {security!r}")
    d = d.sort_values("car", kind="stable").reset_index(drop=True)
    x = np.arange(1, len(d) + 1)
    sig = d["significant"].to_numpy(dtype=bool)
    colour = np.where(sig & (d["car"] > 0), _OK, np.where(sig, _BAD, _GREY))
    choices = [c for c in choices if c in d.columns]
    # choice values in the grid's order (by spec_id), not in the curve's
    in_grid = d.sort_values("spec_id") if "spec_id" in d.columns else d
    labels: list[str] = []
    for c in choices:
        for v in dict.fromkeys(in_grid[c].astype(str)):
            labels.append(f"{c}: {v}")
    upper, lower = 360, 20 * len(labels)  # pixels: one row per choice value
    panels = grid(
        2,
        1,
        shared_xaxes=True,
        row_heights=[upper / (upper + lower), lower / (upper + lower)],
        vertical_spacing=0.04,
    )
    hover = [
        "<br>".join(f"{c}: {r[c]}" for c in choices)
        + f"<br>CAR {100 * r['car']:+.2f}% [{100 * r['ci_low']:+.2f}, {100 * r['ci_high']:+.2f}]"
        + f"<br>p = {r['p_value']:.3g}"
        for _, r in d.iterrows()
    ]
    curve = {
        "type": "scatter",
        "x": x,
        "y": 100 * d["car"],
        "mode": "markers",
        "marker": {"color": colour, "size": 6},
        "error_y": {
            "type": "data",
            "symmetric": False,
            "array": 100 * (d["ci_high"] - d["car"]),
            "arrayminus": 100 * (d["car"] - d["ci_low"]),
            "color": "rgba(80,80,80,0.35)",
            "thickness": 1,
            "width": 0,
        },
        "hovertext": hover,
        "hoverinfo": "text",
        "name": "CAR",
        **on(1),
    }
    ys, xs, cs = [], [], []
    for c in choices:
        vals = d[c].astype(str).to_numpy()
        for v in dict.fromkeys(in_grid[c].astype(str)):
            on_ = vals == v
            xs.extend(x[on_].tolist())
            ys.extend([f"{c}: {v}"] * int(on_.sum()))
            cs.extend(colour[on_].tolist())
    marks = {
        "type": "scatter",
        "x": xs,
        "y": ys,
        "mode": "markers",
        "marker": {"symbol": "line-ns-open", "size": 8, "color": cs, "line": {"width": 2}},
        "hoverinfo": "skip",
        "name": "choices",
        **on(2),
    }
    share = float(sig.mean())
    pos = float((sig & (d["car"] > 0).to_numpy()).mean())
    axes = panels.with_axes({}, {})
    axes["yaxis"]["title"] = {"text": "CAR (%)"}
    axes["yaxis2"].update(
        categoryorder="array",
        categoryarray=labels[::-1],
        type="category",
        tickmode="array",
        tickvals=labels,
    )
    axes["xaxis2"]["title"] = {"text": "specification (sorted by CAR)"}
    layout: Spec = {
        "template": TEMPLATE,
        "title": {
            "text": title
            or (
                f"Specification curve: {event_id}, {security} — {len(d)} specifications, "
                f"{100 * share:.0f}% significant ({100 * pos:.0f}% positive)"
            )
        },
        "showlegend": False,
        "height": upper + lower + 160,
        "margin": {"l": 190},
        "shapes": [hline(0, {"color": "#333", "width": 1})],
        **axes,
    }
    return figure([curve, marks], layout, panels)
