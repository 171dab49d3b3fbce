"""Fine-tuning the bundled static embedder on the code it indexes: each documented definition's docstring is a
query, the definition without it the document that should answer it. The token table learns the company's
vocabulary (what `settle` and `ledger` mean here), which prose-trained vectors cannot know.

Training is sentence-transformers' own trainer with in-batch negatives (`MultipleNegativesRankingLoss`): every
other definition in a batch is a wrong answer. A tenth of the pairs is held out and decides whether the result is
kept: a tuned table that ranks the held-out definitions no better than the bundled one is discarded.

The result is a sentence-transformers model directory under the data directory, with the SHA-256 of each file in
`tuned.json`; it is written under a temporary name and renamed into place, so a crash leaves either the old
table or the new one, and loading refuses a directory whose files do not match their recorded hashes."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from indexer.errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "MIN_PAIRS",
    "TuneReport",
    "TrainingPair",
    "docstring_pairs",
    "load_tuned_model",
    "tune_static_model",
    "tuned_identity",
    "verify_tuned",
]

MIN_PAIRS = 64  # fewer documented definitions than this teach the table nothing it can keep
MANIFEST = "tuned.json"
_MAX_BODY_LINES = 60
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")


@dataclass(frozen=True, slots=True)
class TrainingPair:
    query: str  # the docstring's first sentence
    code: str  # the definition's path, name and code, docstring removed


@dataclass(frozen=True, slots=True)
class TuneReport:
    pairs: int
    held_out: int
    epochs: int
    seconds: float
    mrr_before: float  # held-out docstring → definition, MRR@10 among the held-out definitions
    mrr_after: float
    kept: bool
    identity: str  # what the index records as its embedder once the tuned table is in use ("" if not kept)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def docstring_pairs(definitions: Iterable[tuple[str, str, str]]) -> list[TrainingPair]:
    """(path, name, text) of symbol-table definitions → pairs, for the ones documented in Python's way.
    The texts are the indexer's, taken after secret redaction, so nothing redacted is trained on."""
    out: dict[tuple[str, str], TrainingPair] = {}
    for path, name, text in definitions:
        if not path.endswith((".py", ".pyi")):
            continue
        found = _python_docstring(text)
        if found is None:
            continue
        doc, body = found
        first = _SENTENCE.match(doc)
        sentence = (first.group(1) if first else doc)[:300]
        if len(sentence.split()) < 3:
            continue
        lines = [line for line in body.splitlines() if line.strip()][:_MAX_BODY_LINES]
        out.setdefault((sentence, path), TrainingPair(sentence, f"{path} {name}\n" + "\n".join(lines)))
    return list(out.values())


_HEADER = re.compile(r"[ \t]*(?:async[ \t]+)?(?:def|class)\b")
_DOC = re.compile(r"\s*[rRuU]?(\"\"\"|\'\'\'|\"|\')(.*?)\1", re.DOTALL)


def _python_docstring(text: str) -> tuple[str, str] | None:
    """(the docstring, the definition without it), when `text` starts with a documented def or class."""
    if not _HEADER.match(text):
        return None
    lines = text.split("\n")
    # The signature ends at the first line ending in `:` (outside a trailing comment); 12 lines is plenty.
    end = next((i for i, line in enumerate(lines[:12]) if line.split("#", 1)[0].rstrip().endswith(":")), None)
    if end is None:
        return None
    rest = "\n".join(lines[end + 1 :])
    match = _DOC.match(rest)
    if match is None or (len(match.group(1)) == 1 and "\n" in match.group(2)):
        return None
    doc = " ".join(match.group(2).split())
    body = "\n".join(lines[: end + 1]) + "\n" + rest[match.end() :]
    return (doc, body) if doc else None


