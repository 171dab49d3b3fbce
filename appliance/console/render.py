"""Model output and code as HTML that cannot run anything: Markdown through markdown-it-py with raw HTML off
(every `<` in the text is escaped), images off (no request leaves the page to fetch one), links only where
markdown-it's validator allows them (no `javascript:`), and code blocks highlighted by Pygments (which
escapes what it emits and marks tokens with classes, not inline styles, so the CSP needs no exception)."""

from __future__ import annotations

import re
from functools import lru_cache

from markdown_it import MarkdownIt
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name, guess_lexer_for_filename
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")


def _highlight(code: str, lang: str, _attrs: str) -> str:
    try:
        lexer = get_lexer_by_name(lang.strip().split()[0]) if lang.strip() else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return ""  # markdown-it escapes and wraps it itself
    return highlight(code, lexer, _FORMATTER)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt(
        "commonmark", {"html": False, "linkify": False, "typographer": False, "highlight": _highlight}
    )
    md.enable(["table", "strikethrough"])
    md.disable(["image"])
    return md


def markdown_html(text: str) -> str:
    return _markdown().render(text)


_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def finished_blocks(text: str) -> int:
    """How much of a growing Markdown answer is finished blocks: the offset just past its last blank line or
    closing code fence outside a code fence. A CommonMark block ends there, so what comes before renders the
    same however the answer goes on (a list that continues after a blank line turns loose, which the final
    render of the whole answer puts right). Scanning may start at any earlier such offset."""
    end = pos = 0
    fence: str | None = None
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # an unfinished last line
        pos += len(line)
        opener = _FENCE.match(line)
        if fence is None:
            if opener:
                fence = opener.group(1)
            elif not line.strip():
                end = pos
        elif (
            opener
            and opener.group(1)[0] == fence[0]
            and len(opener.group(1)) >= len(fence)
            and not line[opener.end() :].strip()
        ):
            fence, end = None, pos
    return end


def code_html(code: str, *, path: str = "", language: str | None = None) -> str:
    """Highlighted, escaped HTML for a file excerpt (the inside of a <pre><code>)."""
    lexer = None
    try:
        lexer = get_lexer_by_name(language) if language and language != "text" else None
    except ClassNotFound:
        lexer = None
    if lexer is None and path:
        try:
            lexer = guess_lexer_for_filename(path, code)
        except ClassNotFound:
            lexer = None
    if lexer is None:
        lexer = get_lexer_by_name("text")
    return highlight(code, lexer, _FORMATTER)


def highlight_css() -> str:
    return _FORMATTER.get_style_defs(".md")
