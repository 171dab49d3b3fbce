"""The code-aware lexical encoder: tokens, stable dimensions, BM25 document weights, unit query weights."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zlib
from pathlib import Path

import pytest

from indexer.sparse import BM25_AVG_LEN, BM25_B, BM25_K1, SparseEncoder, encode_document, encode_query, tokens

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("parseHTTPResponse2", ["parsehttpresponse2", "parse", "http", "response", "2"]),
        ("max_file_bytes", ["max_file_bytes", "max", "file", "bytes"]),
        ("max-file-bytes", ["max-file-bytes", "max", "file", "bytes"]),
        ("XMLHttpRequest", ["xmlhttprequest", "xml", "http", "request"]),
        ("__init__", ["__init__", "init"]),
        ("HTTP2Server", ["http2server", "http", "2", "server"]),
        ("SCREAMING_CASE", ["screaming_case", "screaming", "case"]),
        ("getX", ["getx", "get", "x"]),
        ("Response", ["response"]),  # a one-word identifier is one token, not two
        ("0x1F 3.14 42", ["0x1f", "3", "14", "42"]),
        ("café naïveÉcole", ["café", "naïveécole"]),
    ],
)
def test_identifiers_are_kept_whole_and_split_into_words(text, expected):
    assert tokens(text) == expected


def test_keywords_and_stopwords_are_dropped_but_not_inside_identifiers():
    assert tokens("def the_answer(self): return self.value is None") == ["the_answer", "answer", "value"]
    assert tokens("if (this.x) { return null; }") == ["x"]


def test_punctuation_and_empty_text_give_no_tokens():
    assert tokens("") == []
    assert tokens("+= -> {}[]() ;; //") == []
    assert encode_query("()").indices == ()
    assert encode_document("").indices == ()


def test_dimensions_are_a_stable_hash_of_the_token():
    vec = encode_query("parse")
    assert vec.indices == (zlib.crc32(b"parse"),)
    # Another interpreter (another hash seed) agrees: nothing depends on Python's salted hash().
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from indexer.sparse import encode_query; print(encode_query('parseHTTP').indices)",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert out.stdout.strip() == str(encode_query("parseHTTP").indices)


def test_query_weights_are_one_per_distinct_term():
    vec = encode_query("parse parse parseHTTP")
    assert sorted(vec.indices) == list(vec.indices)
    assert len(vec.indices) == len(set(tokens("parse parseHTTP")))
    assert set(vec.values) == {1.0}


def test_document_weights_follow_bm25_saturation_and_length_normalisation():
    enc = SparseEncoder()

    def weight(text: str, token: str) -> float:
        vec = enc.encode_document(text)
        return dict(zip(vec.indices, vec.values))[zlib.crc32(token.encode())]

    # One occurrence in a document of average length: tf·(k1+1)/(tf+k1) = 1.
    avg_doc = "alpha" + " beta" * (int(BM25_AVG_LEN) - 1)
    assert len(tokens(avg_doc)) == BM25_AVG_LEN
    assert weight(avg_doc, "alpha") == pytest.approx(1.0)
    # More occurrences weigh more, with diminishing returns, never past k1 + 1.
    w1, w2, w10 = (weight("zeta " * n, "zeta") for n in (1, 2, 10))
    assert w1 < w2 < w10 < BM25_K1 + 1
    assert w2 - w1 > w10 - weight("zeta " * 9, "zeta")
    # The same count in a longer document weighs less.
    short, long = weight("zeta beta", "zeta"), weight("zeta " + "beta " * 400, "zeta")
    assert long < short
    norm = BM25_K1 * (1 - BM25_B + BM25_B * 2 / BM25_AVG_LEN)
    assert short == pytest.approx((BM25_K1 + 1) / (1 + norm))


def test_a_compound_identifier_counts_its_parts():
    vec = encode_document("parse_header(header)")
    weights = dict(zip(vec.indices, vec.values))
    # `header` occurs twice (alone and inside parse_header), `parse` once.
    assert weights[zlib.crc32(b"header")] > weights[zlib.crc32(b"parse")]
    assert zlib.crc32(b"parse_header") in weights


def test_overlong_tokens_are_ignored():
    blob = "A" * 65
    assert tokens(f"x {blob} y") == ["x", "y"]


def test_every_standard_library_module_gets_distinct_positive_terms():
    files = sorted(STDLIB.glob("*.py"))
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        vec = encode_document(text)
        assert len(vec.indices) == len(set(vec.indices))
        assert all(v > 0 for v in vec.values)
        if text.strip():
            assert vec.indices, path.name
