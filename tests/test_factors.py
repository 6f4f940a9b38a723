"""Published Fama-French factors: the library's format, the cache, calendars, the presets.

Fixtures are built here in the library's exact format (``tests/fixtures/french.py``); the
presets' parameters, abnormal returns and CAR standard errors are checked against
statsmodels OLS fitted independently on the same excess returns.
"""

from __future__ import annotations

import http.server
import json
import threading
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from eventstudy import event_study
from eventstudy.calendar import factor_rule
from eventstudy.data.factors import FrenchLibrary, align_factors, read_french_table
from eventstudy.exceptions import (
    CacheWarning,
    ConfigError,
    DataError,
    EventStudyWarning,
    NetworkError,
    NotCached,
)
from tests.fixtures.french import french_text, french_zip, write_library

DATES = pd.bdate_range("2024-01-01", periods=320)


# ----------------------------------------------------------------------------- the format


def test_decimals_are_the_files_percent_divided_by_100(tmp_path: Path) -> None:
    written = write_library(tmp_path, DATES, region="us")
    ff3 = read_french_table(tmp_path / "F-F_Research_Data_Factors_daily_CSV.zip")
    pct = written["F-F_Research_Data_Factors_daily"]
    assert list(ff3.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    np.testing.assert_allclose(ff3.to_numpy(), pct.to_numpy() / 100, rtol=0, atol=1e-15)
    assert (ff3.index == DATES).all() and ff3.index.name == "date"
    assert ff3.attrs["notes"][0].startswith("This file was created by CMPT_ME_BEME_RETS_DAILY")
    mom = read_french_table(tmp_path / "F-F_Momentum_Factor_daily_CSV.zip")
    assert list(mom.columns) == ["MOM"]  # the library's "Mom   "
    np.testing.assert_allclose(mom["MOM"], written["F-F_Momentum_Factor_daily"]["Mom   "] / 100)


def test_japan_momentum_wml_and_five_factors(tmp_path: Path) -> None:
    written = write_library(tmp_path, DATES, region="japan")
    ff5 = read_french_table(tmp_path / "Japan_5_Factors_Daily_CSV.zip")
    assert list(ff5.columns) == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"]
    np.testing.assert_allclose(ff5["CMA"], written["Japan_5_Factors_Daily"]["CMA"] / 100)
    wml = read_french_table(tmp_path / "Japan_Mom_Factor_Daily_CSV.zip")
    assert list(wml.columns) == ["MOM"]


def test_missing_code_is_nan_and_unzipped_csv_reads_the_same(tmp_path: Path) -> None:
    table = pd.DataFrame(
        {
            "Mkt-RF": [0.5, -99.99, 1.0],
            "SMB": [0.1, 0.2, -999.0],
            "HML": [0, 0, 0],
            "RF": [0.02] * 3,
        },
        index=pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-08"]),
    )
    text = french_text("Japan_3_Factors_Daily", list(table.columns), table)
    path = tmp_path / "Japan_3_Factors_Daily.csv"
    path.write_text(text, encoding="utf-8", newline="")
    f = read_french_table(path)
    assert np.isnan(f.loc["2025-01-07", "Mkt-RF"]) and np.isnan(f.loc["2025-01-08", "SMB"])
    assert f.loc["2025-01-06", "Mkt-RF"] == pytest.approx(0.005)
    z = read_french_table(french_zip("Japan_3_Factors_Daily", list(table.columns), table))
    pd.testing.assert_frame_equal(f, z)


def _bad(tmp_path: Path, body: str, name: str = "bad.csv") -> str:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_french_table(path)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("notes\n\n,Mkt-RF,SMB,HML,RF\n202401,1,2,3,0.4\n", "monthly table"),
        ("notes\n\n,Mkt-RF,SMB,HML,RF\n20240102,1,x,3,0.4\n", "line 4, column SMB: 'x'"),
        ("notes\n\n,Mkt-RF,SMB,HML,RF\n20240102,1,2,0.4\n", "line 4: 3 values for 4 columns"),
        ("just text\nno table\n", "no table header"),
        ("n\n\n,Mkt-RF,Foo\n20240102,1,2\n", "unknown factor column 'Foo'"),
        ("n\n\n,Mkt-RF,RF\n20240102,1,2\n20240102,1,2\n", "date 20240102 appears twice"),
        ("n\n\n,Mkt-RF,RF\n20240231,1,2\n", "20240231 is not a calendar date"),
        ("n\n\n,Mkt-RF,RF\n20240102,nan,2\n", "not a finite number"),
        ("n\n\n,Mkt-RF,RF\n\nCopyright\n", "no dated rows"),
    ],
)
def test_bad_files_are_one_line_naming_line_and_column(tmp_path: Path, body: str, words: str):
    assert words in _bad(tmp_path, body)


