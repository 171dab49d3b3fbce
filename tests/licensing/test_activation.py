"""Activation through the public API: every refused license gets a clear error and leaves the state directory
byte for byte as it was."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from licensing.armor import Envelope, armor, dearmor, sign_envelope
from licensing.encoding import b64e
from licensing.errors import (
    BindingError,
    ClockTamperError,
    FormatError,
    SignatureError,
    UntrustedKeyError,
    ValidityError,
)
from licensing.license import LICENSE_TYPE
from licensing.vendor import VendorKeyring
from tests.licensing.conftest import DAY, T0, World

LICENSE_FIELDS = [
    "license_id",
    "customer",
    "issued_at",
    "not_before",
    "expires_at",
    "seats",
    "max_gpus",
    "features",
    "grace_days",
    "restricted_days",
    "models",
    "device",
    "activation_nonce",
    "first_lease",
]


def _answer(world: World, **kwargs) -> tuple[str, object]:
    """A fresh request from the appliance and the vendor's license for it (not yet activated)."""
    service = world.service()
    request = service.request_activation()
    kwargs.setdefault("now", world.clock.now)
    return world.vendor.issue(
        request, customer="Example GmbH", seats=3, days=365, models=["tiny"], **kwargs
    ), service


def _rewrap(envelope: Envelope, **changes) -> str:
    data = envelope.to_dict()
    data.update(changes)
    return (
        "-----BEGIN CODEMOAT LICENSE-----\n"
        + base64.b64encode(json.dumps(data).encode()).decode()
        + "\n-----END CODEMOAT LICENSE-----\n"
    )


def _flip_in_field(payload_bytes: bytes, name: str) -> bytes:
    """Flip the lowest bit of the first byte of `name`'s value in the signed JSON bytes."""
    marker = json.dumps(name).encode() + b":"
    at = payload_bytes.index(marker) + len(marker)
    flipped = bytearray(payload_bytes)
    flipped[at + 1] ^= 0x01
    return bytes(flipped)


