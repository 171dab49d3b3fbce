"""Dense embeddings: the bundled wordllama `StaticEmbedding` by default, or any local sentence-transformers
model directory. Nothing is ever downloaded."""

from __future__ import annotations

import os
from pathlib import Path

from indexer.config import IndexerSettings
from indexer.embedding.protocol import Embedder
from indexer.embedding.st_embedder import SentenceTransformerEmbedder
from indexer.embedding.tuning import load_tuned_model, tuned_identity
from indexer.embedding.wordllama import build_wordllama_embedder
from indexer.errors import EmbedderError
from indexer.sparse import words

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "SentenceTransformerEmbedder",
    "dense_identity",
    "load_embedder",
]

DEFAULT_EMBEDDER = "wordllama"
# Files that mark a directory as something sentence-transformers (or transformers) can load.
_MODEL_MARKERS = ("modules.json", "config_sentence_transformers.json", "config.json")


def load_embedder(
    settings: IndexerSettings, tuned_dir: Path | None = None, *, tuned: bool = True
) -> Embedder:
    """The embedder `settings.embedder` names: "wordllama" or a path to a local model directory. With
    "wordllama", the table tuned on the index's own code (in `tuned_dir`) when there is one and `tuned`."""
    _force_offline()
    if settings.embedder == DEFAULT_EMBEDDER:
        if tuned and tuned_dir is not None and tuned_identity(tuned_dir) is not None:
            model, identity = load_tuned_model(tuned_dir, settings.embed_device)
            return SentenceTransformerEmbedder(
                model,
                name=f"{DEFAULT_EMBEDDER}+{identity}",
                batch_size=settings.embed_batch_size,
                text_view=words,
            )
        return build_wordllama_embedder(device=settings.embed_device, batch_size=settings.embed_batch_size)
    return load_directory_embedder(
        Path(settings.embedder), device=settings.embed_device, batch_size=settings.embed_batch_size
    )


def dense_identity(settings: IndexerSettings, tuned_dir: Path | None) -> str:
    """Which vectors an index holds, without loading a model: the configured embedder, and the tuned table's
    identity when one is in use. Chunks embedded under another identity are embedded again."""
    if settings.embedder == DEFAULT_EMBEDDER and tuned_dir is not None:
        identity = tuned_identity(tuned_dir)
        if identity is not None:
            return f"{DEFAULT_EMBEDDER}+{identity}"
    return settings.embedder


def load_directory_embedder(path: Path, *, device: str = "cpu", batch_size: int = 256) -> Embedder:
    """A sentence-transformers model saved in `path` (with `save_pretrained` or copied from a model hub)."""
    _force_offline()
    path = path.expanduser()
    if not path.exists():
        raise EmbedderError(
            f'embedding model directory {path} does not exist (set embedder to "wordllama" or to a local '
            "sentence-transformers model directory)"
        )
    if not path.is_dir():
        raise EmbedderError(f"embedding model path {path} is not a directory")
    if not any((path / marker).is_file() for marker in _MODEL_MARKERS):
        raise EmbedderError(
            f"{path} is not a sentence-transformers model directory (none of {', '.join(_MODEL_MARKERS)} found)"
        )
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(str(path), local_files_only=True, device=device)
    except Exception as exc:  # transformers / safetensors / torch raise many unrelated types
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EmbedderError(f"cannot load the embedding model in {path}: {first_line}") from exc
    return SentenceTransformerEmbedder(model, name=str(path.resolve()), batch_size=batch_size)


def _force_offline() -> None:
    # The appliance is air-gapped: a hub lookup would hang on timeouts or, worse, succeed somewhere it must not.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