def test_a_zip_with_two_csv_files_or_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two_CSV.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.csv", "x")
        zf.writestr("b.csv", "y")
    with pytest.raises(DataError, match="holds 2 CSV files"):
        read_french_table(path)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        read_french_table(path)


# ----------------------------------------------------------------------------- calendars


def test_same_date_compounds_holiday_rows_into_the_next_session() -> None:
    # factor rows on Mon..Fri; the exchange is closed on Wednesday 2025-01-08
    f = pd.DataFrame(
        {
            "Mkt-RF": [0.010, -0.020, 0.030, 0.005, 0.001],
            "SMB": [0.001, 0.002, 0.003, 0.004, np.nan],
            "RF": [0.0002] * 5,
        },
        index=pd.bdate_range("2025-01-06", periods=5),
    )
    sessions = pd.DatetimeIndex(["2025-01-06", "2025-01-07", "2025-01-09", "2025-01-10"])
    a = align_factors(f, sessions, "same_date")
    # Thursday holds Wednesday and Thursday: total market compounded, minus compounded RF
    mkt = (1 + 0.030 + 0.0002) * (1 + 0.005 + 0.0002) - 1
    rf = (1.0002) ** 2 - 1
    assert a.loc["2025-01-09", "Mkt-RF"] == pytest.approx(mkt - rf, abs=1e-15)
    assert a.loc["2025-01-09", "RF"] == pytest.approx(rf, abs=1e-15)
    assert a.loc["2025-01-09", "SMB"] == pytest.approx(1.003 * 1.004 - 1, abs=1e-15)
    assert a.loc["2025-01-06", "Mkt-RF"] == pytest.approx(0.010)  # one row: unchanged
    assert np.isnan(a.loc["2025-01-10", "SMB"])  # a missing value stays missing
    assert a.attrs["unmatched_share"] == pytest.approx(1 / 5)


def test_next_session_uses_only_rows_dated_before_the_session() -> None:
    f = pd.DataFrame({"SMB": [0.01, 0.02, 0.03]}, index=pd.bdate_range("2025-01-06", periods=3))
    sessions = pd.DatetimeIndex(["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-09"])
    a = align_factors(f, sessions, "next_session")
    # the row dated d (known after New York's close on d) reaches Tokyo's next session
    assert np.isnan(a.loc["2025-01-06", "SMB"])
    assert a.loc["2025-01-07", "SMB"] == pytest.approx(0.01)
    assert a.loc["2025-01-09", "SMB"] == pytest.approx(0.03)
    same = align_factors(f, sessions, "same_date")
    assert same.loc["2025-01-06", "SMB"] == pytest.approx(0.01)
    assert np.isnan(same.loc["2025-01-09", "SMB"])  # no row in its span: not forward-filled


def test_rule_follows_the_closing_times() -> None:
    assert factor_rule("japan", "XTKS") == "same_date"
    assert factor_rule("us", "XNYS") == "same_date"
    assert factor_rule("us", "XTKS") == "next_session"  # New York closes after Tokyo
    assert factor_rule("japan", "XNYS") == "same_date"  # Tokyo closed before New York


# ----------------------------------------------------------------------------- the library


