"""Open, verify and decrypt a sealed model directory, in memory only.

`SealedModel.open` checks the signed manifest (chain to a pinned root, optional expected hash from the
license), the plain files' hashes, every sealed header's hash and signature, and every file's exact size.
`decrypt_into` then opens the chunks, in parallel threads (the AES-GCM work releases the GIL), straight into a
caller-supplied writable buffer with `Cipher(AES, GCM).decryptor().update_into()`; no plaintext is written to
disk, and a buffer is wiped if any chunk fails."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from licensing.armor import Envelope
from licensing.encoding import b64d, sha256_hex
from licensing.errors import FormatError, LicensingError, ModelError
from licensing.keys import TrustStore, verify_issued
from licensing.sealed.format import (
    HEADER_TYPE,
    MAGIC,
    MANIFEST_NAME,
    MANIFEST_TYPE,
    PREAMBLE,
    TAG_SIZE,
    chunk_aad,
    chunk_nonce,
    file_key,
    key_check,
)
from licensing.wrap import wipe

__all__ = ["SealedFile", "SealedModel", "default_threads", "is_sealed_model"]


def is_sealed_model(model_dir: Path) -> bool:
    """True for a directory delivered by `codemoat vendor seal` (the engines pick the sealed loader then)."""
    return (Path(model_dir) / MANIFEST_NAME).is_file()


def default_threads() -> int:
    return max(1, min(8, len(os.sched_getaffinity(0))))


@dataclass(frozen=True)
class SealedFile:
    path: Path
    file: str  # the original safetensors file name, bound into the key and every chunk
    header_hash: bytes
    header: dict[str, Any]
    data_offset: int

    @property
    def data_size(self) -> int:
        return self.header["data_size"]

    @property
    def tensors(self) -> dict[str, dict[str, Any]]:
        return self.header["tensors"]


@dataclass(frozen=True)
class SealedModel:
    model_dir: Path
    model_id: str
    manifest_sha256: str
    files: tuple[SealedFile, ...]

    @classmethod
    def open(
        cls, model_dir: Path, trust: TrustStore | None, expected_manifest_sha256: str | None = None
    ) -> "SealedModel":
        """Verify and open. With `trust=None` (an engine process that got the expected manifest hash from the
        appliance, which verified the license chain) the hash alone anchors the manifest, and the manifest's
        header hashes anchor the headers."""
        manifest_path = model_dir / MANIFEST_NAME
        if not manifest_path.is_file():
            raise ModelError(
                f"{model_dir} is not a sealed model (no {MANIFEST_NAME}); seal it with `codemoat vendor seal`"
            )
        envelope = Envelope.from_json(manifest_path.read_bytes(), "sealed model manifest")
        if trust is None:
            if expected_manifest_sha256 is None:
                raise ModelError(
                    "opening a sealed model without a trust store needs the expected manifest hash"
                )
            manifest = envelope.payload()
        else:
            manifest = verify_issued(envelope, MANIFEST_TYPE, trust, "sealed model manifest")
        manifest_sha256 = sha256_hex(envelope.payload_bytes())
        model_id = manifest.get("model_id")
        if not isinstance(model_id, str) or not isinstance(manifest.get("sealed"), dict):
            raise FormatError("the sealed model manifest is malformed; ask the vendor for a new copy")
        if expected_manifest_sha256 is not None and not hmac.compare_digest(
            manifest_sha256, expected_manifest_sha256
        ):
            raise ModelError(
                f"the sealed model in {model_dir} is not the delivery the license was issued for "
                f"(manifest {manifest_sha256[:12]}…, license expects {expected_manifest_sha256[:12]}…)"
            )
        for name, digest in manifest.get("plain", {}).items():
            path = model_dir / name
            if not path.is_file() or sha256_hex(path.read_bytes()) != digest:
                raise ModelError(f"{path} is missing or was modified; restore it from the vendor's delivery")
        # Only what the vendor delivered may be there: a planted file would be read by whatever loads the
        # directory next to the sealed weights (a tokenizer's special_tokens_map.json, a model.safetensors).
        listed = {MANIFEST_NAME, *manifest.get("plain", {}), *manifest["sealed"]}
        unexpected = sorted(p.name for p in model_dir.iterdir() if p.name not in listed)
        if unexpected:
            raise ModelError(
                f"{model_dir} holds files the sealed manifest does not list: {', '.join(unexpected)}; "
                "remove them or restore the vendor's delivery"
            )
        files = tuple(
            _open_file(model_dir / name, entry, model_id, trust)
            for name, entry in sorted(manifest["sealed"].items())
        )
        return cls(model_dir, model_id, manifest_sha256, files)

    def decrypt_into(
        self, sealed: SealedFile, model_key: bytearray, out: memoryview, threads: int | None = None
    ) -> None:
        """Decrypt `sealed`'s data section into `out` (at least `data_size` bytes); wipe `out` on failure."""
        if len(out) < sealed.data_size:
            raise ValueError("output buffer too small")
        self._run(sealed, model_key, threads, lambda index, start, length: out[start : start + length])

    def authenticate(self, model_key: bytearray, threads: int | None = None) -> dict[str, Any]:
        """Open every chunk of every file into small scratch buffers (wiped), for `license check-model`."""
        started = time.perf_counter()
        chunks = 0
        total = 0
        for sealed in self.files:
            chunk_size = sealed.header["chunk_size"]
            scratch = [memoryview(bytearray(chunk_size)) for _ in range(threads or default_threads())]
            try:
                self._run(
                    sealed,
                    model_key,
                    threads,
                    lambda index, start, length, s=scratch: s[index % len(s)][:length],
                    serial_per_worker=True,
                )
            finally:
                for buffer in scratch:
                    wipe(buffer)
            chunks += sealed.header["n_chunks"]
            total += sealed.data_size
        return {
            "model_id": self.model_id,
            "files": len(self.files),
            "chunks": chunks,
            "bytes": total,
            "seconds": round(time.perf_counter() - started, 3),
            "manifest_sha256": self.manifest_sha256,
        }

    def _run(
        self,
        sealed: SealedFile,
        model_key: bytearray,
        threads: int | None,
        target: Callable[[int, int, int], memoryview],
        serial_per_worker: bool = False,
    ) -> None:
        header = sealed.header
        salt = b64d(header["salt"], "sealed header salt")
        if not hmac.compare_digest(
            key_check(model_key, salt, self.model_id, sealed.file), header["key_check"]
        ):
            raise ModelError(
                f"the model key does not open {sealed.path.name}: wrong key for model {self.model_id}"
            )
        key = file_key(model_key, salt, self.model_id, sealed.file)
        chunk_size, n_chunks, data_size = header["chunk_size"], header["n_chunks"], header["data_size"]
        workers = max(1, min(threads or default_threads(), n_chunks))
        fd = os.open(sealed.path, os.O_RDONLY)
        try:

            def work(worker: int) -> None:
                buffer = bytearray(chunk_size + TAG_SIZE)
                view = memoryview(buffer)
                for index in range(worker, n_chunks, workers):
                    start = index * chunk_size
                    length = min(chunk_size, data_size - start)
                    record = view[: length + TAG_SIZE]
                    offset = sealed.data_offset + index * (chunk_size + TAG_SIZE)
                    if os.preadv(fd, [record], offset) != len(record):
                        raise ModelError(f"{sealed.path.name} is truncated at chunk {index}")
                    decryptor = Cipher(
                        algorithms.AES(key), modes.GCM(chunk_nonce(index), bytes(record[length:]))
                    ).decryptor()
                    decryptor.authenticate_additional_data(
                        chunk_aad(sealed.header_hash, sealed.file, index, index == n_chunks - 1)
                    )
                    dst = target(worker if serial_per_worker else index, start, length)
                    decryptor.update_into(record[:length], dst)
                    try:
                        decryptor.finalize()
                    except InvalidTag:
                        wipe(dst)
                        raise ModelError(
                            f"{sealed.path.name}: chunk {index} fails authentication (altered, "
                            "swapped or damaged); ask the vendor for a new copy"
                        ) from None
                wipe(buffer)

            if workers == 1:
                work(0)
            else:
                with ThreadPoolExecutor(workers, thread_name_prefix="codemoat-unseal") as pool:
                    for future in [pool.submit(work, w) for w in range(workers)]:
                        future.result()
        except LicensingError:
            if not serial_per_worker:
                wipe(target(0, 0, data_size))
            raise
        finally:
            os.close(fd)
            wipe(key)


