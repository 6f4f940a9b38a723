"""The report's table writers against pandas' own output, byte for byte.

``write_csv`` writes a frame without pandas' CSV machinery; what it must write is what
``neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d")`` writes
(pandas is the independent reference). The frames are generated: NaN, negative zero, huge,
tiny and subnormal floats, infinities, every float64 bit pattern, dates before 1970 and
with times, time zones, text with commas, quotes, line ends and formula starts, mixed
``object`` columns, duplicate column names, no rows.
"""

from __future__ import annotations

import datetime as dt
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.errors import Pandas4Warning
from plotly.io.json import to_json_plotly

from eventstudy.figures import PLOT_CONFIG
from eventstudy.report import html
from eventstudy.report.build import build_report
from eventstudy.report.inputs import ReportInput
from eventstudy.report.provenance import _header_version
from eventstudy.report.tables import (
    _csv_cells,
    _json_table,
    _jsonable,
    neutralise_formulas,
    table_columns,
    write_csv,
)


def pandas_csv(frame: pd.DataFrame, path: Path) -> bytes:
    """The reference: what the report wrote before it had its own writer."""
    neutralise_formulas(frame).to_csv(path, index=False, date_format="%Y-%m-%d")
    return path.read_bytes()


def ours(frame: pd.DataFrame, path: Path) -> bytes:
    write_csv(frame, path)
    return path.read_bytes()


def assert_same_csv(frame: pd.DataFrame, folder: Path, *, fast: bool = True) -> None:
    # the writer under test is the one used
    assert (_csv_cells(frame, table_columns(frame)) is not None) is fast
    assert ours(frame, folder / "ours.csv") == pandas_csv(frame, folder / "pandas.csv")


TEXT = st.text(alphabet=st.sampled_from(list("ab,;\"' \n\r\t=+-@0123.%eéö東京|")), max_size=12)
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from(
        [0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 9.999e-5, 1e-5, 0.1, 1 / 3, 5e-324,
         1.7976931348623157e308, 123456789012345680.0, -2.5e-310]
    ),
)  # fmt: skip
STAMPS = st.one_of(
    st.none(),
    st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31)),
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    names = draw(
        st.lists(st.one_of(TEXT, st.sampled_from(["x", "=SUM(A1)", "a,b", 'q"'])), min_size=1,
                 max_size=6)
    )  # fmt: skip
    cols = []
    for _ in names:
        kind = draw(st.sampled_from(
            ["f8", "f4", "i8", "u1", "bool", "dt", "dt_us", "utc", "tokyo", "ny", "str", "obj"]
        ))  # fmt: skip
        if kind == "f8":
            cols.append(pd.Series(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=kind))
        elif kind == "f4":
            f4 = st.floats(width=32, allow_subnormal=True)
            cols.append(pd.Series(draw(st.lists(f4, min_size=n, max_size=n)), dtype=kind))
        elif kind == "i8":
            values = draw(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n))
            cols.append(pd.Series(values, dtype="int64"))
        elif kind == "u1":
            cols.append(pd.Series(draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)),
                                  dtype="uint8"))  # fmt: skip
        elif kind == "bool":
            cols.append(pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)),
                                  dtype=bool))  # fmt: skip
        elif kind.startswith("dt") or kind in ("utc", "tokyo", "ny"):
            stamps = pd.to_datetime(pd.Series(draw(st.lists(STAMPS, min_size=n, max_size=n)),
                                              dtype=object))  # fmt: skip
            if kind == "dt_us":
                stamps = stamps.astype("datetime64[us]")
            elif kind != "dt":
                tz = {"utc": "UTC", "tokyo": "Asia/Tokyo", "ny": "America/New_York"}[kind]
                stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(tz)
            cols.append(stamps)
        elif kind == "str":
            values = draw(st.lists(st.one_of(TEXT, st.none()), min_size=n, max_size=n))
            cols.append(pd.Series(values, dtype="str"))
        else:
            cell = st.one_of(
                TEXT, FLOATS, st.integers(-(10**20), 10**20), st.none(), st.booleans(),
                st.just(pd.NaT), st.dates(min_value=dt.date(1000, 1, 1)),
            )  # fmt: skip
            cols.append(pd.Series(draw(st.lists(cell, min_size=n, max_size=n)), dtype=object))
    frame = pd.concat([c.reset_index(drop=True) for c in cols], axis=1)
    frame.columns = names  # duplicates allowed, as in pandas
    return frame


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames())
def test_csv_writes_the_bytes_pandas_writes(frame, tmp_path_factory):
    assert_same_csv(frame, tmp_path_factory.mktemp("csv"))