class _Server:
    """A local HTTP server for the library (never the network)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.hits: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rsplit("/", 1)[-1]
                server.hits.append(name)
                body = server.files.get(name)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/ftp/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def library(tmp_path: Path) -> Iterator[tuple[_Server, dict[str, pd.DataFrame]]]:
    folder = tmp_path / "served"
    written = write_library(folder, DATES, region="japan")
    server = _Server({p.name: p.read_bytes() for p in folder.iterdir()})
    yield server, written
    server.close()


def test_fetch_once_then_serve_from_the_cache(library, tmp_path: Path) -> None:
    server, written = library
    cache = tmp_path / "cache"
    lib = FrenchLibrary(cache_root=cache, base_url=server.url)
    f = lib.load("japan", ["ff3", "momentum"])
    assert server.hits == ["Japan_3_Factors_Daily_CSV.zip", "Japan_Mom_Factor_Daily_CSV.zip"]
    np.testing.assert_allclose(f["HML"], written["Japan_3_Factors_Daily"]["HML"] / 100)
    assert list(f.columns) == ["Mkt-RF", "SMB", "HML", "RF", "MOM"]
    meta = json.loads((cache / "french" / "Japan_3_Factors_Daily_CSV.zip.json").read_text())
    assert meta["url"] == server.url + "Japan_3_Factors_Daily_CSV.zip"
    again = FrenchLibrary(cache_root=cache, base_url=server.url, offline=True).load(
        "japan", ["ff3", "momentum"]
    )
    pd.testing.assert_frame_equal(f, again, check_freq=False)
    assert len(server.hits) == 2  # the second load never asked
    assert (
        FrenchLibrary(cache_root=cache, base_url=server.url, refresh=True)
        .load("japan", ["ff3"])
        .equals(f[["Mkt-RF", "SMB", "HML", "RF"]])
    )
    assert len(server.hits) == 3
    assert FrenchLibrary(cache_root=cache).clear() == 2


def test_stale_cache_is_fetched_again_when_the_study_needs_later_dates(library, tmp_path):
    server, _ = library
    cache = tmp_path / "cache"
    FrenchLibrary(cache_root=cache, base_url=server.url).load("japan", ["ff3"])
    meta_path = cache / "french" / "Japan_3_Factors_Daily_CSV.zip.json"
    meta = json.loads(meta_path.read_text())
    meta["fetched_on"] = "2000-01-01"
    meta_path.write_text(json.dumps(meta))
    later = DATES[-1] + pd.Timedelta(days=30)
    FrenchLibrary(cache_root=cache, base_url=server.url).load("japan", ["ff3"], needed_until=later)
    assert len(server.hits) == 2
    # covered dates: no new request
    FrenchLibrary(cache_root=cache, base_url=server.url).load(
        "japan", ["ff3"], needed_until=DATES[-1]
    )
    assert len(server.hits) == 2


def test_corrupt_cache_is_reported_discarded_and_refetched(library, tmp_path: Path) -> None:
    server, _ = library
    cache = tmp_path / "cache"
    FrenchLibrary(cache_root=cache, base_url=server.url).load("japan", ["ff3"])
    path = cache / "french" / "Japan_3_Factors_Daily_CSV.zip"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CacheWarning, match="checksum mismatch"):
        FrenchLibrary(cache_root=cache, base_url=server.url).load("japan", ["ff3"])
    assert len(server.hits) == 2
    read_french_table(path)  # the cache holds a good copy again


def test_offline_without_cache_and_unknown_dataset_are_one_line_errors(library, tmp_path):
    server, _ = library
    with pytest.raises(NotCached, match=r"not in the cache .* and offline; run once without"):
        FrenchLibrary(cache_root=tmp_path / "c", base_url=server.url, offline=True).load(
            "japan", ["ff3"]
        )
    server.files.clear()
    with pytest.raises(DataError, match="HTTP 404"):
        FrenchLibrary(cache_root=tmp_path / "c", base_url=server.url).load("japan", ["ff3"])
    assert not list((tmp_path / "c" / "french").glob("*.zip"))  # nothing half-written
    server.close()
    with pytest.raises(NetworkError, match="Kenneth French data library"):
        FrenchLibrary(cache_root=tmp_path / "c", base_url=server.url, timeout=2).load(
            "japan", ["ff3"]
        )


def test_a_garbled_download_is_never_cached(library, tmp_path: Path) -> None:
    server, _ = library
    server.files["Japan_3_Factors_Daily_CSV.zip"] = b"<html>maintenance</html>"
    with pytest.raises(DataError, match="no table header"):
        FrenchLibrary(cache_root=tmp_path / "c", base_url=server.url).load("japan", ["ff3"])
    assert not (tmp_path / "c" / "french" / "Japan_3_Factors_Daily_CSV.zip").exists()


def test_local_folder_wins_and_is_never_fetched(tmp_path: Path) -> None:
    write_library(tmp_path / "lib", DATES, region="us")
    lib = FrenchLibrary(tmp_path / "lib", base_url="http://127.0.0.1:9/none/", offline=False)
    f = lib.load("us", ["ff5", "momentum"])
    assert list(f.columns) == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF", "MOM"]
    assert f.attrs["provenance"][0]["origin"].endswith(
        "F-F_Research_Data_5_Factors_2x3_daily_CSV.zip"
    )


# ----------------------------------------------------------------------------- presets


def _panel(factors: pd.DataFrame, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Returns of three securities loading on the factors, and their events."""
    rng = np.random.default_rng(seed)
    loads = {"AAA": (1.1, 0.4, -0.3, 0.2, 0.1, 0.3), "BBB": (0.8, -0.2, 0.5, -0.1, 0.2, -0.2)}
    loads["CCC"] = (1.3, 0.9, 0.1, 0.0, -0.3, 0.1)
    cols = ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "MOM"]
    out = {}
    for sec, b in loads.items():
        x = factors[cols].fillna(0).to_numpy() @ np.array(b)
        out[sec] = factors["RF"] + 0.0002 + x + rng.normal(0, 0.012, len(factors))
    returns = pd.DataFrame(out, index=factors.index)
    events = pd.DataFrame(
        {
            "security": ["AAA", "BBB", "CCC", "AAA"],
            "event_date": [DATES[280], DATES[280], DATES[280], DATES[300]],
            "event_id": ["e1", "e1", "e1", "e2"],
        }
    )
    return returns, events


