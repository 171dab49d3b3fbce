"""Automatic lease renewal through a license relay, for sites that allow one outbound connection.

The appliance sends a renewal request signed by its device key (license id, device key id, the lease
sequence it holds, a nonce, the time); the relay (run by the vendor, or by the customer as a proxy to the
vendor) answers with an armored lease, which goes through exactly the same checks as a lease carried by hand
(`LicenseService.renew`). Air-gapped sites simply configure no relay.

`LeaseRelay` is the seam; `HttpLeaseRelay` is the implementation (stdlib `urllib`, so `licensing` keeps its
cryptography-only dependency)."""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from typing import Protocol

from licensing.armor import armor, sign_envelope
from licensing.errors import StateError
from licensing.service import LicenseService

__all__ = [
    "RENEWAL_TYPE",
    "RENEWAL_LABEL",
    "LeaseRelay",
    "HttpLeaseRelay",
    "renewal_request",
    "renew_via_relay",
]

RENEWAL_TYPE = "codemoat.renewal-request"
RENEWAL_LABEL = "RENEWAL REQUEST"


class LeaseRelay(Protocol):
    def fetch_lease(self, renewal_request: str) -> str | None:
        """Return an armored lease, or None when the relay has nothing newer."""
        ...


def renewal_request(service: LicenseService) -> str:
    license_, lease = service.installed()
    identity = service.keys.load()
    payload = {
        "license_id": license_.license_id,
        "device_kid": identity.kid,
        "lease_sequence": lease.sequence,
        "nonce": secrets.token_hex(16),
        "created_at": service.now(),
    }
    return armor(RENEWAL_LABEL, sign_envelope(RENEWAL_TYPE, payload, identity.signing_key, identity.kid))


def renew_via_relay(service: LicenseService, relay: LeaseRelay, *, renew_before_s: int) -> bool:
    """Ask the relay for a lease when the current one ends within `renew_before_s`; True when one was applied.
    A refused lease raises like a hand-carried one (and changes nothing)."""
    _, lease = service.installed()
    if lease.expires_at - service.now() > renew_before_s:
        return False
    text = relay.fetch_lease(renewal_request(service))
    if text is None:
        return False
    service.renew(text)
    return True


class HttpLeaseRelay:
    """POSTs the armored renewal request to `url` and expects an armored lease back (204: nothing newer)."""

    def __init__(self, url: str, *, timeout_s: float = 30.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise StateError(f"license relay URL {url!r} must be http(s)")
        self.url = url
        self.timeout_s = timeout_s

    def fetch_lease(self, renewal_request: str) -> str | None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps({"renewal_request": renewal_request}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                if response.status == 204:
                    return None
                return response.read(1 << 20).decode("ascii")
        except urllib.error.HTTPError as exc:
            raise StateError(
                f"the license relay refused the renewal ({exc.code}); renew by hand with a lease file"
            ) from None
        except (urllib.error.URLError, OSError, UnicodeDecodeError) as exc:
            raise StateError(
                f"the license relay at {self.url} is unreachable ({exc}); renew by hand"
            ) from None