def test_csv_every_float64_bit_pattern(tmp_path):
    """Random bit patterns (subnormals, every exponent) and the edges of the notations."""
    rng = np.random.default_rng(20251203)
    bits = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 200_000, dtype=np.int64)
    edges = [1e16, np.nextafter(1e16, 0), 1e-4, np.nextafter(1e-4, 0), 0.0, -0.0, np.inf,
             -np.inf, np.nan, 5e-324, -5e-324, np.finfo(float).max, np.finfo(float).tiny]  # fmt: skip
    values = np.concatenate([bits.view(np.float64), edges])
    assert_same_csv(pd.DataFrame({"x": values}), tmp_path)


def test_csv_text_that_needs_quoting_and_formulas(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ["a,b", 'say "hi"', "two\nlines", "cr\rend", "", "=HYPERLINK(x)", "-0.24%",
                     "@SUM", "\tx", None],
            "=cmd": [1.5, -0.0, np.nan, 1e300, 1e-300, 2.0, 3.0, 4.0, 5.0, 6.0],
            "when": pd.to_datetime(["1969-12-31 23:59", "2025-12-03", None, "1700-01-01 12:00",
                                    "2262-04-11", "1970-01-01", "2000-02-29 00:00:01",
                                    "2024-11-05", "1999-12-31 23:59:59.999999", "2025-01-01"],
                                   format="ISO8601"),
        }
    )  # fmt: skip
    frame["obj"] = pd.Series(
        ["x", 1.25, 7, None, pd.NaT, np.nan, "", dt.date(2020, 5, 6), True, "+cmd"],
        dtype=object,
    )  # fmt: skip
    assert_same_csv(frame, tmp_path)
    assert_same_csv(frame.iloc[:0], tmp_path)  # header only
    assert_same_csv(frame[["name"]].iloc[4:5], tmp_path)  # one empty cell: quoted


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1, None], dtype="Int64"),
        pd.Series(["a", "b"], dtype="category"),
        pd.Series(pd.to_timedelta([1, 2], unit="D")),
        pd.Series(pd.period_range("2025-01", periods=2, freq="M")),
        pd.Series([pd.Period("2025-01", freq="M"), "x"], dtype=object),
        pd.Series([pd.Timestamp("2025-12-03 19:30", tz="UTC"), None], dtype=object),
        pd.Series([dt.datetime(1999, 1, 2, 3, 4), "x"], dtype=object),
        pd.Series(np.array(["0999-12-31", "2025-01-01"], dtype="datetime64[s]")),
    ],
    ids=[
        "Int64",
        "category",
        "timedelta",
        "period",
        "object-period",
        "object-timestamp",
        "object-datetime",
        "year-999",
    ],
)
def test_csv_other_columns_go_through_pandas(column, tmp_path):
    frame = pd.DataFrame({"a": ["x", "=y"], "b": column})
    assert_same_csv(frame, tmp_path, fast=False)


def test_csv_other_labels_go_through_pandas(tmp_path):
    assert_same_csv(pd.DataFrame({1: [1.5], "a": ["x"]}), tmp_path, fast=False)
    multi = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "b"), ("a", "c")]))
    assert_same_csv(multi, tmp_path, fast=False)
    assert_same_csv(pd.DataFrame(index=range(2)), tmp_path, fast=False)


