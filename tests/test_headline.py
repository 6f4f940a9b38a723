"""What ``eventstudy run`` prints, built without pandas' table formatter.

The headline's tables are laid out by the runner's own helpers; each is checked against the
pandas expression it stands for (``DataFrame.to_string``, ``pivot_table``) on hand-made and
random cases, and the printed cells of the kei-car study against the firm, test and volume
tables they come from, formatted by hand.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventstudy import runner
from eventstudy.vocabulary import CLUSTER_ROBUST_TESTS

ROOT = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- text tables

CELLS = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
ROWS = st.lists(
    st.dictionaries(st.sampled_from(["event", "window", "p", "a b", "x\ty", ""]), CELLS),
    min_size=1,
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(ROWS)
def test_text_table_is_pandas_to_string_of_the_rows(rows) -> None:
    assert runner._text_table(rows) == pd.DataFrame(rows).to_string(index=False)


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": "x", "bb": "", "c": "longer value"}, {"a": "yyyy", "c": ""}],  # a missing cell
        [{"firm": "Toyota Motor 7203.T", "AR(0)": "+0.86%"}, {"firm": "Subaru 7270.T"}],
        [{"a": "tab\there", "b": "new\nline\r"}],
        [{"a": "トヨタ", "b": " lead", "c": "trail "}],
        [{"only header longer than cells": "1"}],
        [],
    ],
)
def test_text_table_on_hand_made_rows(rows) -> None:
    assert runner._text_table(rows) == pd.DataFrame(rows).to_string(index=False)


def test_text_table_layout_by_hand() -> None:
    rows = [{"event": "e1", "p": "0.0100"}, {"event": "event_two", "p": ""}]
    assert runner._text_table(rows) == "    event      p\n       e1 0.0100\nevent_two       "


def _dated(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["e1", "e1", "tinycars_2025-12-05", None][:n],
            "window": ["(0,0)", "(0,+1)", "(-1,+1)", "(0,+5)"][:n],
            "day0": pd.to_datetime(["2025-12-04", "2025-12-04", "2025-12-08", None][:n]),
            "caar": [0.0072, -0.0024, float("nan"), 0.0453][:n],
            "p_portfolio": [0.6168, 0.9067, 0.5, float("nan")][:n],
            "n": [7, 7, 6, 7][:n],
        }
    )


def _dated_by_pandas(frame: pd.DataFrame, columns: list[str]) -> str:
    return frame.assign(
        day0=frame["day0"].dt.strftime("%Y-%m-%d"),
        caar=frame["caar"].map(runner._pct),
        p_portfolio=frame["p_portfolio"].map(runner._p),
    )[columns].to_string(index=False)


@pytest.mark.parametrize("n", [1, 4])
def test_dated_text_is_the_pandas_table(n) -> None:
    frame = _dated(n)
    cols = ["event_id", "window", "day0", "caar", "p_portfolio"]
    text = runner._dated_text(frame, cols, dates=("day0",))
    assert text == _dated_by_pandas(frame, cols)
    if n == 4:  # a missing date and a missing event are NaN, a missing number blank
        # widths 19 (the longest event id), 7, 10, 6, 11 (the header), one space apart
        last = "NaN".rjust(19) + " " + "(0,+5)".rjust(7) + " " + "NaN".rjust(10) + " +4.53% "
        assert text.splitlines()[-1] == last + " " * 11
    # a column that is not text goes through pandas (numbers are right-aligned there too)
    cols = ["event_id", "n", "day0", "caar", "p_portfolio"]
    assert runner._dated_text(frame, cols, dates=("day0",)) == _dated_by_pandas(frame, cols)


# ----------------------------------------------------------------------------- roles


def _roles_by_pandas(roles: pd.DataFrame, windows, order) -> pd.DataFrame:
    """The pivot the summary printed before (``runner.headline`` up to this branch)."""
    r = roles[roles["window"].isin(windows)]
    r = r.iloc[r["event_id"].map(order).argsort(kind="stable")]
    return r.assign(caar=r["caar"].map(runner._pct), p_portfolio=r["p_portfolio"].map(runner._p)).pivot_table(
        index=["event_id", "subset"],
        columns="window",
        values=["caar", "p_portfolio"],
        aggfunc="first",
        sort=False,
    )  # fmt: skip


def _roles(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        {"event_id": e, "subset": s, "window": w, "caar": rng.normal(0, 0.02), "p_portfolio": p}
        for e in ("b_event", "a_event", "c_unknown")
        for s in ("peers (3)", "named OEMs (4)")
        for w, p in (("(0,0)", rng.uniform()), ("(0,+1)", rng.uniform()), ("(0,+5)", 0.5))
    ]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame = frame.drop(index=[1, 2])  # some event, subset and window without a row
    extra = frame.iloc[:2].assign(caar=9.0)  # a second row of a cell: the first one shows
    frame = pd.concat([frame, extra], ignore_index=True)
    frame.loc[len(frame)] = {"event_id": "a_event", "subset": None, "window": "(0,0)",
                             "caar": 1.0, "p_portfolio": 0.1}  # fmt: skip
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_roles_table_is_the_pivot_the_summary_printed(seed) -> None:
    roles = _roles(seed)
    order = {"a_event": 0, "b_event": 1}
    windows = ["(0,0)", "(0,+1)"]
    got = runner._roles_table(roles, windows, order)
    expected = _roles_by_pandas(roles, windows, order)
    pd.testing.assert_frame_equal(got, expected)
    assert got.to_string() == expected.to_string()
    assert list(dict.fromkeys(got.index.get_level_values(0))) == [
        "a_event", "b_event", "c_unknown"
    ]  # fmt: skip


def test_roles_table_without_a_row_is_the_empty_pivot() -> None:
    roles = _roles(0)
    got = runner._roles_table(roles, ["(-9,+9)"], {})
    assert got.to_string() == _roles_by_pandas(roles, ["(-9,+9)"], {}).to_string()


# ----------------------------------------------------------------------------- test rows


def _tests(calibrated: bool) -> pd.DataFrame:
    """Two events, five tests; the second event's grank could not run."""
    names = ["portfolio", "adjusted_patell", "grank", "sur_wald", "t_test"]
    p = [0.04, 0.20, 0.03, 0.01, 0.001, 0.60, 0.70, math.nan, 0.02, 0.30]
    frame = pd.DataFrame(
        {
            "event_id": ["e2"] * 5 + ["e1"] * 5,
            "test": names * 2,
            "statistic": [2.1, 1.0, 2.3, 9.0, 3.3, -0.5, -0.4, math.nan, 7.0, 1.0],
            "p_value": p,
            "caar": [0.0123] * 5 + [-0.0045] * 5,
        }
    )
    if calibrated:
        frame["p_calibrated"] = [0.05, 0.2, 0.04, 0.01, 0.002, 0.61, 0.7, math.nan, 0.03, 0.3]
        frame["size_5pct"] = [0.052, 0.06, 0.049, 0.3, 0.12] * 2
        frame["size_ci_low"] = [0.04, 0.051, 0.037, 0.27, 0.1] * 2
        frame["size_ci_high"] = [0.066, 0.07, 0.06, 0.33, 0.14] * 2
    return frame


