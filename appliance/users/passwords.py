"""Password hashing with scrypt from the standard library (hashlib.scrypt, OpenSSL's implementation).

Stored as `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, so the cost can be raised later and old hashes still
verify. n=2^14, r=8, p=1 costs 16 MiB and ~50 ms per check on one core: cheap for a sign-in, expensive for
someone holding a copy of the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=KEY_BYTES)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(_derive(password, salt, N, R, P))}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when `password` matches `stored`. A missing or malformed hash verifies nothing, after spending the
    same time as a real check (a sign-in must not reveal which user names exist)."""
    try:
        scheme, n, r, p, salt, expected = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        params = int(n), int(r), int(p)
        salt_bytes, expected_bytes = base64.b64decode(salt), base64.b64decode(expected)
    except ValueError:
        _derive(password, b"\0" * SALT_BYTES, N, R, P)
        return False
    return hmac.compare_digest(_derive(password, salt_bytes, *params), expected_bytes)


def generate_password() -> str:
    """A password an administrator hands over once: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)
