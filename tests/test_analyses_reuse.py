"""The follow-up analyses read the study's own fit where fitting again gives the same numbers.

The independent value in each test is the engine run again, as the analyses ran it before
they reused anything: each role's firm-events fitted alone, a variant refitted with its own
engine settings. The rows must be equal to the last bit; the other properties of these
tables (their columns, the role portfolios' mean CAR against the firms' own ARs, the variants
and date-only shift of the real studies) are checked in ``test_studies``.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

import pandas as pd
import pytest

from eventstudy import runner
from eventstudy.config import Variant, load_config
from eventstudy.plan import plan_study

ROOT = Path(__file__).resolve().parents[1]
ROW_COLUMNS = ["event_id", "window", "n", "caar", "t_portfolio"]


def _prepared(config, prices_dir: Path):
    plan = plan_study(config, prices=prices_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prep = runner.prepare(plan, offline=True, quiet=True)
        results = {ex: runner.fit_group(plan.engine, g) for ex, g in prep.groups.items()}
    return prep, results


@pytest.fixture(scope="module")
def kei(prices_dir: Path):
    return _prepared(ROOT / "configs" / "kei_cars.yaml", prices_dir)


def _rows(table: pd.DataFrame) -> pd.DataFrame:
    keep = ROW_COLUMNS + [c for c in table.columns if c.startswith("p_")]
    return table[keep].reset_index(drop=True)


def test_each_role_is_its_firm_events_fitted_alone(kei):
    prep, results = kei
    plan = prep.plan
    windows = list(plan.engine.car_windows)
    roles = runner._roles(prep, results)
    assert set(roles["role"]) == {"oem", "peer"}
    for role in ("oem", "peer"):
        members = [s.symbol for s in plan.exchange("XTKS").securities if s.role == role]
        group = prep.groups["XTKS"]
        ev = group.events[group.events["security"].isin(members)].reset_index(drop=True)
        alone = runner._quiet_fit(plan.engine, dataclasses.replace(group, events=ev))
        want = runner._robust_rows(alone, windows, only=True)
        got = _rows(roles[roles["role"] == role])
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert (got["n"] == len(members)).all()


def test_a_variant_of_other_windows_reads_the_study_fit(prices_dir, monkeypatch):
    config = load_config(ROOT / "configs" / "kei_cars.yaml")
    other = Variant(
        name="windows", title="Other CAR windows", car_windows=[[0, 2], [1, 3]], tests=["t_test"]
    )
    config = config.model_copy(update={"variants": [*config.variants, other]})
    prep, results = _prepared(config, prices_dir)
    vplan = next(v.plan for v in prep.plan.variants if v.name == "windows")
    refits = []
    real = runner._quiet_fit

    def counted(engine, group, **overrides):
        refits.append(engine)
        return real(engine, group, **overrides)

    monkeypatch.setattr(runner, "_quiet_fit", counted)
    table = runner._variants(prep, results, offline=True)
    assert vplan.engine not in refits  # the four other variants are refitted
    assert len(refits) == len(prep.plan.variants) - 1
    monkeypatch.undo()
    refit = runner._quiet_fit(vplan.engine, prep.groups["XTKS"])
    want = runner._robust_rows(refit, [(0, 2), (1, 3)], only=True)
    got = _rows(table[table["variant"] == "windows"])
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert table.loc[table["variant"] == "windows", "same_answer"].isna().all()  # new windows


def test_a_role_without_a_fitted_firm_event_is_left_out_with_the_fit_s_reason(kei):
    prep, results = kei
    plan = prep.plan
    peers = [s.symbol for s in plan.exchange("XTKS").securities if s.role == "peer"]
    group = prep.groups["XTKS"]
    returns = group.returns.copy()
    returns.loc[:, peers] = float("nan")  # no return: every peer firm-event is excluded
    group = dataclasses.replace(group, returns=returns)
    prep = dataclasses.replace(prep, groups={"XTKS": group})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {"XTKS": runner.fit_group(plan.engine, group)}
    assert not results["XTKS"].events["security"].isin(peers).any()
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = runner.analyse(prep, results, offline=True, notes=notes)
    assert "roles" not in tables
    assert any(n.startswith("analysis roles left out: DataError: events:") for n in notes)
