"""Release signatures: the vendor's issuer key signs the checksum manifest of a bundle (an install or an update),
and an appliance accepts the bundle only when that signature chains to a root it trusts.

The signed document carries the manifest's SHA-256, the product version and build number, and the platform the
wheels were built for; the manifest in turn carries the SHA-256 of every file in the bundle. So one signature
check plus one checksum pass authenticate everything, and an edited file, manifest or signature is refused.

Run as `python -m licensing.release verify ...` by the installer before anything from the bundle is installed:
this module needs `cryptography` and the standard library only, like the rest of the package."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.armor import Envelope, armor, dearmor, sign_envelope
from licensing.encoding import parse_json_object
from licensing.errors import FormatError, LicensingError, SignatureError
from licensing.keys import TrustedRoot, TrustStore, _root_from, verify_issued

__all__ = [
    "RELEASE_LABEL",
    "Release",
    "sign_release",
    "verify_release",
    "install_trust",
    "load_root_file",
    "newer",
]

RELEASE_TYPE = "codemoat-release"
RELEASE_LABEL = "RELEASE SIGNATURE"


@dataclass(frozen=True, slots=True)
class Release:
    version: str
    build: int
    platform: str
    manifest_sha256: str
    issued_at: int
    issuer_kid: str
    root_kid: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sign_release(
    manifest: bytes,
    *,
    version: str,
    build: int,
    platform: str,
    now: int,
    issuer_key: Ed25519PrivateKey,
    issuer_kid: str,
    issuer_cert: dict[str, Any],
) -> str:
    payload = {
        "product": "codemoat",
        "version": version,
        "build": build,
        "platform": platform,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "issued_at": now,
    }
    return armor(RELEASE_LABEL, sign_envelope(RELEASE_TYPE, payload, issuer_key, issuer_kid, (issuer_cert,)))


def verify_release(signature_text: str, manifest: bytes, trust: TrustStore) -> Release:
    """The release the signature describes, once it chains to a trusted root and covers exactly `manifest`."""
    envelope = dearmor(signature_text, RELEASE_LABEL, "release signature")
    payload = verify_issued(envelope, RELEASE_TYPE, trust, "release signature")
    if payload.get("product") != "codemoat":
        raise FormatError("the release signature is not for a CodeMoat bundle")
    digest = hashlib.sha256(manifest).hexdigest()
    if payload.get("manifest_sha256") != digest:
        raise SignatureError(
            "the bundle's checksum manifest is not the one the vendor signed: the bundle was altered; "
            "get it again from the vendor"
        )
    version, build, platform = payload.get("version"), payload.get("build"), payload.get("platform")
    if not isinstance(version, str) or not isinstance(build, int) or not isinstance(platform, str):
        raise FormatError("the release signature lacks its version, build or platform")
    root_kid = Envelope.from_dict(envelope.certs[0], "release issuer certificate").kid
    return Release(version, build, platform, digest, int(payload["issued_at"]), envelope.kid, root_kid)


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("+")[0].split("."))
    except ValueError:
        raise FormatError(f"release version {version!r} is not dotted numbers") from None


def newer(candidate: Release, current: tuple[str, int]) -> bool:
    """Whether `candidate` comes after the installed (version, build)."""
    return (_version_key(candidate.version), candidate.build) > (_version_key(current[0]), current[1])


def install_trust(bundled_root: Path | None, extra_roots: list[Path]) -> tuple[TrustStore, str | None]:
    """The roots a first install trusts: this build's pinned roots and the ones the operator names.

    A development build pins no root; it then trusts the root the bundle carries, and says so, since a bundle
    that brings its own root proves only that it was not altered after signing, not who signed it."""
    pinned = TrustStore.load(None)
    roots: list[TrustedRoot] = pinned.roots()
    roots += [load_root_file(path) for path in extra_roots]
    warning = None
    if not roots and bundled_root is not None:
        root = load_root_file(bundled_root)
        roots.append(root)
        warning = (
            f"development build: no vendor root is pinned, so the bundle's own root {root.kid} was trusted; "
            "compare this key id with the one your vendor gave you, or pass --trust ROOT.json"
        )
    return TrustStore(roots, pinned.allow_operator_roots), warning


def load_root_file(path: Path) -> TrustedRoot:
    """A vendor root from its public `root.json`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the root key {path}: {exc.strerror or exc}") from None
    return _root_from(parse_json_object(data, str(path)), str(path))


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m licensing.release")
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="check a bundle's release signature against its checksum manifest")
    verify.add_argument("--signature", type=Path, required=True)
    verify.add_argument("--manifest", type=Path, required=True)
    verify.add_argument("--bundled-root", type=Path, help="the root the bundle carries (development builds)")
    verify.add_argument("--trust", type=Path, action="append", default=[], help="a vendor root to trust")
    args = parser.parse_args(argv)
    try:
        trust, warning = install_trust(args.bundled_root, args.trust)
        release = verify_release(args.signature.read_text(), args.manifest.read_bytes(), trust)
    except (LicensingError, OSError, UnicodeDecodeError) as exc:
        print(f"release signature refused: {exc}", file=sys.stderr)
        return 3
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps(release.to_json()))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