def _open_file(path: Path, entry: dict[str, Any], model_id: str, trust: TrustStore | None) -> SealedFile:
    if not path.is_file():
        raise ModelError(f"sealed file {path} is missing; restore it from the vendor's delivery")
    size = path.stat().st_size
    if size != entry.get("size"):
        kind = "truncated" if size < entry.get("size", 0) else "longer than sealed (bytes appended)"
        raise ModelError(
            f"sealed file {path.name} is {kind}: {size} bytes, the manifest says {entry.get('size')}"
        )
    with open(path, "rb") as handle:
        magic, header_len = PREAMBLE.unpack(handle.read(PREAMBLE.size))
        if magic != MAGIC:
            raise ModelError(f"{path.name} is not a CodeMoat sealed file")
        header_bytes = handle.read(header_len)
    header_hash = hashlib.sha256(header_bytes).digest()
    if header_hash.hex() != entry.get("header_sha256"):
        raise ModelError(f"the header of {path.name} was modified; ask the vendor for a new copy")
    header_envelope = Envelope.from_json(header_bytes, f"{path.name} header")
    if trust is None:  # the header hash was checked against the (hash-pinned) manifest just above
        header = header_envelope.payload()
    else:
        header = verify_issued(header_envelope, HEADER_TYPE, trust, f"{path.name} header")
    if header.get("model_id") != model_id or header.get("file") != entry.get("file"):
        raise ModelError(f"{path.name} belongs to another model or file; restore the vendor's delivery")
    data_offset = PREAMBLE.size + header_len
    expected = data_offset + header["data_size"] + header["n_chunks"] * TAG_SIZE
    if expected != size:
        raise ModelError(f"{path.name} has the wrong size for its header; ask the vendor for a new copy")
    return SealedFile(path, header["file"], header_hash, header, data_offset)
