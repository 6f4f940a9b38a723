"""Static images of every figure (kaleido and a system Chromium, one browser per run)."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import plotly.graph_objects as go

from eventstudy.exceptions import ReportError
from eventstudy.figures import static_figure

__all__ = ["IMAGE_FORMATS", "find_browser", "image_formats", "require_kaleido", "write_images"]

#: Static image formats kaleido writes.
IMAGE_FORMATS: frozenset[str] = frozenset({"png", "svg", "pdf", "jpeg", "jpg", "webp"})
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser(path: str | os.PathLike[str] | None = None) -> str:
    """The Chromium/Chrome executable for static images.

    Looks at ``path``, then the ``BROWSER_PATH`` environment variable, then
    ``chromium``/``google-chrome`` on ``PATH``.

    Raises
    ------
    ReportError
        When no browser is found (naming the fix).
    """
    candidates = [str(path)] if path else []
    if os.environ.get("BROWSER_PATH"):
        candidates.append(os.environ["BROWSER_PATH"])
    candidates += [p for name in _BROWSERS if (p := shutil.which(name))]
    for candidate in candidates:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ReportError(
        detail="static images need a Chromium or Chrome browser and none was found"
        + (f" at {path}" if path else ""),
        fix="install one (Debian/Ubuntu: apt-get install chromium) or set BROWSER_PATH "
        "to its executable; or drop --images",
    )


def image_formats(images: Iterable[str] | str | None) -> list[str]:
    if not images:
        return []
    items = [images] if isinstance(images, str) else list(images)
    formats = []
    for item in items:
        for fmt in str(item).split(","):
            fmt = fmt.strip().lower().lstrip(".")
            if fmt and fmt not in formats:
                formats.append(fmt)
    bad = [f for f in formats if f not in IMAGE_FORMATS]
    if bad:
        raise ReportError(
            detail=f"unknown image format(s) {', '.join(bad)}",
            fix=f"use some of {', '.join(sorted(IMAGE_FORMATS))}",
        )
    return formats


def require_kaleido() -> None:
    """Fail in a second, naming the install command, when the image extra is missing."""
    try:
        import kaleido  # noqa: F401
    except ImportError as exc:
        raise ReportError(
            detail="static images need the optional kaleido package, which is not installed",
            fix='install it with: pip install "oem-eventstudy[image]" (in a checkout: '
            '.venv/bin/pip install -e ".[image]"; kaleido>=1.0 also needs a Chromium: '
            "apt-get install chromium); or drop --images",
        ) from exc


def write_images(
    folder: Path,
    figs: Sequence[tuple[str, go.Figure]],
    formats: Sequence[str],
    browser: str | None,
    scale: float,
) -> None:
    """Write every figure in every format with one browser for the whole run."""
    import asyncio  # here: a run without --images does not pay its import

    import kaleido

    folder.mkdir(parents=True, exist_ok=True)
    figs = [(fid, static_figure(fig)) for fid, fig in figs]  # no buttons in a picture
    specs = [
        {
            "fig": fig,
            "path": str(folder / f"{fid}.{fmt}"),
            "opts": {
                "format": fmt,
                "width": int(fig.layout.width or 1000),
                "height": int(fig.layout.height or 500),
                "scale": scale,
            },
        }
        for fid, fig in figs
        for fmt in formats
    ]

    async def render() -> None:
        async with kaleido.Kaleido(n=1, path=browser, mathjax=False, timeout=120) as k:
            await k.write_fig_from_object(specs, cancel_on_error=True)

    errors: list[BaseException] = []

    def thread_main() -> None:  # own event loop: works inside Jupyter's running loop too
        try:
            asyncio.run(render())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=thread_main, name="eventstudy-kaleido")
    worker.start()
    worker.join()
    if errors:
        exc = errors[0]
        raise ReportError(
            detail=f"static image export failed ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})",
            fix=f"check that {browser} starts headless (apt-get install chromium) or set "
            "BROWSER_PATH; or drop --images",
        ) from exc
    missing = [s["path"] for s in specs if not Path(s["path"]).is_file()]
    if missing:
        raise ReportError(
            detail=f"kaleido wrote no file for {len(missing)} image(s), e.g. {missing[0]}",
            fix="rerun with --debug; or drop --images",
        )
