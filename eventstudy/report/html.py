"""HTML: the Jinja environment, ``index.html``, the one-page reports and the fragments.

Figures become ``<div>``s once (:func:`figure_divs`). ``index.html`` carries plotly.js once
in ``<head>`` (inline, CDN or none). Each ``fragments/<figure>.html`` renders when opened
alone by default:

- ``sibling`` (default): a ``<script src="plotly.min.js">`` to the copy of plotly.js written
  beside the fragments (copy the folder, or the fragment with that file);
- ``inline``: each fragment carries plotly.js itself (about 4.7 MB each);
- ``div``: a bare ``<div>`` for a page that loads plotly.js once itself (paste several).
"""

from __future__ import annotations

import base64
import datetime as _dt
import functools
import html
import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import jinja2
import jinja2.bccache
import numpy as np
import plotly
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline
from markupsafe import Markup

from eventstudy import figures
from eventstudy.exceptions import CacheError, ReportError

__all__ = [
    "FRAGMENT_MODES",
    "PLOTLYJS_MODES",
    "check_modes",
    "environment",
    "figure_dict",
    "figure_divs",
    "head_js",
    "head_js_mark",
    "plotlyjs_bytes",
    "write_fragments",
    "write_page_bytes",
]

PlotlyJS = Literal["inline", "cdn", "none"]
FragmentMode = Literal["sibling", "inline", "div"]
PLOTLYJS_MODES: tuple[str, ...] = ("inline", "cdn", "none")
FRAGMENT_MODES: tuple[str, ...] = ("sibling", "inline", "div")
PLOTLY_FILE = "plotly.min.js"


def check_modes(plotlyjs: str | None, fragments: str | None) -> tuple[str, str]:
    """The plotly.js mode of the page and of the fragments, or one clear error."""
    mode = plotlyjs or "inline"
    if mode not in PLOTLYJS_MODES:
        raise ReportError(detail=f"plotlyjs={plotlyjs!r}", fix="use 'inline', 'cdn' or 'none'")
    frag = fragments or "sibling"
    if frag not in FRAGMENT_MODES:
        raise ReportError(detail=f"fragments={fragments!r}", fix="use 'sibling', 'inline' or 'div'")
    return mode, frag


class TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled report templates kept in ``<eventstudy cache>/templates``.

    Compiling ``report.html.j2`` costs about 0.14 s of CPU per run; loading it compiled,
    2 ms. Jinja checks each entry against the template's source checksum (an edited
    template compiles again). Entries are written to a temporary file and renamed into
    place (jinja2 3.1.0 writes in place), and an entry that cannot be read (truncated,
    damaged) is ignored and compiled again: the cache can only make a run faster. Nothing
    here is price data: ``eventstudy cache clear`` leaves it.
    """

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # a damaged entry: compile again
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        from eventstudy.data.cache import write_atomic

        try:
            write_atomic(Path(self._get_cache_filename(bucket)), bucket.write_bytecode)
        except CacheError:  # a read-only or full cache: run without it
            pass


def _template_cache() -> TemplateCache | None:
    from eventstudy.data.cache import default_cache_dir

    return _template_cache_in(default_cache_dir() / "templates")


@functools.cache
def _template_cache_in(folder: Path) -> TemplateCache | None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return TemplateCache(str(folder))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent.parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        bytecode_cache=_template_cache(),
    )
    env.filters["pct"] = lambda v, d=2: "" if _nan(v) else f"{float(v) * 100:+.{d}f}%"
    env.filters["num"] = lambda v, d=3: "" if _nan(v) else f"{float(v):.{d}f}"
    env.filters["window"] = figures.format_window
    return env


def _nan(v: Any) -> bool:
    try:
        return v is None or float(v) != float(v) or abs(float(v)) == float("inf")
    except (TypeError, ValueError):
        return True


@functools.cache
def _inline_plotlyjs() -> Markup:
    js = plotly.offline.get_plotlyjs().replace("</script", "<\\/script")
    return Markup(f'<script type="text/javascript">{js}</script>')


def plotlyjs_bytes() -> bytes:
    """plotly.js as Plotly ships it (``plotly/package_data/plotly.min.js``): the bytes of
    :func:`plotly.offline.get_plotlyjs` encoded in UTF-8, read without decoding 4.8 MB."""
    return importlib.resources.files("plotly").joinpath(_PLOTLY_PACKAGE_FILE).read_bytes()


_PLOTLY_PACKAGE_FILE = "package_data/plotly.min.js"

#: What :func:`write_page_bytes` puts in place of plotly.js while the page is rendered.
_PLOTLYJS_MARK = Markup("<!--eventstudy:plotly.js:ab3f0c5e-->")


def head_js_mark(mode: str) -> Markup:
    """:func:`head_js`, save that plotly.js inline is a mark that :func:`write_page_bytes`
    replaces with the ``<script>`` (the page is rendered without the 4.8 MB string)."""
    return _PLOTLYJS_MARK if mode == "inline" else head_js(mode)


def write_page_bytes(path: Path, text: str) -> None:
    """Write a page rendered with :func:`head_js_mark` as UTF-8: the bytes of the page
    rendered with :func:`head_js` (plotly.js copied in as bytes, ``</script`` escaped as
    :func:`head_js` does)."""
    head, mark, tail = text.partition(_PLOTLYJS_MARK)
    with open(path, "wb") as fh:
        fh.write(head.encode("utf-8"))
        if mark:
            js = plotlyjs_bytes().replace(b"</script", b"<\\/script")
            fh.write(b'<script type="text/javascript">' + js + b"</script>")
            fh.write(tail.encode("utf-8"))


def head_js(mode: str) -> Markup:
    """What ``<head>`` carries for plotly.js in ``mode``."""
    if mode == "inline":
        return _inline_plotlyjs()
    if mode == "cdn":
        version = plotly.offline.get_plotlyjs_version()
        return Markup(
            f'<script src="https://cdn.plot.ly/plotly-{version}.min.js" charset="utf-8"></script>'
        )
    return Markup("")


def figure_divs(figs: Sequence[tuple[str, Any]]) -> dict[str, str]:
    """Each figure's ``<div>`` (and its drawing script), without plotly.js.

    What ``plotly.io.to_html(fig, validate=False, ...)`` writes; a figure goes in as
    :func:`figure_dict` (``fig.to_dict()`` made faster), which ``to_html`` takes as it is.
    """
    return {
        fid: pio.to_html(
            figure_dict(fig),
            full_html=False,
            include_plotlyjs=False,
            div_id=fid,
            config=figures.PLOT_CONFIG,
            validate=False,
        )
        for fid, fig in figs
    }


#: Plotly 6 and later write numeric arrays as base64 typed arrays (``Figure.to_dict``).
_TYPED_ARRAYS = int(plotly.__version__.split(".")[0]) >= 6
#: Keys whose values ``convert_to_base64`` leaves as they are (``is_skipped_key``).
_SKIPPED_KEYS = frozenset({"geojson", "layer", "layers", "range"})
#: numpy dtypes plotly.js reads as typed arrays, by their short names.
_TYPED = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4",
          "uint32": "u4", "float32": "f4", "float64": "f8"}  # fmt: skip
_INT_RANGES = (("int8", -(2**7), 2**7 - 1), ("int16", -(2**15), 2**15 - 1),
               ("int32", -(2**31), 2**31 - 1))  # fmt: skip
_UINT_RANGES = (("uint8", 0, 2**8 - 1), ("uint16", 0, 2**16 - 1), ("uint32", 0, 2**32 - 1))


class _NotPlain(Exception):
    """A value :func:`figure_dict` leaves to Plotly."""


def figure_dict(fig: Any) -> Any:
    """``fig.to_dict()`` of a ``go.Figure``, without its deep copy and Plotly's per-array
    checks (anything else as it is).

    Notes
    -----
    ``Figure.to_dict`` deep-copies the figure's data and layout and (Plotly 6 and later)
    replaces each numpy array held in a dict by a typed-array spec (``dtype``, base64
    ``bdata``, ``shape`` when 2-D; ``int64``/``uint64`` narrowed to the smallest type that
    holds the values, other dtypes left as arrays; nothing under ``range``, ``layer``,
    ``layers`` or ``geojson``), passing every array through narwhals and a read-only copy
    first: about 3 ms a figure. Here the dicts and lists are copied and the arrays
    converted directly (arrays are read, never changed, so they are not copied). A figure
    with frames, or holding a value that is not a dict, list, tuple, number, string, None
    or a numpy array of a number, boolean, text, object or datetime dtype, is left to
    ``to_dict``. The test suite compares the two on every figure of a report and on arrays
    of every kind.
    """
    if not isinstance(fig, go.Figure):
        return fig
    if fig.frames:
        return fig.to_dict()
    try:
        return {
            "data": [_plain(trace) for trace in fig._data],
            "layout": _plain(fig._layout),
        }
    except (_NotPlain, AttributeError):  # AttributeError: a Plotly without these internals
        return fig.to_dict()


def _plain(obj: Any, convert: bool = True) -> Any:
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if isinstance(value, np.ndarray):
                out[key] = _typed_array(value) if convert and key not in _SKIPPED_KEYS else value
            else:
                out[key] = _plain(value, convert and key not in _SKIPPED_KEYS)
        return out
    if isinstance(obj, list):
        return [_plain(v, convert) if not isinstance(v, np.ndarray) else _array(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(
            _plain(v, convert) if not isinstance(v, np.ndarray) else _array(v) for v in obj
        )
    if obj is None or isinstance(obj, str | int | float):  # bool is an int
        return obj
    raise _NotPlain


def _array(v: np.ndarray) -> np.ndarray:
    """An array as it stays in the dict (left as it is, as ``to_dict`` leaves its copy)."""
    if v.dtype.kind not in "uifbOMU":
        raise _NotPlain
    return v


def _typed_array(v: np.ndarray) -> Any:
    """``to_typed_array_spec`` of Plotly 6 on an array, or the array (Plotly 5)."""
    _array(v)
    if not _TYPED_ARRAYS or v.size == 0 or v.dtype.kind not in "uif":
        return v
    name = str(v.dtype)
    if name in ("int64", "uint64"):
        lo, hi = v.min(), v.max()
        for small, low, high in _INT_RANGES if name == "int64" else _UINT_RANGES:
            if lo >= low and hi <= high:
                v, name = v.astype(small), small
                break
        else:
            return v
    if name not in _TYPED:
        return v
    spec = {
        "dtype": _TYPED[name],
        "bdata": base64.b64encode(np.ascontiguousarray(v).tobytes()).decode("ascii"),
    }
    if v.ndim > 1:
        spec["shape"] = str(v.shape)[1:-1]
    return spec


def write_fragments(
    folder: Path, divs: dict[str, str], titles: dict[str, str], mode: str = "sibling"
) -> None:
    """``fragments/<id>.html`` for each figure (see the module docstring for ``mode``)."""
    folder.mkdir(parents=True, exist_ok=True)
    version = plotly.offline.get_plotlyjs_version()
    if mode == "sibling" and divs:
        (folder / PLOTLY_FILE).write_bytes(plotlyjs_bytes())
    for fid, div in divs.items():
        title = html.escape(titles.get(fid, fid))
        if mode == "sibling":
            head = (
                f"<!-- eventstudy figure {fid}: {title}. Opens alone: it loads plotly.js "
                f"{version} from {PLOTLY_FILE} beside it (keep the two together). To paste "
                "several figures into a page that loads plotly.js itself, write the report "
                "with --fragments div. -->\n"
                f'<script charset="utf-8" src="{PLOTLY_FILE}"></script>\n'
            )
        elif mode == "inline":
            head = (
                f"<!-- eventstudy figure {fid}: {title}. Self-contained: carries plotly.js "
                f"{version}. -->\n{_inline_plotlyjs()}\n"
            )
        else:
            head = (
                f"<!-- eventstudy figure {fid}: {title}; needs plotly.js {version} on the "
                "page (load it once before the figures) -->\n"
            )
        text = f'{head}<div class="eventstudy-figure" id="{fid}-container">\n{div}\n</div>\n'
        (folder / f"{fid}.html").write_text(text, encoding="utf-8")


def now_utc() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
