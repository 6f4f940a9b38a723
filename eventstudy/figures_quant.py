"""Figures of the measures beyond CARs: cross-sectional coefficients and abnormal volume.

Pure Plotly on tidy DataFrames (the style of :mod:`eventstudy.figures`): each function returns
a :class:`plotly.graph_objects.Figure` and never shows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from eventstudy.figures import PALETTE, PORTFOLIO_COLOR, TEMPLATE
from eventstudy.figures_spec import Spec, figure, hline, vline

__all__ = ["plot_abnormal_volume", "plot_coefficients"]


def plot_coefficients(table: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Each coefficient of a cross-sectional regression with its confidence interval.

    Parameters
    ----------
    table : DataFrame
        ``CrossSectionResults.table``: term, estimate, se, statistic, p_value, ci_low,
        ci_high (one row per term).
    """
    t = table.iloc[::-1]  # the first term on top
    est = t["estimate"].to_numpy(float)
    lo = t["ci_low"].to_numpy(float)
    hi = t["ci_high"].to_numpy(float)
    points = {
        "type": "scatter",
        "x": est,
        "y": t["term"].astype(str).tolist(),
        "mode": "markers",
        "marker": {"color": PORTFOLIO_COLOR, "size": 9, "symbol": "square"},
        "error_x": {
            "type": "data",
            "symmetric": False,
            "array": hi - est,
            "arrayminus": est - lo,
            "color": PORTFOLIO_COLOR,
            "thickness": 1.6,
            "width": 0,
        },
        "customdata": np.column_stack([lo, hi, t["p_value"].to_numpy(float)]),
        "hovertemplate": (
            "<b>%{y}</b><br>%{x:.4g} [%{customdata[0]:.4g}, %{customdata[1]:.4g}]"
            "<br>p = %{customdata[2]:.3f}<extra></extra>"
        ),
        "showlegend": False,
    }
    layout = {
        "template": TEMPLATE,
        "title": {"text": title or "Cross-sectional regression: coefficients with 95% intervals"},
        "height": max(260, 70 + 45 * len(t)),
        "xaxis": {
            "title": {"text": "coefficient (CAR in decimals per unit of the characteristic)"}
        },
        "shapes": [vline(0, {"color": "#888888", "width": 1})],
    }
    return figure([points], layout)


def plot_abnormal_volume(abnormal: pd.DataFrame, *, event_id: str | None = None) -> go.Figure:
    """Abnormal log volume by relative day: one thin line per firm-event, the event's mean
    in black (one panel of lines per event when ``event_id`` is not given).

    Parameters
    ----------
    abnormal : DataFrame
        ``VolumeResults.abnormal``: event_id, security, rel_day, abnormal.
    """
    a = abnormal if event_id is None else abnormal[abnormal["event_id"] == event_id]
    # numpy arrays for plotly (no pandas objects to convert), grouped as groupby(sort=False)
    # groups: events, then securities, in order of appearance, rows in order
    rel = a["rel_day"].to_numpy()
    av = a["abnormal"].to_numpy(dtype=float)
    sec = a["security"].to_numpy(dtype=object)
    codes, events = pd.factorize(a["event_id"].to_numpy(dtype=object))
    data: list[Spec] = []
    for i, eid in enumerate(events):
        rows = np.flatnonzero(codes == i)
        sec_codes, securities = pd.factorize(sec[rows])
        for j, security in enumerate(securities):
            mine = rows[sec_codes == j]
            data.append(
                {
                    "type": "scatter",
                    "x": rel[mine],
                    "y": av[mine],
                    "mode": "lines",
                    "name": f"{security}",
                    "legendgroup": f"{eid}",
                    "line": {"width": 1, "color": PALETTE[i % len(PALETTE)]},
                    "opacity": 0.45,
                    "hovertemplate": f"{eid} · {security}<br>day %{{x}}: %{{y:+.2f}}<extra></extra>",
                    "showlegend": False,
                }
            )
        mean = pd.Series(av[rows]).groupby(rel[rows]).mean()  # by day, pandas' mean
        data.append(
            {
                "type": "scatter",
                "x": mean.index.to_numpy(),
                "y": mean.to_numpy(float),
                "mode": "lines+markers",
                "name": f"{eid}: mean",
                "legendgroup": f"{eid}",
                "line": {
                    "width": 2.5,
                    "color": PORTFOLIO_COLOR if event_id else PALETTE[i % 10],
                },
                "hovertemplate": f"{eid} mean<br>day %{{x}}: %{{y:+.2f}}<extra></extra>",
            }
        )
    layout = {
        "template": TEMPLATE,
        "title": {"text": "Abnormal log volume (log volume minus its estimation-window mean)"},
        "xaxis": {"title": {"text": "relative day"}},
        "yaxis": {"title": {"text": "abnormal log volume (0.69 = twice the normal volume)"}},
        "height": 420,
        "shapes": [
            hline(0, {"color": "#888888", "width": 1}),
            vline(0, {"color": "#bbbbbb", "width": 1, "dash": "dot"}),
        ],
    }
    return figure(data, layout)
