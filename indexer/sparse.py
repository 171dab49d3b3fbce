"""The lexical side of hybrid search: a code-aware tokenizer feeding Qdrant sparse vectors.

Identifiers are kept whole (lowercased) and also split into their words, so `parseHTTPResponse2` is found by
`parseHTTPResponse2`, by `parse http response` and by `http_response`:

    parseHTTPResponse2 → parsehttpresponse2 parse http response 2
    max_file_bytes     → max_file_bytes max file bytes
    max-file-bytes     → max-file-bytes max file bytes

Token → dimension is a stable 32-bit hash (CRC-32), so no vocabulary is stored and every process agrees.
With ~10⁶ distinct tokens about a hundred pairs collide in 2³² dimensions: a collision merges two rare
tokens' posting lists and costs nothing measurable.

Documents carry BM25's saturated, length-normalised term frequency; queries carry 1 per distinct term, and
the collection's IDF modifier supplies the inverse document frequency at search time, so the dot product
Qdrant computes is BM25."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import lru_cache

from indexer.types import SparseVec

__all__ = [
    "BM25_AVG_LEN",
    "BM25_B",
    "BM25_K1",
    "SparseEncoder",
    "encode_document",
    "encode_query",
    "tokens",
    "words",
]

BM25_K1 = 1.2
BM25_B = 0.75
# Tokens (after expansion) in a typical chunk: CPython's standard library averages ~166 tokens per 40-line
# window (~1,000 non-whitespace characters); chunks hold up to 1,500. A constant, not a corpus statistic, so
# a document's vector never depends on what else is indexed.
BM25_AVG_LEN = 200.0

# Hex literals, decimal numbers (integer part), and words: letters/underscore first, then word characters,
# optionally joined by single hyphens (kebab-case names in CSS, CLI flags, YAML keys).
_RAW_TOKEN = re.compile(r"0[xX][0-9a-fA-F]+|\d+|[^\W\d][\w]*(?:-[^\W\d][\w]*)*")
# Splits one underscore/hyphen-free part: `HTTPResponse2` → HTTP, Response, 2; `parseJSON` → parse, JSON.
_WORD_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEPARATORS = re.compile(r"[_\-]+")

# Words too common in code and prose to help ranking. IDF would shrink them anyway; dropping them keeps
# long posting lists out of every query. Only standalone words are dropped: `self_test` keeps `self_test`.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "not",
        "no",
        "def",
        "return",
        "self",
        "cls",
        "import",
        "pass",
        "elif",
        "else",
        "lambda",
        "none",
        "true",
        "false",
        "null",
        "nil",
        "var",
        "let",
        "const",
        "func",
        "fn",
        "function",
        "void",
        "int",
        "str",
        "public",
        "private",
        "protected",
        "static",
        "final",
        "new",
        "end",
        "begin",
        "do",
    ]
)
_MAX_TOKEN_LEN = 64


class SparseEncoder:
    """Text → Qdrant sparse vector. Stateless apart from caches; safe to share between threads."""

    def __init__(self, *, k1: float = BM25_K1, b: float = BM25_B, avg_len: float = BM25_AVG_LEN) -> None:
        self.k1, self.b, self.avg_len = k1, b, avg_len

    def tokens(self, text: str) -> list[str]:
        """Every lexical token of `text`, in order, with repeats: whole identifiers and their parts."""
        out: list[str] = []
        for raw in _RAW_TOKEN.findall(text):
            out.extend(_expand(raw))
        return out

    def term_counts(self, text: str) -> Counter[str]:
        counts: Counter[str] = Counter()
        # Counting raw matches first means each distinct identifier is expanded once per text.
        for raw, n in Counter(_RAW_TOKEN.findall(text)).items():
            for token in _expand(raw):
                counts[token] += n
        return counts

    def encode_document(self, text: str, *, names: str = "", name_weight: float = 1.0) -> SparseVec:
        """BM25 weights of `text`; `names` (the path, the enclosing symbol, the names the chunk defines) is a
        second field whose term counts weigh `name_weight` times a body occurrence (BM25F): a query word that
        names the function outranks the same word in a comment."""
        counts = self.term_counts(text)
        if names:
            for token, n in self.term_counts(names).items():
                counts[token] += n * name_weight  # type: ignore[assignment]  # fractional weights are fine
        length = sum(counts.values())
        norm = self.k1 * (1.0 - self.b + self.b * length / self.avg_len)
        scale = self.k1 + 1.0
        return _to_sparse({token: tf * scale / (tf + norm) for token, tf in counts.items()})

    def encode_query(self, text: str) -> SparseVec:
        return _to_sparse(dict.fromkeys(self.term_counts(text), 1.0))


_DEFAULT = SparseEncoder()


def encode_document(text: str, *, names: str = "", name_weight: float = 1.0) -> SparseVec:
    """A chunk's sparse vector: BM25 term-frequency weights with the default parameters."""
    return _DEFAULT.encode_document(text, names=names, name_weight=name_weight)


def encode_query(text: str) -> SparseVec:
    """A query's sparse vector: 1 per distinct term (the collection's IDF modifier does the rest)."""
    return _DEFAULT.encode_query(text)


def tokens(text: str) -> list[str]:
    """The lexical tokens of `text`, in order, with repeats."""
    return _DEFAULT.tokens(text)


def words(text: str) -> str:
    """`text` as plain lowercase words: identifiers split into their parts, punctuation dropped, stopwords
    kept. What a natural-language embedding model understands of code (`get_close_matches(word)` → `get
    close matches word`)."""
    return " ".join([part for raw in _RAW_TOKEN.findall(text) for part in _parts(raw)])


@lru_cache(maxsize=1 << 18)
def _parts(raw: str) -> tuple[str, ...]:
    """The lowercase sub-words of one raw match, in order; numbers and hex literals stay whole."""
    if len(raw) > _MAX_TOKEN_LEN:
        return ()  # base64 blobs, hashes: noise that would only bloat the index
    if raw[0].isdigit():
        return (raw.lower(),)
    parts: list[str] = []
    for piece in _SEPARATORS.split(raw):
        if piece.isascii():
            parts.extend(p.lower() for p in _WORD_PART.findall(piece))
        elif piece:
            parts.append(piece.lower())  # case rules for other scripts are not worth guessing
    return tuple(parts)


@lru_cache(maxsize=1 << 18)
def _expand(raw: str) -> tuple[str, ...]:
    """A raw match → the whole token (lowercased) followed by its distinct sub-words, stopwords dropped."""
    parts = _parts(raw)
    if not parts:
        return ()
    whole = raw.lower()
    out = [] if whole in STOPWORDS else [whole]
    for part in dict.fromkeys(parts):
        if part != whole and part not in STOPWORDS:
            out.append(part)
    return tuple(out)


@lru_cache(maxsize=1 << 18)
def token_index(token: str) -> int:
    """The sparse dimension of a token: CRC-32 of its UTF-8 bytes (stable across processes and versions)."""
    return zlib.crc32(token.encode("utf-8"))


def _to_sparse(weights: dict[str, float]) -> SparseVec:
    merged: dict[int, float] = {}
    for token, weight in weights.items():
        index = token_index(token)
        merged[index] = merged.get(index, 0.0) + weight  # a hash collision inside one text adds up
    indices = sorted(merged)
    return SparseVec(indices=tuple(indices), values=tuple(merged[i] for i in indices))
