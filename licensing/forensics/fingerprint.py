"""A per-customer fingerprint in the weights: keyed spread-spectrum marking with blind correlation detection.

The method is the classic one of Cox et al. (1997, "Secure spread spectrum watermarking for multimedia"),
applied to weights as in Uchida et al. (2017) and, for quantized LLMs, EmMark (Zhang et al., 2024):

- Positions: in each per-block projection matrix (attention value/output, MLP gate/up/down; see
  `weights.LAYER_TENSORS`), a keyed pseudo-random `density` share of entries. The positions depend on the vendor
  key and the tensor's name and size only, so they are the same for every customer of a model.
- Mark: each selected entry moves by `strength` × the tensor's RMS, up or down by a ±1 sequence drawn from a
  generator seeded with HMAC-SHA256(vendor key, customer mark id, tensor name). The vendor key is derived with
  HKDF from the issuer's private key, so nothing new needs keeping secret.
- Detection needs no copy of the original: for a suspect, x = its entries at the positions, each tensor divided
  by its own RMS, and for every registered mark s, z = <s, x> / ||x||. When s is independent of the suspect
  (the suspect is not derived from that delivery), Hoeffding's inequality bounds P(z ≥ t) ≤ exp(-t²/2) exactly,
  whatever the weights are; so exp(-z²/2) is a valid p-value, and the registry's size times it (Bonferroni)
  is valid for "some registered customer" at once. A marked delivery adds strength × sqrt(N) to z (N selected
  entries): quantization, casts, fine-tuning and noise only add to ||x||, which the host weights dominate
  anyway, so z falls slowly; averaging k copies divides each mark by k.

This is forensics, not prevention: retraining long enough, or merging many models, washes the mark out."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.errors import FormatError
from licensing.forensics.weights import LAYER_TENSORS, Weights, open_weights, rewrite_safetensors

__all__ = [
    "DEFAULT_DENSITY",
    "DEFAULT_STRENGTH",
    "DEFAULT_ALPHA",
    "FingerprintKey",
    "Attribution",
    "Trace",
    "marked_tensors",
    "mark_model",
    "trace_weights",
]

VERSION = 1
DEFAULT_DENSITY = 0.02
DEFAULT_STRENGTH = 0.03
# The family-wise p-value below which a customer is named. A false accusation is the costly error.
DEFAULT_ALPHA = 1e-6
_LN10 = math.log(10.0)
_ELIGIBLE = re.compile(
    "^(" + "|".join(re.escape(p).replace(re.escape("{i}"), r"\d+") for p in LAYER_TENSORS) + ")$"
)


class FingerprintKey:
    """The vendor's fingerprint secret and the keyed sequences derived from it."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != 32:
            raise ValueError("a fingerprint key is 32 bytes")
        self._secret = secret

    @classmethod
    def from_issuer(cls, issuer_key: Ed25519PrivateKey) -> "FingerprintKey":
        raw = issuer_key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"codemoat fingerprint key v1")
        return cls(hkdf.derive(raw))

    def _mac(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "\x00".join(parts).encode(), hashlib.sha256).digest()

    def mark_id(self, customer: str) -> str:
        """Deterministic: the same customer always gets the same fingerprint from this vendor."""
        return self._mac("customer", customer).hex()[:32]

    def _generator(self, *parts: str) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(int.from_bytes(self._mac(*parts), "big")))

    def positions(self, name: str, size: int, density: float) -> np.ndarray:
        chosen = self._generator("positions", name, str(size), repr(density)).random(size) < density
        return np.flatnonzero(chosen)

    def bits(self, mark_id: str, name: str, count: int) -> np.ndarray:
        """The customer's keyed sequence for one tensor as 0/1 float32 (the sign is 2·bit − 1)."""
        raw = np.frombuffer(self._generator("signs", mark_id, name).bytes((count + 7) // 8), np.uint8)
        return np.unpackbits(raw)[:count].astype(np.float32)

    def signs(self, mark_id: str, name: str, count: int) -> np.ndarray:
        return self.bits(mark_id, name, count) * 2 - 1


def _is_marked(name: str, shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 and bool(_ELIGIBLE.match(name))


def marked_tensors(names: Iterable[str]) -> list[str]:
    return sorted(n for n in names if _ELIGIBLE.match(n))


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values, dtype=np.float64))))