# ----------------------------------------------------------------------------- JSON


def pandas_json(frame: pd.DataFrame) -> str:
    """The reference: the records ``results.json`` held before (pandas' ``to_json`` of the
    frame with its dates as text and its object cells made JSON-able)."""
    out = frame.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            if s.dt.tz is None and (s.dropna() == s.dropna().dt.normalize()).all():
                out[col] = s.dt.strftime("%Y-%m-%d")
            else:
                out[col] = s.map(lambda v: v.isoformat() if pd.notna(v) else None)
        elif s.dtype == object:
            out[col] = s.map(_jsonable)
    with warnings.catch_warnings():  # an empty date column is still one: "epoch" dates
        warnings.simplefilter("ignore", Pandas4Warning)
        return out.to_json(orient="records", double_precision=15, force_ascii=False)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), midnight=st.booleans())
def test_json_records_are_the_text_pandas_writes(frame, midnight):
    frame = frame.loc[:, ~frame.columns.duplicated()]  # records need unique names
    if midnight:  # dates alone (written as YYYY-MM-DD), as in most tables
        for i, dtype in enumerate(frame.dtypes):
            if isinstance(dtype, np.dtype) and dtype.kind == "M":
                frame.isetitem(i, frame.iloc[:, i].dt.normalize())
    assert _json_table(frame) == pandas_json(frame)


def test_json_other_frames_go_through_pandas():
    for frame in (
        pd.DataFrame({"a": pd.Series([1, None], dtype="Int64"), "b": ["x", None]}),
        pd.DataFrame({"a": pd.Categorical(["x", "y"]), "b": [1.5, np.nan]}),
        pd.DataFrame({1: [1.5], "a": ["x"]}),
        pd.DataFrame({"d": np.array(["0999-12-31", "2025-01-01"], dtype="datetime64[s]")}),
        pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, -0.0, 1e300, 123456789.123456789]}),
    ):
        assert _json_table(frame) == pandas_json(frame)


# ----------------------------------------------------------------------------- plotly.js


def test_plotlyjs_bytes_are_plotlys_text():
    assert html.plotlyjs_bytes() == plotly.offline.get_plotlyjs().encode("utf-8")


@pytest.mark.parametrize("mode", ["inline", "cdn", "none"])
def test_page_written_with_the_mark_is_the_page_with_plotlyjs(mode, tmp_path):
    """A page rendered with ``head_js_mark`` and written by ``write_page_bytes`` has the
    bytes of the page rendered with ``head_js`` (plotly.js as text) and written as UTF-8."""

    def page(head: str) -> str:
        return f"<html><head><title>Kei é 東京</title>{head}</head><body>x</script></body>\n"

    html.write_page_bytes(tmp_path / "index.html", page(html.head_js_mark(mode)))
    expected = page(html.head_js(mode)).encode("utf-8")
    assert (tmp_path / "index.html").read_bytes() == expected
    if mode == "inline":
        js = plotly.offline.get_plotlyjs().replace("</script", "<\\/script")
        assert expected.count(js.encode("utf-8")) == 1


# ----------------------------------------------------------------------------- versions


def test_versions_read_from_the_header_are_importlibs():
    """Every installed distribution: the plain ``Version:`` line, or None (then importlib's
    e-mail parser reads it), never another value."""
    plain = 0
    for dist in metadata.distributions():
        found = _header_version(dist)
        if found is not None:
            assert found == dist.version
            plain += 1
    assert plain > 10


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("Metadata-Version: 2.1\nName: x\nVersion: 1.2.3\n\nbody Version: 9", "1.2.3"),
        ("Name: x\nVersion:  1.2\n", None),  # two spaces: left to importlib
        ("Name: x\nVersion: 1.2\n  .3\n", None),  # folded
        ("Name: x\n\nVersion: 1.2\n", None),  # in the body, not a header
        ("Name: x\nVersion:\n", None),
    ],
)
def test_header_version_takes_only_a_plain_header(text, version):
    class Dist(metadata.Distribution):
        def read_text(self, filename):
            return text if filename == "METADATA" else None

        def locate_file(self, path):  # pragma: no cover - not read
            raise NotImplementedError

    assert _header_version(Dist()) == version