@pytest.mark.parametrize(
    ("preset", "kinds", "names"),
    [
        ("ff3", ["ff3"], ["SMB", "HML"]),
        ("ff5", ["ff5"], ["SMB", "HML", "RMW", "CMA"]),
        ("carhart", ["ff3", "momentum"], ["SMB", "HML", "MOM"]),
    ],
)
def test_presets_match_statsmodels_ols_on_excess_returns(tmp_path, preset, kinds, names) -> None:
    write_library(tmp_path, DATES, region="japan")
    ff = FrenchLibrary(tmp_path).load("japan", kinds)
    all_cols = FrenchLibrary(tmp_path).load("japan", ["ff5", "momentum"])
    returns, events = _panel(all_cols)
    est, win = (-250, -11), (-5, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        res = event_study(returns, events, model=preset, factors=ff, estimation=est, window=win)
    assert res.model == "factor" and res.market == "Mkt-RF"
    params = res.params.set_index(["event_id", "security"])
    car = res.car((0, 1)).set_index(["event_id", "security"])
    ars = res.abnormal_returns.set_index(["event_id", "security", "rel_day"])["ar"]
    X_all = sm.add_constant(ff[["Mkt-RF", *names]])
    y_all = returns.sub(ff["RF"], axis=0)
    for r in events.itertuples():
        pos = DATES.get_loc(r.event_date)
        rows = slice(pos + est[0], pos + est[1] + 1)
        fit = sm.OLS(y_all[r.security].iloc[rows], X_all.iloc[rows]).fit()
        got = params.loc[(r.event_id, r.security)]
        np.testing.assert_allclose(
            got[["alpha", "beta", *names]].to_numpy(float), fit.params.to_numpy(), rtol=1e-9
        )
        assert got["sigma"] == pytest.approx(np.sqrt(fit.scale), rel=1e-10)
        assert got["r2"] == pytest.approx(fit.rsquared, rel=1e-9)
        # abnormal returns in the window: excess return minus the fitted factor model
        w = X_all.iloc[pos + win[0] : pos + win[1] + 1]
        expected_ar = y_all[r.security].iloc[pos + win[0] : pos + win[1] + 1] - w @ fit.params
        np.testing.assert_allclose(
            [ars.loc[(r.event_id, r.security, d)] for d in range(win[0], win[1] + 1)],
            expected_ar.to_numpy(),
            rtol=1e-9,
        )
        # CAR(0,+1) and its prediction-error variance s^2 L2 + s_W' Cov(b) s_W
        s_w = X_all.iloc[pos : pos + 2].sum().to_numpy()
        var = fit.scale * 2 + s_w @ fit.cov_params().to_numpy() @ s_w
        assert car.loc[(r.event_id, r.security), "car"] == pytest.approx(
            expected_ar.iloc[-win[0] : -win[0] + 2].sum(), rel=1e-9
        )
        assert car.loc[(r.event_id, r.security), "se"] == pytest.approx(np.sqrt(var), rel=1e-9)
        assert car.loc[(r.event_id, r.security), "df"] == fit.df_resid


def test_preset_from_columns_of_the_returns_equals_the_frame(tmp_path: Path) -> None:
    write_library(tmp_path, DATES, region="japan")
    ff = FrenchLibrary(tmp_path).load("japan", ["ff3"])
    returns, events = _panel(FrenchLibrary(tmp_path).load("japan", ["ff5", "momentum"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        a = event_study(returns, events, model="ff3", factors=ff)
        b = event_study(returns.join(ff), events, model="ff3")
    pd.testing.assert_frame_equal(a.params, b.params)


def test_preset_errors_name_the_missing_columns_and_percent_units(tmp_path: Path) -> None:
    write_library(tmp_path, DATES, region="japan", five=False)
    ff = FrenchLibrary(tmp_path).load("japan", ["ff3"])
    returns, events = _panel(
        FrenchLibrary(tmp_path).load("japan", ["ff3", "momentum"]).assign(RMW=0.0, CMA=0.0)
    )
    with pytest.raises(ConfigError, match=r"\['RMW', 'CMA'\].*the ff5 columns"):
        event_study(returns, events, model="ff5", factors=ff)
    with pytest.raises(DataError, match="percent, not decimals"):
        event_study(returns, events, model="ff3", factors=ff * 100)
    late = ff.set_axis(ff.index + pd.Timedelta(days=3000))
    with pytest.raises(DataError, match="has every ff3 factor"):
        event_study(returns, events, model="ff3", factors=late)


# ----------------------------------------------------------------------------- in a study


def _study(tmp_path: Path, extra: str, model: str = "ff3") -> Path:
    """The kei-car study (no dossiers) with ``model`` and the extra YAML lines."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "configs" / "kei_cars.yaml").read_text(encoding="utf-8")
    text = "\n".join(ln for ln in text.splitlines() if "dossier:" not in ln)
    text = text.replace("model: market", f"model: {model}\n{extra}")
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _xtks_returns(prices_dir: Path, symbol: str) -> pd.Series:
    """Close-to-close simple returns on the Tokyo sessions, read with pandas alone."""
    from eventstudy.calendar import sessions

    px = pd.read_csv(prices_dir / f"{symbol}.csv", index_col="Date", parse_dates=True)["Close"]
    sess = sessions("XTKS", px.index[0], px.index[-1])
    return px.reindex(sess).pct_change(fill_method=None)


def test_study_with_ff3_matches_statsmodels_on_the_shared_prices(tmp_path, prices_dir) -> None:
    from eventstudy.calendar import sessions
    from eventstudy.runner import run_study

    lib = tmp_path / "lib"
    written = write_library(lib, sessions("XTKS", "2023-01-04", "2026-06-30"), region="japan")
    path = _study(tmp_path, f"fama_french: {{dir: {lib}}}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        run = run_study(path, prices=prices_dir, offline=True, analyses=False)
    res = run.results["XTKS"]
    assert res.market == "Mkt-RF"
    assert any("matched to XTKS sessions by date" in n for n in run.notes)
    ff = written["Japan_3_Factors_Daily"] / 100
    r = _xtks_returns(prices_dir, "7203.T")
    day0 = pd.Timestamp(
        res.events.set_index(["event_id", "security"]).loc[
            ("kei_cafe_2025-12-03", "7203.T"), "event_date"
        ]
    )
    pos = r.index.get_loc(day0)
    est = r.index[pos - 250 : pos - 10]
    X = sm.add_constant(ff.loc[est, ["Mkt-RF", "SMB", "HML"]])
    fit = sm.OLS(r.loc[est] - ff.loc[est, "RF"], X).fit()
    got = res.params.set_index(["event_id", "security"]).loc[("kei_cafe_2025-12-03", "7203.T")]
    np.testing.assert_allclose(
        got[["alpha", "beta", "SMB", "HML"]].to_numpy(float), fit.params.to_numpy(), rtol=1e-8
    )
    ar0 = (r.loc[day0] - ff.loc[day0, "RF"]) - fit.params @ [
        1,
        *ff.loc[day0, ["Mkt-RF", "SMB", "HML"]],
    ]
    got_ar0 = (
        res.car((0, 0))
        .set_index(["event_id", "security"])
        .loc[("kei_cafe_2025-12-03", "7203.T"), "car"]
    )
    assert got_ar0 == pytest.approx(ar0, rel=1e-8)


def test_factors_ending_before_an_event_window_stop_the_study(tmp_path, prices_dir) -> None:
    from eventstudy.calendar import sessions
    from eventstudy.runner import run_study

    lib = tmp_path / "lib"
    write_library(lib, sessions("XTKS", "2023-01-04", "2025-12-05"), region="japan")
    path = _study(tmp_path, f"fama_french: {{dir: {lib}}}", model="carhart")
    with pytest.raises(DataError) as err, warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        run_study(path, prices=prices_dir, offline=True, analyses=False)
    msg = str(err.value)
    assert "Japan_3_Factors_Daily, Japan_Mom_Factor_Daily" in msg
    assert "do not cover event kei_cafe_2025-12-03's window on XTKS" in msg
    assert "2025-12-05" in msg and "\n" not in msg


def test_us_factors_for_tokyo_are_taken_from_the_previous_new_york_day(tmp_path, prices_dir):
    from eventstudy.calendar import sessions
    from eventstudy.runner import prepare

    lib = tmp_path / "lib"
    written = write_library(lib, sessions("XNYS", "2023-01-03", "2026-06-30"), region="us")
    path = _study(tmp_path, f"fama_french: {{dir: {lib}, region: us}}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        prep = prepare(path, prices=prices_dir, offline=True)
    f = prep.groups["XTKS"].returns
    assert {"Mkt-RF", "SMB", "HML", "RF"} <= set(f.columns)
    ny = written["F-F_Research_Data_Factors_daily"] / 100
    # Tokyo's Thursday 2025-12-04 takes New York's Wednesday 2025-12-03, not its Thursday
    assert f.loc["2025-12-04", "SMB"] == pytest.approx(ny.loc["2025-12-03", "SMB"], abs=1e-15)
    # Tokyo's Monday 2025-12-08 takes New York's Friday 2025-12-05 only
    assert f.loc["2025-12-08", "HML"] == pytest.approx(ny.loc["2025-12-05", "HML"], abs=1e-15)
    assert any("the next session after their date" in n for n in prep.notes)


def test_cache_clear_also_removes_the_cached_factor_files(library, tmp_path, monkeypatch) -> None:
    from click.testing import CliRunner

    from eventstudy import cli

    server, _ = library
    cache = tmp_path / "cache"
    monkeypatch.setenv("EVENTSTUDY_CACHE", str(cache))
    FrenchLibrary(base_url=server.url).load("japan", ["ff3", "momentum"])
    assert len(list((cache / "french").glob("*_CSV.zip"))) == 2
    result = CliRunner().invoke(cli.main, ["cache", "clear"], catch_exceptions=False)
    assert result.exit_code == 0 and "and 2 factor file(s)" in result.output
    assert not list((cache / "french").glob("*_CSV.zip")) + list((cache / "french").glob("*.json"))


def test_a_variant_can_be_a_factor_preset(tmp_path, prices_dir) -> None:
    from eventstudy.calendar import sessions
    from eventstudy.runner import run_study

    lib = tmp_path / "lib"
    write_library(lib, sessions("XTKS", "2023-01-04", "2026-06-30"), region="japan")
    path = _study(
        tmp_path,
        f"fama_french: {{dir: {lib}}}",
        model="market",
    )
    text = path.read_text(encoding="utf-8").replace(
        "variants:\n",
        "variants:\n  - {name: carhart, title: Carhart four factors, model: carhart}\n",
    )
    path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        run = run_study(path, prices=prices_dir, offline=True)
    v = run.analyses["variants"]
    mine = v[v["variant"] == "carhart"]
    assert (
        len(mine) == 2 * 4 and mine["title"].str.startswith("Carhart four factors (carhart").all()
    )
    assert run.results["XTKS"].model == "market"
    # the variant's mean CAR is the preset's, fitted directly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EventStudyWarning)
        g = run.returns["XTKS"]
        direct = event_study(
            g, run.results["XTKS"].events, model="carhart", estimation=(-250, -11), window=(-10, 10)
        ).portfolio_car((0, 1))
    got = mine[mine["window"] == "(0,+1)"].set_index("event_id")["caar"]
    want = direct.set_index("event_id")["car"]
    np.testing.assert_allclose(got.loc[want.index], want, rtol=1e-10)