def test_test_rows_count_robust_and_all_rejections_by_hand() -> None:
    rows = runner._test_rows(_tests(False), (0, 1))
    assert rows == [
        {
            "event": "e2", "window": "(0,+1)", "mean CAR": "+1.23%", "port. t": "2.10",
            "p portfolio": "0.0400", "p adjusted_patell": "0.2000", "p kolari_pynnonen": "",
            "p grank": "0.0300",
            # robust: portfolio, adjusted_patell, grank, sur_wald (t_test is not)
            "robust p<.05": "3/4", "all p<.05": "4/5",
        },
        {
            "event": "e1", "window": "(0,+1)", "mean CAR": "-0.45%", "port. t": "-0.50",
            "p portfolio": "0.6000", "p adjusted_patell": "0.7000", "p kolari_pynnonen": "",
            "p grank": "",  # could not run: left out of the counts
            "robust p<.05": "1/3", "all p<.05": "1/4",
        },
    ]  # fmt: skip
    assert {"portfolio", "adjusted_patell", "grank", "sur_wald"} <= set(CLUSTER_ROBUST_TESTS)
    assert "t_test" not in CLUSTER_ROBUST_TESTS


def test_test_rows_of_a_calibrated_study_count_the_valid_tests_by_hand() -> None:
    rows = runner._test_rows(_tests(True), (0, 0))
    # valid: 5% inside the size interval, sur_wald never: portfolio and grank
    assert [(r["p cal. portfolio"], r["size portfolio"], r["valid p<.05"]) for r in rows] == [
        ("0.0500", "5.2%", "2/2"),
        ("0.6100", "5.2%", "0/1"),
    ]
    assert "robust p<.05" not in rows[0] and rows[0]["all p<.05"] == "4/5"


# ----------------------------------------------------------------------------- the kei study


@pytest.fixture(scope="module")
def kei(prices_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runner.run_study(
            ROOT / "configs" / "kei_cars.yaml", prices=prices_dir, offline=True, calibrate=0
        )


def _block(text: str, title: str, labels: list[str]) -> list[dict[str, str]]:
    """The table printed under the line starting with ``title``, read by its right-aligned
    column headers (cells end where their header ends)."""
    lines = text.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith(title))
    header, ends, pos = lines[at + 1], [], 0
    for label in labels:
        pos = header.index(label, pos) + len(label)
        ends.append(pos)
    assert len(header) == ends[-1], "the last header ends the line"
    out = []
    for ln in lines[at + 2 :]:
        if not ln.strip():
            break
        starts = [0] + [e + 1 for e in ends[:-1]]
        out.append({lab: ln[s:e].strip() for lab, s, e in zip(labels, starts, ends, strict=True)})
    return out


