"""Secrets inside file content. A PEM private-key block makes the whole file a secret (skipped). Tokens with a
recognisable, high-confidence shape (a fixed vendor prefix plus a fixed alphabet and length) are replaced in
place by a marker, so the rest of an ordinary source file stays searchable and secrets never reach the index.

Generic rules such as "a variable called password" are deliberately absent: they fire on ordinary code
(`password = os.environ["DB_PASSWORD"]`) and would blank out exactly what developers search for."""

from __future__ import annotations

import re

PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")

# Each rule is one regex that starts with a literal (or is screened by one), so `re` scans for it with its
# fast string search and the common case, no match at all, costs one pass at memory speed. Kinds sharing a
# first literal share a pass: a named group per kind says which one matched. (One alternation of every
# kind, which starts with a character class instead, ran at ~20 MB/s over the standard library.)
_TOKEN_RULES: tuple[tuple[str | None, str], ...] = (
    (
        None,
        r"A(?:(?P<aws_access_key_id>(?:KIA|SIA|BIA|CCA)[A-Z0-9]{16})"
        r"|(?P<google_api_key>Iza[0-9A-Za-z_\-]{35}))",
    ),
    (
        None,
        r"g(?:(?P<github_token>h[pousr]_[A-Za-z0-9]{36,255}|ithub_pat_[A-Za-z0-9_]{22,255})"
        r"|(?P<gitlab_token>lpat-[A-Za-z0-9_\-]{20,}))",
    ),
    (None, r"(?P<slack_token>xox[abprs]-[A-Za-z0-9\-]{10,})"),
    (
        None,
        r"(?P<slack_webhook>https://hooks\.slack\.com/services/"
        r"T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+)",
    ),
    ("k_live_", r"(?P<stripe_key>[sr]k_live_[0-9A-Za-z]{24,})"),
    (None, r"(?P<npm_token>npm_[A-Za-z0-9]{36})"),
    (None, r"(?P<pypi_token>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,})"),
    (None, r"(?P<huggingface_token>hf_[A-Za-z]{34})"),
    # "T3BlbkFJ" is base64 for "OpenAI" and sits in the middle of every OpenAI key.
    (
        None,
        r"sk-(?:(?P<openai_key>(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})"
        r"|(?P<anthropic_key>ant-(?:api|admin)[0-9]{2}-[A-Za-z0-9_\-]{80,}))",
    ),
)
# A token must not continue a longer word on either side (checked by hand on the left, so that each regex
# still starts with its literal).
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_COMPILED: tuple[tuple[str | None, re.Pattern[str]], ...] = tuple(
    (screen, re.compile(f"(?:{pattern})(?![A-Za-z0-9_\\-])")) for screen, pattern in _TOKEN_RULES
)
TOKEN_KINDS: tuple[str, ...] = tuple(
    name.replace("_", "-") for _, compiled in _COMPILED for name in compiled.groupindex
)


def has_private_key(text: str) -> bool:
    return "PRIVATE KEY" in text and PEM_PRIVATE_KEY.search(text) is not None


def redact_tokens(text: str) -> tuple[str, int]:
    """`text` with each high-confidence token replaced by `<redacted:KIND>`, and the number replaced.
    Markers contain no newline, so line numbers are unchanged."""
    count = 0

    def marker(match: re.Match[str]) -> str:
        nonlocal count
        start = match.start()
        if start > 0 and match.string[start - 1] in _WORD_CHARS:
            return match.group()
        count += 1
        return f"<redacted:{(match.lastgroup or 'secret').replace('_', '-')}>"

    for screen, pattern in _COMPILED:
        if screen is not None and screen not in text:
            continue
        if pattern.search(text) is not None:
            text = pattern.sub(marker, text)
    return text, count