def tune_static_model(
    model: SentenceTransformer,
    pairs: Sequence[TrainingPair],
    out_dir: Path,
    *,
    view: Callable[[str], str],
    epochs: int = 5,
    learning_rate: float = 0.1,
    batch_size: int = 128,
    seed: int = 0,
) -> TuneReport:
    """Train `model` in place on `pairs` (shown through `view`, the embedder's text view) and, when it ranks
    the held-out pairs better, save it to `out_dir` (replacing what is there)."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    if len(pairs) < MIN_PAIRS:
        raise EmbedderError(
            f"only {len(pairs)} documented definitions in the indexed code; tuning needs at least {MIN_PAIRS}"
        )
    started = time.perf_counter()
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_held = max(16, len(shuffled) // 10)
    held, train = shuffled[:n_held], shuffled[n_held:]
    before = _held_out_mrr(model, held, view)
    work = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)  # what a crashed run left
    args = SentenceTransformerTrainingArguments(
        output_dir=str(work / "trainer"),
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        learning_rate=learning_rate,
        warmup_steps=0.1,
        save_strategy="no",
        logging_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
    )
    data = Dataset.from_dict(
        {"anchor": [view(p.query) for p in train], "positive": [view(p.code) for p in train]}
    )
    # The trainer prints its metrics and progress bars; the caller's stdout may be JSON.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=data, loss=MultipleNegativesRankingLoss(model)
        )
        trainer.train()
    after = _held_out_mrr(model, held, view)
    kept = after > before
    identity = ""
    if kept:
        shutil.rmtree(work / "trainer", ignore_errors=True)
        model.save(str(work / "model"))
        files = {
            p.relative_to(work / "model").as_posix(): _sha256(p)
            for p in sorted((work / "model").rglob("*"))
            if p.is_file()
        }
        identity = "tuned-" + hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        report = TuneReport(
            len(pairs), len(held), epochs, time.perf_counter() - started, before, after, True, identity
        )
        (work / MANIFEST).write_text(
            json.dumps({"identity": identity, "files": files, "report": report.to_json()})
        )
        old = out_dir.with_name(out_dir.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if out_dir.exists():
            out_dir.rename(old)
        work.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
        return report
    shutil.rmtree(work, ignore_errors=True)
    return TuneReport(len(pairs), len(held), epochs, time.perf_counter() - started, before, after, False, "")


def tuned_identity(tuned_dir: Path) -> str | None:
    """The recorded identity of the tuned table in `tuned_dir`, or None when there is none."""
    try:
        return str(json.loads((tuned_dir / MANIFEST).read_text())["identity"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbedderError(
            f"the tuned embedder's record {tuned_dir / MANIFEST} is unreadable: {exc}"
        ) from exc


def verify_tuned(tuned_dir: Path) -> str:
    """The tuned table's identity, after checking every file against its recorded hash."""
    identity = tuned_identity(tuned_dir)
    if identity is None:
        raise EmbedderError(f"no tuned embedder in {tuned_dir}")
    files = json.loads((tuned_dir / MANIFEST).read_text()).get("files", {})
    model_dir = tuned_dir / "model"
    present = {p.relative_to(model_dir).as_posix() for p in model_dir.rglob("*") if p.is_file()}
    if not files or present != set(files):
        raise EmbedderError(
            f"the tuned embedder in {tuned_dir} is incomplete or has extra files; run `codemoat embedder reset`"
        )
    for rel, digest in files.items():
        if _sha256(model_dir / rel) != digest:
            raise EmbedderError(
                f"the tuned embedder's {rel} does not match its recorded hash (changed on disk); "
                "run `codemoat embedder reset` or tune again"
            )
    return identity


def load_tuned_model(tuned_dir: Path, device: str = "cpu") -> tuple[SentenceTransformer, str]:
    """(SentenceTransformer, identity), after `verify_tuned`."""
    identity = verify_tuned(tuned_dir)
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(tuned_dir / "model"), device=device, local_files_only=True), identity
    except Exception as exc:  # sentence-transformers / safetensors raise many unrelated types
        raise EmbedderError(f"cannot load the tuned embedder in {tuned_dir}: {exc}") from exc


def _held_out_mrr(
    model: SentenceTransformer, held: Sequence[TrainingPair], view: Callable[[str], str]
) -> float:
    """MRR@10 of each held-out docstring against all held-out definitions."""
    q = model.encode([view(p.query) for p in held], normalize_embeddings=True, convert_to_numpy=True)
    d = model.encode([view(p.code) for p in held], normalize_embeddings=True, convert_to_numpy=True)
    scores = q @ d.T
    ranks = (scores > np.diag(scores)[:, None]).sum(axis=1) + 1
    return float(np.mean(np.where(ranks <= 10, 1.0 / ranks, 0.0)))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
