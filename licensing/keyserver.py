"""Hand a model key from the appliance to an engine process (vLLM) over a Unix socket, never through arguments,
the environment or files.

The gateway starts a `KeyServer` on a socket in a 0700 directory, calls `grant(model_id, uses=N)` for the N
worker processes it is about to start and passes them the socket path and the one-time token (a token is not
a key: it is useless once used, expired, or presented by another user). A request is served only when

  * the peer's uid (SO_PEERCRED) is one the server allows (by default its own),
  * the token is live for that model and has uses left (compared in constant time, consumed on use),
  * the license still serves (the key is unwrapped from the license for each request and wiped after).

Wire format: the client sends one JSON line `{"op": "model-key", "model_id", "token"}`; the server answers one
JSON line (`{"ok": true, "model_id", "manifest_sha256", "key_bytes": 32}` or `{"ok": false, "error"}`)
followed, on success, by the raw key bytes, which the client reads into a `bytearray`."""

from __future__ import annotations

import hmac
import json
import os
import secrets
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from licensing.errors import KeyServerError, LicensingError
from licensing.service import LicenseService
from licensing.wrap import MODEL_KEY_BYTES, wipe

__all__ = ["KeyServer", "fetch_model_key", "peer_credentials"]

_MAX_REQUEST = 4096
_CREDS = struct.Struct("3i")


def peer_credentials(conn: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket, from the kernel."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size)
    return _CREDS.unpack(raw)


@dataclass
class _Grant:
    model_id: str
    uses_left: int
    expires_at: float


class _Handler(socketserver.BaseRequestHandler):
    server: "_Server"

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(10)
        try:
            _, uid, _ = peer_credentials(conn)
            request = _read_line(conn)
            key_server = self.server.owner
            if uid not in key_server.allowed_uids:
                raise KeyServerError(f"uid {uid} may not fetch model keys")
            model_id, token = request.get("model_id"), request.get("token")
            if (
                request.get("op") != "model-key"
                or not isinstance(model_id, str)
                or not isinstance(token, str)
            ):
                raise KeyServerError("malformed key request")
            key_server._consume(token, model_id)
            sealed_manifest = key_server.manifests.get(model_id)
            with key_server.service.model_key(model_id) as key:
                header = {
                    "ok": True,
                    "model_id": model_id,
                    "manifest_sha256": sealed_manifest,
                    "key_bytes": len(key),
                }
                conn.sendall(json.dumps(header).encode() + b"\n")
                conn.sendall(key)
        except LicensingError as exc:
            _send_error(conn, str(exc))
        except (OSError, ValueError):
            _send_error(conn, "malformed key request")


def _send_error(conn: socket.socket, message: str) -> None:
    try:
        conn.sendall(json.dumps({"ok": False, "error": message}).encode() + b"\n")
    except OSError:
        pass


def _read_line(conn: socket.socket) -> dict:
    data = bytearray()
    while not data.endswith(b"\n"):
        part = conn.recv(_MAX_REQUEST)
        if not part:
            break
        data += part
        if len(data) > _MAX_REQUEST:
            raise KeyServerError("key message too long")
    line = bytes(data).split(b"\n", 1)[0]
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    return obj


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    owner: "KeyServer"


class KeyServer:
    def __init__(
        self,
        service: LicenseService,
        socket_path: Path,
        *,
        allowed_uids: set[int] | None = None,
        manifests: dict[str, str] | None = None,
    ) -> None:
        self.service = service
        self.socket_path = Path(socket_path)
        self.allowed_uids = allowed_uids if allowed_uids is not None else {os.getuid()}
        # model id -> expected manifest hash (from the license), sent so the loader can refuse another delivery
        self.manifests = manifests if manifests is not None else {}
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def grant(self, model_id: str, *, uses: int = 1, ttl_s: float = 600.0) -> str:
        """A one-time token for `uses` key fetches of `model_id` within `ttl_s` seconds."""
        license_, _ = self.service.installed()
        self.manifests.setdefault(model_id, license_.grant(model_id).manifest_sha256)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = _Grant(model_id, uses, time.monotonic() + ttl_s)
        return token

    def revoke_all(self) -> None:
        with self._lock:
            self._grants.clear()

    def _consume(self, token: str, model_id: str) -> None:
        with self._lock:
            now = time.monotonic()
            for known, grant in list(self._grants.items()):
                if grant.expires_at < now:
                    del self._grants[known]
            match = next((t for t in self._grants if hmac.compare_digest(t, token)), None)
            if match is None or self._grants[match].model_id != model_id:
                raise KeyServerError(
                    "the key token is unknown, used up or expired; restart the engine from the "
                    "appliance so it gets a fresh token"
                )
            grant = self._grants[match]
            grant.uses_left -= 1
            if grant.uses_left <= 0:
                del self._grants[match]

    def start(self) -> "KeyServer":
        directory = self.socket_path.parent
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self.socket_path.unlink(missing_ok=True)
        old_umask = os.umask(0o177)
        try:
            self._server = _Server(str(self.socket_path), _Handler)
        finally:
            os.umask(old_umask)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="codemoat-keyserver", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self.revoke_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.socket_path.unlink(missing_ok=True)

    def __enter__(self) -> "KeyServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def fetch_model_key(
    socket_path: str | os.PathLike, token: str, model_id: str, timeout_s: float = 30.0
) -> tuple[bytearray, str | None]:
    """Client side (the vLLM loader): return (key as a bytearray the caller must wipe, expected manifest hash)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout_s)
            conn.connect(os.fspath(socket_path))
            conn.sendall(
                json.dumps({"op": "model-key", "model_id": model_id, "token": token}).encode() + b"\n"
            )
            header_line = bytearray()
            while not header_line.endswith(b"\n"):
                byte = conn.recv(1)  # byte by byte: the key follows the header line on the same stream
                if not byte:
                    break
                header_line += byte
                if len(header_line) > _MAX_REQUEST:
                    raise KeyServerError("the key server sent an oversized answer")
            try:
                header = json.loads(bytes(header_line))
            except ValueError:
                raise KeyServerError("the key server closed the connection without an answer") from None
            if not header.get("ok"):
                raise KeyServerError(
                    f"the appliance refused the model key: {header.get('error', 'no reason given')}"
                )
            if header.get("key_bytes") != MODEL_KEY_BYTES:
                raise KeyServerError("the key server sent a key of the wrong length")
            key = bytearray(MODEL_KEY_BYTES)
            view = memoryview(key)
            received = 0
            while received < MODEL_KEY_BYTES:
                n = conn.recv_into(view[received:])
                if n == 0:
                    wipe(key)
                    raise KeyServerError("the key server closed the connection mid-key")
                received += n
            return key, header.get("manifest_sha256")
    except (FileNotFoundError, ConnectionRefusedError):
        raise KeyServerError(
            f"no key server listens on {socket_path}; start the engine through `codemoat serve`"
        ) from None
    except TimeoutError:
        raise KeyServerError(f"the key server on {socket_path} did not answer in {timeout_s:.0f} s") from None