def _pct(x: float) -> str:
    return f"{x * 100:+.2f}%"


def test_the_firm_table_prints_each_firm_s_values(kei) -> None:
    text = runner.headline(kei)
    labels = ["firm", "role", "AR(0)", "se AR(0)", "t AR(0)", "p AR(0)", "p SQ AR(0)",
              "CAR(0,+1)", "se CAR(0,+1)", "t CAR(0,+1)", "p CAR(0,+1)", "p SQ CAR(0,+1)",
              "CAR(-1,+1)", "CAR(0,+5)"]  # fmt: skip
    for eid in ("kei_cafe_2025-12-03", "tinycars_truth_2025-12-05"):
        rows = _block(text, f"Firms, {eid} ", labels)
        firms = kei.firms[kei.firms["event_id"] == eid]
        assert len(rows) == firms["security"].nunique() == 7
        for row in rows:
            sec = row["firm"].split()[-1]
            mine = firms[firms["security"] == sec].set_index("measure")
            name = mine["name"].iloc[0]
            assert row["firm"] == f"{name} {sec}"
            assert row["role"] == {"oem": "named OEM", "peer": "peer"}[mine["role"].iloc[0]]
            for m in ("AR(0)", "CAR(0,+1)"):
                r = mine.loc[m]
                assert row[m] == _pct(r["estimate"]) + r["stars"]
                assert row[f"se {m}"] == f"{r['se'] * 100:.2f}%"
                assert row[f"t {m}"] == f"{r['t']:.2f}"
                assert row[f"p {m}"] == f"{r['p_value']:.4f}"
                assert row[f"p SQ {m}"] == f"{r['p_sq']:.4f}"
            for m in ("CAR(-1,+1)", "CAR(0,+5)"):
                assert row[m] == _pct(mine.loc[m, "estimate"]) + mine.loc[m, "stars"]


def test_the_tests_and_volume_tables_print_the_study_s_tables(kei) -> None:
    text = runner.headline(kei)
    labels = ["event", "window", "mean CAR", "port. t", "p portfolio", "p adjusted_patell",
              "p kolari_pynnonen", "p grank", "robust p<.05", "all p<.05"]  # fmt: skip
    rows = _block(text, "Tests of the mean CAR per event", labels)
    res = kei.results["XTKS"]
    windows = ["(0,0)", "(0,+1)", "(-1,+1)", "(0,+5)"]
    assert [(r["event"], r["window"]) for r in rows] == [
        (e, w) for e in ("kei_cafe_2025-12-03", "tinycars_truth_2025-12-05") for w in windows
    ]
    for row in rows:
        w = tuple(int(x) for x in row["window"].strip("()").split(","))
        t = res.caar_tests(w, by="event_id")
        t = t[t["event_id"] == row["event"]].set_index("test")
        assert row["mean CAR"] == _pct(t["caar"].iloc[0])
        assert row["port. t"] == f"{t.loc['portfolio', 'statistic']:.2f}"
        assert row["p grank"] == f"{t.loc['grank', 'p_value']:.4f}"
        ok = t["p_value"].dropna()
        robust = ok[ok.index.isin(CLUSTER_ROBUST_TESTS)]
        assert row["robust p<.05"] == f"{(robust < 0.05).sum()}/{len(robust)}"
        assert row["all p<.05"] == f"{(ok < 0.05).sum()}/{len(ok)}"
    labels = ["event", "window", "mean CAV", "%/day", "port. t", "p portfolio", "p BW1985",
              "p rank", "VR", "p VR", "firms' VR"]  # fmt: skip
    rows = _block(text, "Abnormal volume", labels)
    vol = kei.volume["XTKS"]
    assert len(rows) == 8
    for row in rows:
        w = tuple(int(x) for x in row["window"].strip("()").split(","))
        cav = vol.cav(w)
        cav = cav[cav["event_id"] == row["event"]]["cav"]
        assert row["mean CAV"] == f"{cav.mean():.2f}"  # the mean over firms, by pandas
        assert row["%/day"] == _pct(np.expm1(cav.mean() / (w[1] - w[0] + 1)))
        t = vol.tests(w)
        t = t[t["event_id"] == row["event"]].set_index("test")
        assert row["p BW1985"] == f"{t.loc['brown_warner_1985', 'p_value']:.4f}"
        assert row["p rank"] == f"{t.loc['corrado_rank', 'p_value']:.4f}"
        ev = vol.volatility_events(w).set_index("event_id").loc[row["event"]]
        assert row["VR"] == f"{ev['portfolio_ratio']:.2f}"
        assert row["p VR"] == f"{ev['p_value']:.4f}"
        assert row["firms' VR"] == f"{ev['mean_ratio']:.2f}"
