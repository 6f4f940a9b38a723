"""The report's volume section: abnormal volume and volatility per event and window."""

from __future__ import annotations

import pandas as pd

from eventstudy.figures_quant import plot_abnormal_volume
from eventstudy.report.common import exchange_name, fid
from eventstudy.report.display import Cell, Table
from eventstudy.report.inputs import ReportInput
from eventstudy.report.section import AddFigure, Section, num_cell, p_cell, pct_cell

__all__ = ["volume_sections", "volume_tables"]

_HEADER = [
    "Event",
    "Window",
    "N",
    "Mean CAV (log)",
    "Abnormal volume per day",
    "Portfolio t",
    "p portfolio",
    "p Brown-Warner 1985",
    "p Corrado rank",
    "Volatility ratio (portfolio)",
    "p volatility",
    "Mean volatility ratio (firms)",
]


def _order(inp: ReportInput, frame: pd.DataFrame) -> pd.DataFrame:
    rank = {ev.id: i for i, ev in enumerate(inp.events)}
    return frame.iloc[frame["event_id"].map(rank).fillna(len(rank)).argsort(kind="stable")]


def volume_sections(inp: ReportInput, add: AddFigure) -> list[Section]:
    """One section per exchange with volume results."""
    out = []
    for exchange, vol in inp.volume.items():
        s = _order(inp, vol.summary)
        rows = [
            [
                Cell(str(r.event_id), "text", str(r.event_id)),
                Cell(str(r.window), "text", str(r.window)),
                Cell(str(int(r.n)), "", float(r.n)),
                num_cell(r.mean_cav, 2, signed=True),
                pct_cell(r.pct_per_day, 1),
                num_cell(r.t_portfolio, 2),
                p_cell(r.p_portfolio),
                p_cell(r.p_brown_warner_1985),
                p_cell(r.p_corrado_rank),
                num_cell(r.volatility_ratio, 2),
                p_cell(r.p_volatility),
                num_cell(r.mean_firm_ratio, 2),
            ]
            for r in s.itertuples(index=False)
        ]
        suffix = f" ({exchange_name(exchange)})" if inp.multi else ""
        measure = "log turnover" if vol.measure == "log_turnover" else "log volume"
        fig = add(
            fid("volume", exchange),
            f"Abnormal {measure} by relative day{suffix}",
            plot_abnormal_volume(vol.abnormal),
        )
        out.append(
            Section(
                id=fid("volume", exchange),
                title=f"Trading volume and volatility{suffix}",
                text=[
                    f"Abnormal volume: each firm's daily {measure} minus its estimation-window "
                    "mean (Campbell & Wasley 1996), summed over the window (CAV) and averaged "
                    "over the event's firms; per day in percent of normal volume "
                    "(exp(CAV/days) − 1). p-values: the equal-weighted portfolio test (valid "
                    "when the firms share the date), Brown-Warner 1985 and the Corrado rank "
                    "test. Log volume is persistent, so multi-day windows overstate the "
                    "evidence: read (0,0) and (0,+1) first.",
                    "Volatility: the event-window variance of the abnormal returns over the "
                    "estimation variance (mean squared standardized abnormal return); the "
                    "portfolio's ratio is tested against F(days, df), the firms' mean is shown "
                    "beside it. 1 means no change.",
                ],
                tables=[("Per event and window", Table(header=list(_HEADER), rows=rows))],
                figures=[fig],
            )
        )
    return out


def volume_tables(inp: ReportInput) -> dict[str, pd.DataFrame]:
    """The volume tables of every exchange (an ``exchange`` column for a study run)."""
    parts: dict[str, list[pd.DataFrame]] = {}
    for exchange, vol in inp.volume.items():
        for name, frame in vol.tables().items():
            frame = frame.copy(deep=False)  # the column goes to the copy (copy-on-write)
            frame.insert(0, "exchange", exchange)
            parts.setdefault(name, []).append(frame)
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
