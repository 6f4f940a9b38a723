"""A small, safe subset of Markdown for dossiers (everything is escaped first)."""

from __future__ import annotations

import re

from markupsafe import Markup, escape

__all__ = ["render_markdown"]

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*])[*_](?![\s*_])(.+?)(?<![\s*_])[*_](?![\w*])")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^\s)]+)\)")
_BARE_URL = re.compile(r"(?<![\"=>])\b(https?://[^\s<]+[^\s<.,;:)\]])")


def _inline(text: str) -> str:
    """Inline Markdown on already escaped text."""
    codes: list[str] = []

    def keep(m: re.Match[str]) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _INLINE_CODE.sub(keep, text)
    links: list[str] = []

    def link(m: re.Match[str]) -> str:
        links.append(f'<a href="{m.group(2)}" rel="noopener noreferrer">{m.group(1)}</a>')
        return f"\x01{len(links) - 1}\x01"

    def bare(m: re.Match[str]) -> str:
        links.append(f'<a href="{m.group(1)}" rel="noopener noreferrer">{m.group(1)}</a>')
        return f"\x01{len(links) - 1}\x01"

    out = _LINK.sub(link, out)
    out = _BARE_URL.sub(bare, out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    out = re.sub("\x01(\\d+)\x01", lambda m: links[int(m.group(1))], out)
    return re.sub("\x00(\\d+)\x00", lambda m: codes[int(m.group(1))], out)


def render_markdown(text: str | None) -> Markup:
    """Render a small, safe subset of Markdown to HTML.

    Everything is escaped first; then headings (``#``), paragraphs, bullet and numbered
    lists, ``**bold**``, ``*italic*``, ``code``, ``[text](http...)`` links and bare
    http(s) URLs become HTML. Raw HTML in the text shows as text. A YAML front matter
    block (between ``---`` lines) becomes a small definition list.
    """
    if not text:
        return Markup("")
    lines = str(text).replace("\r\n", "\n").split("\n")
    out: list[str] = []
    if lines and lines[0].strip() == "---" and "---" in (s.strip() for s in lines[1:]):
        end = next(i for i, s in enumerate(lines[1:], start=1) if s.strip() == "---")
        pairs = [s.split(":", 1) for s in lines[1:end] if ":" in s]
        if pairs:
            out.append('<dl class="meta">')
            for key, value in pairs:
                out.append(
                    f"<dt>{escape(key.strip())}</dt><dd>{_inline(str(escape(value.strip())))}</dd>"
                )
            out.append("</dl>")
        lines = lines[end + 1 :]
    para: list[str] = []
    list_tag: str | None = None

    def flush_para() -> None:
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    def close_list() -> None:
        nonlocal list_tag
        if list_tag:
            out.append(f"</{list_tag}>")
            list_tag = None

    for raw in lines:
        line = str(escape(raw.rstrip()))
        stripped = line.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", stripped)
        bullet = re.match(r"^[-*+]\s+(.*)$", stripped)
        numbered = re.match(r"^\d+[.)]\s+(.*)$", stripped)
        if not stripped:
            flush_para()
            close_list()
        elif heading:
            flush_para()
            close_list()
            level = min(len(heading.group(1)) + 2, 6)  # dossier headings sit below h2
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet or numbered:
            flush_para()
            tag = "ul" if bullet else "ol"
            if list_tag != tag:
                close_list()
                out.append(f"<{tag}>")
                list_tag = tag
            item = (bullet or numbered).group(1)  # type: ignore[union-attr]
            out.append(f"<li>{_inline(item)}</li>")
        elif list_tag and raw.startswith(("  ", "\t")):
            out[-1] = out[-1][: -len("</li>")] + " " + _inline(stripped) + "</li>"
        else:
            close_list()
            para.append(stripped)
    flush_para()
    close_list()
    return Markup("\n".join(out))
