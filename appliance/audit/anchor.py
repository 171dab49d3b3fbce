"""The audit chain anchored outside its database: a signed head, and signed checkpoints, in files.

The hash chain in the database shows an edited or a deleted entry, but not a log emptied, or cut at its end
with the head moved back: what is left is a valid chain. So after every committed entry the appliance signs
`{seq, hash, created}` of the newest entry with its device key (Ed25519, the key that signs its license
requests) into `<home>/audit/head.json`, and every `CHECKPOINT_EVERY` entries appends such a record to
`<home>/audit/checkpoints.jsonl`. `codemoat audit verify` requires the database to hold each anchored entry,
unchanged, and refuses a log that has entries but no signed head; `codemoat audit export` carries them.

What an attacker can and cannot hide (docs/audit.md says the same for operators):
- With write access to the database only: nothing. Edits break the chain; deleting entries at the end, or all
  of them, leaves the signed head naming an entry that is not there.
- With write access to the data directory but not the device key: deleting `head.json` too is seen while any
  entry is left ("the signed head is missing"); a forged or older head fails its signature or names an entry
  the checkpoints contradict.
- With root, which can read the device key from disk, or have the TPM unseal it where it is sealed to one:
  everything, by re-signing a cut log, or by removing the database and the anchors together. Only a copy kept elsewhere
  catches that: the head that `audit verify` prints, or an `audit export`, held off the machine, shows which
  entries existed."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.encoding import atomic_write, b64d, b64e

CHECKPOINT_EVERY = 100
_HEAD = "head.json"
_CHECKPOINTS = "checkpoints.jsonl"


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    created: str

    def payload(self) -> bytes:
        return json.dumps(
            {"seq": self.seq, "hash": self.hash, "created": self.created},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()


class AuditAnchor:
    """Signs anchors with `key` into `directory`; `public` checks them (the same device's key)."""

    def __init__(self, directory: Path, key: Ed25519PrivateKey) -> None:
        self.directory = directory
        self._key = key
        self.public: Ed25519PublicKey = key.public_key()
        self._lock = threading.Lock()

    def anchor(self, seq: int, digest: str) -> None:
        """Record that entry `seq` with hash `digest` is committed (called after the commit)."""
        record = Anchor(seq, digest, datetime.now(UTC).isoformat())
        line = self._signed(record)
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            current = self._read_head()
            if current is not None and current.seq > seq:
                return  # a later entry was anchored first (two processes): keep the newest
            atomic_write(self.directory / _HEAD, (line + "\n").encode(), mode=0o600)
            if seq % CHECKPOINT_EVERY == 0:
                with open(self.directory / _CHECKPOINTS, "a", encoding="utf-8") as out:
                    out.write(line + "\n")

    def _signed(self, record: Anchor) -> str:
        signature = self._key.sign(record.payload())
        return json.dumps(
            {"seq": record.seq, "hash": record.hash, "created": record.created, "sig": b64e(signature)},
            sort_keys=True,
        )

    def _read_head(self) -> Anchor | None:
        try:
            return self._parse((self.directory / _HEAD).read_text())
        except (OSError, ValueError):
            return None

    def _parse(self, line: str) -> Anchor:
        data: dict[str, Any] = json.loads(line)
        record = Anchor(int(data["seq"]), str(data["hash"]), str(data["created"]))
        try:
            self.public.verify(b64d(str(data["sig"])), record.payload())
        except (InvalidSignature, ValueError) as exc:
            raise ValueError("bad signature") from exc
        return record

    def problems(self, entries: int, hash_of: Any) -> list[str]:
        """What the anchors say is wrong with a log of `entries` entries (`hash_of(seq)`: that entry's hash, or
        None when the database has no such entry)."""
        found: list[str] = []
        head_path = self.directory / _HEAD
        if not head_path.exists():
            return (
                [f"the signed head {head_path} is missing: the log cannot be shown complete"]
                if entries
                else []
            )
        try:
            head = self._parse(head_path.read_text())
        except (OSError, ValueError, KeyError):
            return [f"the signed head {head_path} is not signed by this appliance or is damaged"]
        records = [("the signed head", head)]
        try:
            lines = (self.directory / _CHECKPOINTS).read_text().splitlines()
        except FileNotFoundError:
            lines = []
        for number, line in enumerate(lines, 1):
            try:
                records.append((f"checkpoint {number}", self._parse(line)))
            except (ValueError, KeyError):
                found.append(
                    f"checkpoint {number} of {self.directory / _CHECKPOINTS} is not signed by this appliance"
                )
        for name, record in records:
            stored = hash_of(record.seq)
            if stored is None:
                found.append(
                    f"entry {record.seq} is gone, but {name} ({record.created}) names it: entries were "
                    f"deleted from the end, or all of them"
                )
            elif stored != record.hash:
                found.append(
                    f"entry {record.seq} differs from {name} ({record.created}): the chain was rewritten"
                )
        return found

    def export(self) -> dict[str, Any]:
        def read(name: str) -> str:
            try:
                return (self.directory / name).read_text()
            except FileNotFoundError:
                return ""

        return {
            "head": read(_HEAD).strip() or None,
            "checkpoints": read(_CHECKPOINTS).splitlines(),
            "public_key": b64e(self.public.public_bytes_raw()),
        }
