"""Is a suspect model derived from a base? A test on the weights alone, invariant to reordered hidden units.

The statistic is the MLP-matching test of Zhu, Ahmed, Kuditipudi and Liang ("Independence Tests for Language
Models", 2025), computed on weights rather than activations:

1. The residual stream's coordinates are aligned first: the embedding columns of the two models are matched
   by the optimal assignment on their cosine similarity (a derived model keeps its token ids), so a copy whose
   residual dimensions were permuted is read in the base's order.
2. In each block, the MLP's hidden units are matched twice and independently: once by their gate-projection
   rows, once by their up-projection rows (optimal assignment on cosine similarity, scipy's
   `linear_sum_assignment`). Cosine similarity ignores rescaled units.
3. If the suspect descends from the base, both matchings recover the same permutation, whatever permutation
   was applied; if the models are independent, the two matchings are unrelated. The Pearson correlation of the
   two matchings gives each block a p-value (t-test); Fisher's method combines the blocks.

Unlike the fingerprint's bound this p-value is not exact (the paper says the same of its unconstrained test),
so bench/provenance_pairs.py reports it on related and unrelated pairs made here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from licensing.errors import FormatError
from licensing.forensics.weights import EMBEDDING, Weights

__all__ = ["DEFAULT_PROVENANCE_ALPHA", "BlockResult", "Provenance", "check_provenance"]

DEFAULT_PROVENANCE_ALPHA = 1e-6
_FLOOR = -300.0  # log10 p below this is reported as this: "p < 1e-300"
_EMBEDDING_ROWS = 32768  # enough tokens to align the residual coordinates; all of them only costs time
_GATE = "model.layers.{i}.mlp.gate_proj.weight"
_UP = "model.layers.{i}.mlp.up_proj.weight"


@dataclass(frozen=True)
class BlockResult:
    block: int
    correlation: float
    log10_p: float


@dataclass
class Provenance:
    derived: bool
    log10_p: float
    alpha: float
    comparable: bool
    reason: str
    residual_aligned: bool = False
    blocks: list[BlockResult] = field(default_factory=list)

    @property
    def p_value(self) -> float:
        return 10.0**self.log10_p

    def matching_blocks(self, threshold: float = 1e-3) -> list[int]:
        return [b.block for b in self.blocks if b.log10_p < math.log10(threshold)]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _match(base: np.ndarray, suspect: np.ndarray) -> np.ndarray:
    """The optimal assignment between the rows of the two, as: for each row of the side with fewer rows (the
    base when equal), the row of the other it is paired with. A pruned suspect with fewer units is matched
    unit by unit into the base, so the gate and up matchings always index the same rows."""
    from scipy.optimize import linear_sum_assignment

    if suspect.shape[0] < base.shape[0]:
        base, suspect = suspect, base
    similarity = _unit_rows(base.astype(np.float64)) @ _unit_rows(suspect.astype(np.float64)).T
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return cols[np.argsort(rows)]


def _log10_pearson_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Pearson r and log10 of its one-sided p-value (a derived model correlates positively)."""
    from scipy.stats import t as student_t

    n = len(x)
    r = float(np.corrcoef(x.astype(np.float64), y.astype(np.float64))[0, 1])
    if not math.isfinite(r):
        return 0.0, 0.0
    r = min(r, 1.0 - 1e-15)
    stat = r * math.sqrt((n - 2) / (1.0 - r * r))
    return r, max(_FLOOR, float(student_t.logsf(stat, n - 2)) / math.log(10.0))


def _residual_permutation(base: Weights, suspect: Weights) -> np.ndarray | None:
    if EMBEDDING not in base.names() or EMBEDDING not in suspect.names():
        return None
    b, s = base.read(EMBEDDING), suspect.read(EMBEDDING)
    if b.shape[1] != s.shape[1]:
        return None
    rows = min(b.shape[0], s.shape[0], _EMBEDDING_ROWS)
    return _match(b[:rows].T, s[:rows].T)


def _blocks(weights: Weights) -> dict[int, tuple[int, ...]]:
    found = {}
    names = set(weights.names())
    i = 0
    while _GATE.format(i=i) in names and _UP.format(i=i) in names:
        found[i] = weights.shape(_GATE.format(i=i))
        i += 1
    return found


def check_provenance(
    suspect: Weights, base: Weights, *, alpha: float = DEFAULT_PROVENANCE_ALPHA, max_blocks: int | None = None
) -> Provenance:
    """Test H0 "the suspect was trained independently of the base" on the blocks the two have in common."""
    base_blocks, suspect_blocks = _blocks(base), _blocks(suspect)
    if not base_blocks:
        raise FormatError(f"{base.source} has no MLP gate/up projections under llama-family names")
    if not suspect_blocks:
        raise FormatError(
            f"{suspect.source} has no MLP gate/up projections under llama-family names: another architecture, "
            "or not a language model"
        )
    common = [i for i in base_blocks if suspect_blocks.get(i, (None,))[-1:] == base_blocks[i][-1:]]
    if not common:
        return Provenance(
            False,
            0.0,
            alpha,
            False,
            f"no block has the base's model width ({next(iter(base_blocks.values()))[-1]}); the suspect's is "
            f"{next(iter(suspect_blocks.values()))[-1]}: it cannot be a fine-tune, pruning or permutation of it",
        )
    if max_blocks is not None and len(common) > max_blocks:
        picks = np.linspace(0, len(common) - 1, max_blocks).round().astype(int)
        common = [common[k] for k in sorted(set(picks))]
    residual = _residual_permutation(base, suspect)
    results = []
    for i in common:
        gate_s, up_s = suspect.read(_GATE.format(i=i)), suspect.read(_UP.format(i=i))
        if residual is not None:
            gate_s, up_s = gate_s[:, residual], up_s[:, residual]
        by_gate = _match(base.read(_GATE.format(i=i)), gate_s)
        by_up = _match(base.read(_UP.format(i=i)), up_s)
        r, log10_p = _log10_pearson_p(by_gate, by_up)
        results.append(BlockResult(i, r, log10_p))
    combined = _fisher_log10(results)
    return Provenance(
        combined < math.log10(alpha),
        combined,
        alpha,
        True,
        f"{len(results)} blocks compared",
        residual is not None,
        results,
    )


def _fisher_log10(results: list[BlockResult]) -> float:
    from scipy.stats import chi2

    statistic = -2.0 * math.log(10.0) * sum(b.log10_p for b in results)
    return max(_FLOOR, float(chi2.logsf(statistic, 2 * len(results))) / math.log(10.0))