@dataclass(frozen=True)
class MarkResult:
    mark_id: str
    tensors: int
    positions: int
    expected_z: float


def mark_model(
    key: FingerprintKey,
    source: Path,
    out_dir: Path,
    *,
    customer: str,
    density: float = DEFAULT_DENSITY,
    strength: float = DEFAULT_STRENGTH,
) -> MarkResult:
    """Write `out_dir`: the safetensors model `source` with `customer`'s fingerprint in it."""
    if not 0.0 < density <= 0.5 or not 0.0 < strength <= 0.2:
        raise FormatError("a fingerprint needs 0 < density ≤ 0.5 and 0 < strength ≤ 0.2")
    mark_id = key.mark_id(customer)
    counted = [0]

    def edit(name: str, values: np.ndarray) -> np.ndarray:
        flat = values.reshape(-1)
        where = key.positions(name, flat.size, density)
        flat[where] += np.float32(strength * _rms(flat)) * key.signs(mark_id, name, where.size)
        counted[0] += where.size
        return flat.reshape(values.shape)

    edited = rewrite_safetensors(source, out_dir, _is_marked, edit)
    if not edited:
        raise FormatError(
            f"{source} has none of the tensors a fingerprint goes into (per-block attention value/output and "
            "MLP projections under Hugging Face llama-family names)"
        )
    return MarkResult(mark_id, len(edited), counted[0], strength * math.sqrt(counted[0]))


@dataclass(frozen=True)
class Candidate:
    """One registered delivery to test a suspect against."""

    customer: str
    mark_id: str
    density: float


@dataclass(frozen=True)
class Attribution:
    customer: str
    mark_id: str
    z: float
    log10_p: float  # family-wise (Bonferroni over every registered delivery)

    @property
    def p_value(self) -> float:
        return 10.0**self.log10_p


@dataclass
class Trace:
    source: str
    tested: int
    tensors: int
    positions: int
    alpha: float
    scores: list[Attribution] = field(default_factory=list)  # every registered delivery, highest first

    @property
    def named(self) -> list[Attribution]:
        return [a for a in self.scores if a.log10_p < math.log10(self.alpha)]

    @property
    def best(self) -> Attribution:
        return self.scores[0]


def _log10_p(z: float, tests: int) -> float:
    """log10 of min(1, tests · exp(-z²/2)) (Hoeffding's bound, Bonferroni over the registry)."""
    if z <= 0:
        return 0.0
    return min(0.0, math.log10(tests) - z * z / (2 * _LN10))


def trace_weights(
    key: FingerprintKey, suspect: Weights | Path, candidates: list[Candidate], *, alpha: float = DEFAULT_ALPHA
) -> Trace:
    """Score a suspect against every registered delivery; name those whose family-wise p-value is below alpha."""
    weights = open_weights(suspect) if isinstance(suspect, Path) else suspect
    names = [n for n in sorted(weights.names()) if _is_marked(n, weights.shape(n))]
    if not names:
        raise FormatError(
            f"{weights.source} has none of the fingerprinted tensors (per-block attention value/output and MLP "
            "projections): another architecture, or not a language model"
        )
    if not candidates:
        raise FormatError("the fingerprint registry is empty: no delivery was ever marked")
    dots = {c.mark_id: 0.0 for c in candidates}
    norm_sq = dict.fromkeys({c.density for c in candidates}, 0.0)
    positions = 0
    for name in names:
        flat = weights.read(name).reshape(-1)
        rms = _rms(flat)
        if not math.isfinite(rms) or rms == 0.0:
            continue
        for density in norm_sq:
            where = key.positions(name, flat.size, density)
            x = flat[where] / np.float32(rms)
            norm_sq[density] += float(x @ x)
            total = float(x.sum())
            positions += where.size
            for c in candidates:
                if c.density == density:  # <s, x> = 2<bits, x> - sum(x)
                    dots[c.mark_id] += 2 * float(key.bits(c.mark_id, name, where.size) @ x) - total
    attributions = []
    for c in candidates:
        norm = math.sqrt(norm_sq[c.density])
        z = dots[c.mark_id] / norm if norm > 0 else 0.0
        attributions.append(Attribution(c.customer, c.mark_id, z, _log10_p(z, len(candidates))))
    attributions.sort(key=lambda a: -a.z)
    return Trace(weights.source, len(candidates), len(names), positions, alpha, attributions)
