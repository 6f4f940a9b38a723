"""The report's cross-sectional regressions: one section per configured regression."""

from __future__ import annotations

import pandas as pd

from eventstudy.report.common import fid
from eventstudy.report.display import Cell, Table
from eventstudy.report.inputs import ReportInput
from eventstudy.report.section import AddFigure, Section, num_cell, p_cell

__all__ = ["regression_sections", "regression_tables"]


def _g(x: float) -> Cell:
    v = float(x)
    return Cell("" if v != v else f"{v:.4g}", "", v if v == v else None)


def regression_sections(inp: ReportInput, add: AddFigure) -> list[Section]:
    """One section per regression: coefficients with s.e., t, p and 95% intervals, the
    figure, the fit statistics, what was left out, and statsmodels' summary."""
    out = []
    for r in inp.cross_sections:
        st = r.stats
        rows = [
            [
                Cell(str(t.term), "text", str(t.term)),
                _g(t.estimate),
                _g(t.se),
                num_cell(t.statistic, 2),
                p_cell(t.p_value),
                _g(t.ci_low),
                _g(t.ci_high),
            ]
            for t in r.table.itertuples(index=False)
        ]
        cov = (
            f"clustered by event date ({st['n_clusters']} dates)"
            if r.cov == "cluster"
            else "HC3 (heteroskedasticity-robust)"
        )
        text = [
            f"{r.formula} over CAR{st['window']}: {str(st['weights']).upper()}"
            + (" with weights 1/se(CAR)²" if r.weights == "wls" else "")
            + f", standard errors {cov}; n = {st['n']} firm-events, R² = {float(st['r2']):.3f}.",
            *r.notes,
        ]
        fig = add(fid("regression", r.name), r.title or r.label, r.plot())
        out.append(
            Section(
                id=fid("regression", r.name),
                title=f"Regression: {r.title or r.label}",
                text=text,
                tables=[
                    (
                        "Coefficients",
                        Table(
                            header=["Term", "Estimate", "s.e.", "t", "p", "95% low", "95% high"],
                            rows=rows,
                        ),
                    )
                ],
                figures=[fig],
                pre=str(r.summary()),
                pre_title="statsmodels summary",
            )
        )
    return out


def regression_tables(inp: ReportInput) -> dict[str, pd.DataFrame]:
    """``cross_section`` (one row per regression and term) and ``cross_section_stats``."""
    if not inp.cross_sections:
        return {}
    coefs = []
    stats = []
    for r in inp.cross_sections:
        t = r.table.copy()
        t.insert(0, "regression", r.name)
        t.insert(1, "formula", r.formula)
        t.insert(2, "window", r.stats["window"])
        coefs.append(t)
        stats.append(r.stats)
    return {
        "cross_section": pd.concat(coefs, ignore_index=True),
        "cross_section_stats": pd.DataFrame(stats),
    }