def test_full_activation_creates_owner_only_device_keys(activated: World) -> None:
    status = activated.service().status()
    assert status.state.value == "VALID" and status.models == ["tiny"] and status.seats == 3
    device_dir = activated.state_dir / "device"
    for key_file in device_dir.glob("*.pem"):
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(device_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("field", LICENSE_FIELDS)
def test_flipped_bit_in_each_license_field_is_refused(world: World, field: str) -> None:
    text, service = _answer(world)
    envelope = dearmor(text, "LICENSE", "license")
    tampered = _flip_in_field(envelope.payload_bytes(), field)
    before = world.snapshot()
    with pytest.raises(SignatureError, match="signature does not verify"):
        service.activate(_rewrap(envelope, payload=b64e(tampered)))
    assert world.snapshot() == before


def test_flipped_bit_in_signature_and_armor_is_refused(world: World) -> None:
    text, service = _answer(world)
    envelope = dearmor(text, "LICENSE", "license")
    bad_sig = bytearray(envelope.sig)
    bad_sig[5] ^= 0x80
    before = world.snapshot()
    with pytest.raises(SignatureError):
        service.activate(_rewrap(envelope, sig=b64e(bytes(bad_sig))))
    lines = text.splitlines()
    lines[3] = lines[3][:10] + ("A" if lines[3][10] != "A" else "B") + lines[3][11:]
    with pytest.raises((SignatureError, FormatError)):
        service.activate("\n".join(lines))
    assert world.snapshot() == before


@pytest.mark.parametrize("alg", ["none", "None", "HS256", "Ed448", "RS256", ""])
def test_swapped_or_none_algorithm_is_refused(world: World, alg: str) -> None:
    text, service = _answer(world)
    before = world.snapshot()
    with pytest.raises(SignatureError, match="algorithm"):
        service.activate(_rewrap(dearmor(text, "LICENSE", "license"), alg=alg))
    assert world.snapshot() == before


def test_unknown_key_id_is_refused(world: World) -> None:
    text, service = _answer(world)
    before = world.snapshot()
    with pytest.raises(UntrustedKeyError, match="unknown key id"):
        service.activate(_rewrap(dearmor(text, "LICENSE", "license"), kid="issuer-0000000000000000"))
    assert world.snapshot() == before


def test_license_from_an_untrusted_vendor_is_refused(world: World) -> None:
    rogue = VendorKeyring.generate(world.tmp / "rogue", name="Rogue", now=T0 - DAY)
    rogue.seal(world.tmp / "tiny-plain", world.tmp / "rogue-sealed", model_id="tiny", now=T0)
    service = world.service()
    text = rogue.issue(service.request_activation(), customer="x", seats=1, days=30, models=["tiny"], now=T0)
    before = world.snapshot()
    with pytest.raises(UntrustedKeyError, match="does not trust"):
        service.activate(text)
    assert world.snapshot() == before


def test_issuer_key_used_outside_its_validity_is_refused(world: World) -> None:
    """A license re-signed (correctly) by the issuer but dated after the issuer certificate expired."""
    text, service = _answer(world)
    payload = dearmor(text, "LICENSE", "license").payload()
    payload["issued_at"] = payload["not_before"] = T0 + 10 * 365 * DAY
    resigned = sign_envelope(
        LICENSE_TYPE, payload, world.vendor.issuer_key, world.vendor.issuer_kid, (world.vendor.issuer_cert,)
    )
    before = world.snapshot()
    with pytest.raises(SignatureError, match="outside its issuer key's validity"):
        service.activate(armor("LICENSE", resigned))
    assert world.snapshot() == before


def test_expired_license_is_refused(world: World) -> None:
    text, service = _answer(world, now=T0 - 400 * DAY)
    before = world.snapshot()
    with pytest.raises(ValidityError, match="expired"):
        service.activate(text)
    assert world.snapshot() == before


def test_not_yet_valid_license_is_refused(world: World) -> None:
    text, service = _answer(world, now=T0 + 3 * DAY)
    before = world.snapshot()
    with pytest.raises(ValidityError, match="not valid before"):
        service.activate(text)
    assert world.snapshot() == before


def test_license_for_another_machine_is_refused_but_one_changed_part_is_tolerated(world: World) -> None:
    text, service = _answer(world)
    before = world.snapshot()
    for name in ("machine_id", "dmi_product_uuid", "dmi_board_serial"):
        world.machine[name] = "replaced"
    with pytest.raises(BindingError, match="2 of 5 hardware components match"):
        world.service().activate(text)
    assert world.snapshot() == before
    world.machine.update(
        {"dmi_product_uuid": "4c4c4544-0042-3510-8052-b4c04f4e3332", "dmi_board_serial": "BSN12345"}
    )
    world.service().activate(text)  # only the machine id differs now: 4 of 5 match
    assert world.service().status().state.value == "VALID"


def test_license_for_another_appliance_request_is_refused(world: World, tmp_path) -> None:
    other = World(tmp_path, world.vendor, world.trust, tmp_path / "other-home" / "license", world.clock)
    text, _ = _answer(other)
    world.service().request_activation()
    before = world.snapshot()
    with pytest.raises(BindingError, match="another appliance"):
        world.service().activate(text)
    assert world.snapshot() == before


def test_an_answer_cannot_be_activated_twice_after_deactivation(world: World) -> None:
    text, service = _answer(world)
    service.activate(text)
    world.service().deactivate()
    before = world.snapshot()
    with pytest.raises(BindingError, match="did not make or already used"):
        world.service().activate(text)
    assert world.snapshot() == before


def test_lease_issued_in_the_future_is_refused_at_activation(world: World) -> None:
    text, service = _answer(world)
    world.clock.now = T0 - 5 * 3600  # the machine's clock is hours behind the vendor's signature
    before = world.snapshot()
    with pytest.raises((ClockTamperError, ValidityError)):
        service.activate(text)
    assert world.snapshot() == before


def test_crash_mid_activation_is_repaired_on_next_open(world: World) -> None:
    text, service = _answer(world)
    store = service.store
    # Simulate a crash after the license was renamed into place but before the lease and the nonce cleanup,
    # with a half-written temp file left behind.
    store.write_license(text)
    (store.root / "lease.lease.abc.partial").write_bytes(b"half")
    reopened = world.service()
    assert any("first lease" in r for r in reopened.repaired)
    assert not list(store.root.glob("*.partial"))
    assert not list(store.pending_dir.glob("*.json"))
    assert reopened.status().state.value == "VALID"
