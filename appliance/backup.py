"""`codemoat backup create|restore`: the appliance's state in one encrypted file, taken while it runs.

What a backup holds (a tar, encrypted as a whole with AES-256-GCM under a key scrypt derives from the
operator's passphrase; the header is authenticated too, so a truncated or edited file is refused):

    manifest.json           release, schema revision, row counts, what was left out and why
    state/<table>.jsonl     every row of the state database (users, tokens, groups, grants, repositories,
                            the audit log, ...), read from one consistent snapshot
    files/audit/...         the signed audit head and checkpoints, read before the snapshot, so the database
                            restored holds every entry they name
    files/license/...       the license, lease, clock and pending requests; device keys sealed to a TPM as they
                            are (they open only on that TPM)
    device-keys.bound       device keys kept in files, encrypted again under a key bound to this machine (its
                            machine id and board): a backup carried elsewhere restores without them
    files/config.toml       the settings file, when there is one

Vectors are derived data and are left out: the manifest names each indexed repository and its root, and
`backup restore --reindex` indexes them again (or prints the `codemoat index` commands to run)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import MetaData, create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from appliance.config import Settings
from appliance.errors import ApplianceError
from appliance.state.db import Database

MAGIC = b"CODEMOAT BACKUP 1\n"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
DEVICE_KEY_FILES = ("device-ed25519.pem", "device-x25519.pem")
_BATCH = 1000


class BackupError(ApplianceError):
    exit_code = 3


@dataclass(frozen=True, slots=True)
class Summary:
    tables: dict[str, int]
    files: list[str]
    device_keys: str
    revision: str | None
    indexed: list[dict[str, Any]]  # the repositories the index held: name, root, last_commit

    def describe(self) -> str:
        rows = sum(self.tables.values())
        return (
            f"{rows} rows in {len(self.tables)} tables, {len(self.files)} files, device keys: {self.device_keys}, "
            f"schema {self.revision}"
        )


# -- create ------------------------------------------------------------------------------------------------


def create(settings: Settings, out: Path, passphrase: bytes) -> Summary:
    home = Path(settings.home)
    if out.exists():
        raise BackupError(f"{out} exists; choose a new file")
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        files = _add_files(tar, home)  # anchors first: the snapshot then holds every entry they name
        device_keys = _add_device_keys(tar, home, passphrase)
        db = Database.open(settings.state, home)
        try:
            revision = db.current_revision()
            tables = _add_tables(tar, db)
        finally:
            db.engine.dispose()
        manifest = {
            "created": datetime.now(UTC).isoformat(),
            "indexed": _indexed(home),
            "release": _release(),
            "revision": revision,
            "tables": tables,
            "files": files,
            "device_keys": device_keys,
            "left_out": ["vectors (rebuilt by `codemoat index`)", "device keys in plaintext files"],
        }
        _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode())
    sealed = _seal(payload.getvalue(), passphrase)
    partial = out.with_name(out.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(sealed)
        stream.flush()
        os.fsync(stream.fileno())
    partial.replace(out)
    return Summary(tables, files, device_keys, revision, manifest["indexed"])


def _indexed(home: Path) -> list[dict[str, Any]]:
    """The repositories the index holds (name, root, commit), from a snapshot of its manifest."""
    manifest = home / "index" / "manifest.sqlite3"
    if not manifest.is_file():
        return []
    source = sqlite3.connect(f"file:{manifest}?mode=ro", uri=True)
    copy = sqlite3.connect(":memory:")
    try:
        source.backup(copy)
        rows = copy.execute("SELECT name, root, last_commit FROM repos ORDER BY name").fetchall()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read the index manifest {manifest}: {exc}") from None
    finally:
        source.close()
        copy.close()
    return [{"name": name, "root": root, "last_commit": commit} for name, root, commit in rows]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_files(tar: tarfile.TarFile, home: Path) -> list[str]:
    names = []
    for base in ("audit", "license"):
        for path in sorted((home / base).rglob("*")) if (home / base).is_dir() else []:
            if not path.is_file() or path.is_symlink() or path.name.endswith((".tmp", ".partial")):
                continue
            if path.parent.name == "device" and path.name in DEVICE_KEY_FILES:
                continue  # kept only in the machine-bound form (_add_device_keys)
            name = path.relative_to(home).as_posix()
            _add(tar, f"files/{name}", path.read_bytes())
            names.append(name)
    if (home / "config.toml").is_file():
        _add(tar, "files/config.toml", (home / "config.toml").read_bytes())
        names.append("config.toml")
    return names


def _add_device_keys(tar: tarfile.TarFile, home: Path, passphrase: bytes) -> str:
    device = home / "license" / "device"
    if (device / "device-keys.tpm.json").is_file():
        return "sealed to this machine's TPM"
    keys = {name: (device / name).read_text() for name in DEVICE_KEY_FILES if (device / name).is_file()}
    if not keys:
        return "none"
    _add(tar, "device-keys.bound", _seal(json.dumps(keys).encode(), passphrase, bound=True))
    return "files, bound to this machine"


def _add_tables(tar: tarfile.TarFile, db: Database) -> dict[str, int]:
    """Every table, from one snapshot: SQLite's online backup into a scratch copy; PostgreSQL's repeatable
    read transaction."""
    if db.engine.url.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "snapshot.sqlite3"
            raw = db.engine.raw_connection()
            try:
                target = sqlite3.connect(copy)
                raw.driver_connection.backup(target)
                target.close()
            finally:
                raw.close()
            snapshot = create_engine(f"sqlite+pysqlite:///{copy}")
            try:
                with snapshot.connect() as connection:
                    return _dump(tar, connection)
            finally:
                snapshot.dispose()
    with db.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        with connection.begin():
            return _dump(tar, connection)


def _dump(tar: tarfile.TarFile, connection: Any) -> dict[str, int]:
    metadata = MetaData()
    metadata.reflect(connection)
    counts = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        lines = [
            json.dumps({k: _encode(v) for k, v in row._mapping.items()})
            for row in connection.execute(select(table))
        ]
        _add(tar, f"state/{table.name}.jsonl", ("\n".join(lines) + "\n" if lines else "").encode())
        counts[table.name] = len(lines)
    return counts


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, (bytes, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (dict, list)):
        return {"$json": value}
    return value


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, inner),) = value.items()
    return {
        "$datetime": datetime.fromisoformat,
        "$date": date.fromisoformat,
        "$bytes": base64.b64decode,
        "$decimal": Decimal,
        "$json": lambda v: v,
    }[tag](inner)


def _release() -> str:
    from importlib.metadata import version

    return version("codemoat")


# -- encryption ---------------------------------------------------------------------------------------------


def _key(passphrase: bytes, salt: bytes, params: dict[str, int]) -> bytes:
    return Scrypt(salt=salt, length=32, **params).derive(passphrase)


def _machine_binding() -> bytes:
    """What names this machine and outlives its GPUs and disks: machine id and board (licensing.device)."""
    from licensing.device import collect_fingerprint

    parts = {
        k: v for k, v in collect_fingerprint(gpus=[]).items() if k == "machine_id" or k.startswith("dmi_")
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).digest()


def _seal(plaintext: bytes, passphrase: bytes, *, bound: bool = False) -> bytes:
    salt, nonce = os.urandom(16), os.urandom(12)
    header = {"cipher": "AES-256-GCM", "kdf": "scrypt", **SCRYPT, "salt": base64.b64encode(salt).decode()}
    header["nonce"] = base64.b64encode(nonce).decode()
    header["bound"] = bound
    line = json.dumps(header, sort_keys=True).encode() + b"\n"
    key = _key(passphrase, salt, SCRYPT)
    if bound:
        key = HKDF(hashes.SHA256(), 32, salt=_machine_binding(), info=b"codemoat device keys").derive(key)
    return MAGIC + line + AESGCM(key).encrypt(nonce, plaintext, MAGIC + line)


def _open(sealed: bytes, passphrase: bytes, what: str) -> bytes:
    if not sealed.startswith(MAGIC):
        raise BackupError(f"{what} is not a CodeMoat backup")
    line, _, ciphertext = sealed[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(line)
        params = {k: int(header[k]) for k in ("n", "r", "p")}
        salt, nonce = base64.b64decode(header["salt"]), base64.b64decode(header["nonce"])
        if header.get("cipher") != "AES-256-GCM" or params["n"] > 2**20 or len(nonce) != 12:
            raise ValueError("unsupported")
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{what} has a damaged header: it was edited or is not a backup") from None
    key = _key(passphrase, salt, params)
    if header.get("bound"):
        key = HKDF(hashes.SHA256(), 32, salt=_machine_binding(), info=b"codemoat device keys").derive(key)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, MAGIC + line + b"\n")
    except InvalidTag:
        raise BackupError(
            f"{what} does not open: the passphrase is wrong, or the file was truncated or edited"
        ) from None


# -- restore -----------------------------------------------------------------------------------------------


def restore(settings: Settings, source: Path, passphrase: bytes) -> tuple[Summary, list[str]]:
    """Into a fresh data directory: (what came back, notes for the operator)."""
    home = Path(settings.home)
    try:
        sealed = source.read_bytes()
    except OSError as exc:
        raise BackupError(f"cannot read {source}: {exc.strerror or exc}") from None
    archive = tarfile.open(fileobj=io.BytesIO(_open(sealed, passphrase, str(source))))
    members = {m.name: m for m in archive.getmembers() if m.isfile()}

    def read(name: str) -> bytes:
        return archive.extractfile(members[name]).read()  # type: ignore[union-attr]

    try:
        manifest = json.loads(read("manifest.json"))
    except (KeyError, ValueError):
        raise BackupError(f"{source} has no manifest: it is not a complete backup") from None
    if any(n.startswith("/") or ".." in Path(n).parts for n in manifest.get("files", [])):
        raise BackupError(f"{source} names a file outside the data directory")
    _require_fresh(settings, home)
    notes = []
    db = Database.open(settings.state, home, upgrade=False)
    try:
        revision = manifest["revision"]
        head = Database.head_revision()
        if revision is not None:
            try:
                db.upgrade(revision)
            except Exception:  # noqa: BLE001 - alembic names an unknown revision in many ways
                raise BackupError(
                    f"the backup's schema {revision} is not one this release knows (this release is at {head}): "
                    "restore it with the release that made it"
                ) from None
            try:
                _load(db, {name: read(f"state/{name}.jsonl") for name in manifest["tables"]})
            except (SQLAlchemyError, KeyError, ValueError) as exc:  # one transaction: nothing was kept
                raise BackupError(
                    f"the backup's rows do not load into this release's schema: {exc}"
                ) from None
        db.upgrade()
    finally:
        db.engine.dispose()
    for name in manifest["files"]:
        _write(home / name, read(f"files/{name}"))
    device_keys = manifest["device_keys"]
    if "device-keys.bound" in members:
        try:
            keys = json.loads(_open(read("device-keys.bound"), passphrase, "the device keys"))
        except BackupError:
            device_keys = "left out: the backup was made on another machine"
            notes.append(
                "the device keys stay with the machine the backup was made on: activate the license again here "
                "(`codemoat license request`), or restore the TPM escrow copy"
            )
        else:
            for name, pem in keys.items():
                _write(home / "license" / "device" / name, pem.encode())
    indexed = manifest.get("indexed", [])
    return Summary(manifest["tables"], manifest["files"], device_keys, revision, indexed), notes


def _require_fresh(settings: Settings, home: Path) -> None:
    held = [p for p in ("license", "audit") if (home / p).exists() and any((home / p).rglob("*"))]
    db = Database.open(settings.state, home, upgrade=False)
    try:
        if db.current_revision() is not None:
            with db.engine.connect() as connection:
                if connection.execute(text("SELECT COUNT(*) FROM users")).scalar():
                    held.append("users in the state database")
    finally:
        db.engine.dispose()
    if held:
        raise BackupError(
            f"a backup restores into a fresh data directory; {home} already holds {', '.join(held)}"
        )


def _load(db: Database, tables: dict[str, bytes]) -> None:
    metadata = MetaData()
    with db.engine.begin() as connection:
        metadata.reflect(connection)
        for table in reversed(metadata.sorted_tables):  # rows the migrations seed (the audit head) give way
            if table.name in tables:
                connection.execute(table.delete())
        for table in metadata.sorted_tables:
            if table.name not in tables:
                continue
            rows = [
                {k: _decode(v) for k, v in json.loads(line).items()}
                for line in tables[table.name].decode().splitlines()
                if line
            ]
            for start in range(0, len(rows), _BATCH):
                connection.execute(table.insert(), rows[start : start + _BATCH])
            _reset_sequence(connection, table)


def _reset_sequence(connection: Any, table: Any) -> None:
    """PostgreSQL hands out ids from a sequence that explicit ids did not advance."""
    if connection.dialect.name != "postgresql":
        return
    keys = list(table.primary_key.columns)
    if len(keys) != 1 or keys[0].type.python_type is not int:
        return
    column = keys[0]
    highest = connection.execute(select(func.max(column))).scalar()
    if highest is not None:
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:t, :c), :v)"),
            {"t": table.name, "c": column.name, "v": highest},
        )


def _write(path: Path, data: bytes) -> None:
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(data)