# ----------------------------------------------------------------------------- figures


def plotly_div(fig: go.Figure, fid: str) -> str:
    """The reference: Plotly's own ``to_html`` of the figure."""
    return pio.to_html(
        fig, full_html=False, include_plotlyjs=False, div_id=fid, config=PLOT_CONFIG,
        validate=False,
    )  # fmt: skip


def test_figure_divs_are_plotlys_on_every_figure_of_a_report():
    from test_report import make_run

    built = build_report(ReportInput.from_run(make_run()))
    assert len(built.figures) >= 8
    divs = html.figure_divs([(f.id, f.fig) for f in built.figures])
    for f in built.figures:
        assert divs[f.id] == plotly_div(f.fig, f.id), f.id
        assert isinstance(html.figure_dict(f.fig), dict)


def test_figure_dict_is_to_dict_on_arrays_of_every_kind():
    """Every dtype Plotly narrows, encodes or leaves as a list; 2-D, empty and strided
    arrays; arrays under the keys Plotly leaves alone; arrays inside lists."""
    x = np.arange(5)
    fig = go.Figure(
        [
            go.Scatter(x=x, y=np.linspace(-1, 1, 5), text=np.array(list("abcde")),
                       customdata=np.arange(10.0).reshape(5, 2)),
            go.Scatter(x=np.array([0, 40_000]), y=np.array([-(2**40), 2**40])),
            go.Scatter(x=np.array([0, 2**33], dtype=np.uint64), y=np.array([1, 300], dtype=np.uint64)),
            go.Scatter(x=np.array([1, 2], dtype=np.uint16), y=np.array([1.5, 2.5], dtype=np.float32)),
            go.Scatter(x=np.array([1, 2], dtype=np.float16), y=np.arange(10.0)[::3]),
            go.Scatter(x=np.array(["2025-12-03", "2025-12-05"], dtype="datetime64[ns]"),
                       y=np.array([1.0, 2.0])),
            go.Scatter(x=np.array([], dtype=float), y=np.array([], dtype=np.int64)),
            go.Scatter(x=[1, 2], y=[True, False], marker={"color": np.array([0.1, 0.2])}),
            go.Heatmap(z=np.arange(6, dtype=np.int64).reshape(2, 3),
                       text=np.array([["a", "b", "c"], ["d", "e", "f"]], dtype=object)),
            go.Table(cells={"values": [np.array([1.5, 2.5]), np.array(["x", "y"])]}),
        ],
        layout={"xaxis": {"range": np.array([0.0, 4.0])}, "title": {"text": "kinds"},
                "shapes": [{"type": "line", "x0": 0, "x1": 1, "y0": 0, "y1": 1}]},
    )  # fmt: skip
    assert html.figure_divs([("kinds", fig)])["kinds"] == plotly_div(fig, "kinds")
    ours, theirs = html.figure_dict(fig), fig.to_dict()
    assert to_json_plotly(ours) == to_json_plotly(theirs)
    assert to_json_plotly(fig.to_dict()) == to_json_plotly(theirs)


def test_figure_dict_leaves_other_values_and_frames_to_plotly():
    stamped = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]), layout={"shapes": [
        {"type": "line", "x0": pd.Timestamp("2025-12-03"), "x1": 1, "y0": 0, "y1": 1}]})  # fmt: skip
    framed = go.Figure(go.Scatter(x=[1], y=[1]), frames=[go.Frame(data=[go.Scatter(x=[2], y=[2])])])
    for fig in (stamped, framed):
        assert html.figure_dict(fig) == fig.to_dict()
        assert html.figure_divs([("f", fig)])["f"] == plotly_div(fig, "f")
