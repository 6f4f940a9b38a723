"""Dossiers (Markdown under ``seeds/``) as safe HTML, through markdown-it-py with raw HTML off.

CommonMark by markdown-it-py, configured for text nobody vetted:

- raw HTML is not HTML (``<script>`` shows as text); images are off (an offline report
  loads nothing from elsewhere);
- links only to ``http``, ``https`` and ``mailto`` (``javascript:`` and ``data:`` stay
  text), each with ``rel="noopener noreferrer"``; bare ``http(s)://`` URLs become links
  (linkify; ``notes.md`` or ``www.x`` alone are not links);
- headings sit two levels down (a dossier's ``#`` is the page's ``<h3>``);
- control characters other than tab and line ends become U+FFFD (CommonMark does so for
  NUL; the others would be invalid in the page);
- a YAML front matter block (between ``---`` lines) becomes a small definition list.
"""

from __future__ import annotations

import re

from linkify_it import LinkifyIt
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup, escape

__all__ = ["render_markdown"]

_SCHEMES = ("http://", "https://", "mailto:")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _dossier_rules(state: StateCore) -> None:
    """Headings two levels down; every link ``rel="noopener noreferrer"``."""
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 2, 6)}"
        for child in token.children or ():
            if child.type == "link_open":
                child.attrSet("rel", "noopener noreferrer")


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True}).enable("linkify")
    md.disable("image")
    linkify = LinkifyIt()
    linkify.set({"fuzzy_link": False, "fuzzy_email": False})  # only written schemes
    md.linkify = linkify
    md.validateLink = lambda url: url.strip().lower().startswith(_SCHEMES)  # type: ignore[method-assign]
    md.core.ruler.push("dossier_rules", _dossier_rules)
    return md


_MD = _parser()


def _front_matter(text: str) -> tuple[str, str]:
    """The front matter's ``key: value`` lines as a ``<dl>``, and the text after it."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return "", text
    end = next((i for i, s in enumerate(lines[1:], start=1) if s.strip() == "---"), None)
    if end is None:
        return "", text
    pairs = [s.split(":", 1) for s in lines[1:end] if ":" in s]
    items = "".join(
        f"<dt>{escape(key.strip())}</dt><dd>{_MD.renderInline(value.strip())}</dd>"
        for key, value in pairs
    )
    return (f'<dl class="meta">{items}</dl>\n' if pairs else ""), "\n".join(lines[end + 1 :])


def render_markdown(text: str | None) -> Markup:
    """Render a dossier's Markdown to safe HTML (see the module docstring)."""
    if not text:
        return Markup("")
    clean = _CONTROL.sub("\ufffd", str(text).replace("\r\n", "\n").replace("\r", "\n"))
    meta, body = _front_matter(clean)
    return Markup(meta + _MD.render(body))
