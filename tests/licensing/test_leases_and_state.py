"""Leases, the clock, seats and the state machine through the public API (LicenseService, HeartbeatMonitor)."""

from __future__ import annotations

import pytest

from licensing.errors import BindingError, ClockTamperError, StateError, ValidityError
from licensing.heartbeat import ActiveUsers, HeartbeatMonitor
from licensing.state import LicenseState
from tests.licensing.conftest import DAY, T0, World


def _license_text(world: World) -> str:
    return world.service().store.license_text()


def test_renewal_with_a_newer_lease_is_applied(activated: World) -> None:
    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + DAY)
    activated.clock.now = T0 + DAY + 60
    applied = activated.service().renew(lease)
    assert applied.sequence == 2
    status = activated.service().status()
    assert status.state is LicenseState.VALID and status.lease_sequence == 2


def test_replayed_or_older_lease_is_refused(activated: World) -> None:
    text = _license_text(activated)
    second = activated.vendor.lease(text, days=30, now=T0 + 10)
    third = activated.vendor.lease(text, days=30, now=T0 + 20)
    activated.clock.now = T0 + 30
    activated.service().renew(third)
    before = activated.snapshot()
    with pytest.raises(ValidityError, match="not newer"):
        activated.service().renew(third)
    with pytest.raises(ValidityError, match="cannot be replayed"):
        activated.service().renew(second)
    assert activated.snapshot() == before


def test_lease_from_the_future_is_refused(activated: World) -> None:
    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + 2 * DAY)
    before = activated.snapshot()
    with pytest.raises(ClockTamperError, match="in the future"):
        activated.service().renew(lease)
    assert activated.snapshot() == before


def test_revoked_license_is_refused(activated: World) -> None:
    license_id = activated.service().status().license_id
    activated.vendor.revoke(license_id)
    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + 10)
    activated.clock.now = T0 + 20
    before = activated.snapshot()
    with pytest.raises(ValidityError, match="revoked"):
        activated.service().renew(lease)
    assert activated.snapshot() == before


def test_lease_for_another_license_is_refused(activated: World, tmp_path) -> None:
    other = World(tmp_path, activated.vendor, activated.trust, tmp_path / "b" / "license", activated.clock)
    other_text = other.activate()
    lease = activated.vendor.lease(other_text, days=30, now=T0 + 10)
    activated.clock.now = T0 + 20
    before = activated.snapshot()
    with pytest.raises(BindingError, match="is for license"):
        activated.service().renew(lease)
    assert activated.snapshot() == before


def test_clock_moved_back_stops_service_and_refuses_renewal(activated: World) -> None:
    activated.clock.now = T0 + 5 * DAY
    assert activated.service().status(record=True).state is LicenseState.VALID  # high-water mark now T0+5d
    activated.clock.now = T0 + 2 * DAY
    status = activated.service().status()
    assert (
        status.state is LicenseState.STOPPED
        and "behind a time this appliance has already seen" in status.reason
    )
    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + DAY)
    before = activated.snapshot()
    with pytest.raises(ClockTamperError):
        activated.service().renew(lease)
    assert activated.snapshot() == before


def test_clock_record_tampering_and_repair(activated: World) -> None:
    service = activated.service()
    service.status(record=True)
    first, second = service.store.clock_paths
    second.unlink()
    service.status(record=True)  # the missing copy is rewritten from the other
    assert second.is_file()
    first.write_bytes(first.read_bytes().replace(b'"sig":"', b'"sig":"AA'))
    status = activated.service().status()
    assert status.state is LicenseState.STOPPED and "clock record" in status.reason


def test_deleting_clock_records_cannot_go_back_past_signed_times(activated: World) -> None:
    for path in activated.service().store.clock_paths:
        path.unlink()
    activated.clock.now = T0 - 3 * 3600  # before the license and lease were signed
    status = activated.service().status()
    assert status.state is LicenseState.STOPPED
    assert "behind" in status.reason or "future" in status.reason


def test_state_walks_valid_grace_restricted_stopped_and_renewal_returns_to_valid(activated: World) -> None:
    changes: list[tuple[str, str | None]] = []
    monitor = HeartbeatMonitor(
        activated.service(),
        gpus_in_use=lambda: 0,
        on_change=lambda new, old: changes.append((new.state.value, old.state.value if old else None)),
    )
    lease_end = T0 + 30 * DAY
    expected = [
        (T0 + DAY, "VALID"),
        (lease_end + DAY, "GRACE"),
        (lease_end + 8 * DAY, "RESTRICTED"),
        (lease_end + 15 * DAY, "STOPPED"),
    ]
    for moment, state in expected:
        activated.clock.now = moment
        status = monitor.check_now()
        assert status.state.value == state, status.reason
    assert "renew" in status.reason
    grace = activated.service().status()
    assert grace.state is LicenseState.STOPPED and not grace.state.serves
    # Renew on the running appliance: the same monitor returns to VALID without restarting anything.
    lease = activated.vendor.lease(_license_text(activated), days=30, now=lease_end + 15 * DAY)
    activated.clock.now = lease_end + 15 * DAY + 60
    activated.service().renew(lease)
    assert monitor.check_now().state is LicenseState.VALID
    assert changes == [
        ("VALID", None),
        ("GRACE", "VALID"),
        ("RESTRICTED", "GRACE"),
        ("STOPPED", "RESTRICTED"),
        ("VALID", "STOPPED"),
    ]


def test_grace_warns_and_renewal_from_grace_returns_to_valid(activated: World) -> None:
    activated.clock.now = T0 + 31 * DAY
    status = activated.service().status()
    assert status.state is LicenseState.GRACE and status.warnings and status.state.accepts_new_sessions
    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + 31 * DAY)
    activated.service().renew(lease)
    assert activated.service().status().state is LicenseState.VALID


def test_seats_exceeded_restricts_new_sessions(activated: World) -> None:
    users_clock = [0.0]
    users = ActiveUsers(window_s=3600, clock=lambda: users_clock[0])
    monitor = HeartbeatMonitor(activated.service(), active_users=users.count, gpus_in_use=lambda: 0)
    for name in ("ana", "bo", "cy"):
        users.touch(name)
    assert monitor.check_now().state is LicenseState.VALID
    users.touch("dee")
    status = monitor.check_now()
    assert (
        status.state is LicenseState.RESTRICTED
        and "4 active users exceed the 3 licensed seats" in status.reason
    )
    assert not status.state.accepts_new_sessions and status.state.serves
    assert activated.service().status().seats_in_use == 4  # recorded for `codemoat license status`
    users_clock[0] = 7200.0  # everyone idle past the window
    users.touch("ana")
    assert monitor.check_now().state is LicenseState.VALID


def test_too_many_gpus_restricts(activated: World) -> None:
    status = activated.service().status(gpus_in_use=9)
    assert status.state is LicenseState.RESTRICTED and "9 GPUs" in status.reason


def test_machine_change_after_activation(activated: World) -> None:
    activated.machine["dmi_board_serial"] = "NEW-BOARD"  # one part replaced: still bound
    assert activated.service().status().state is LicenseState.VALID
    activated.machine.update({"machine_id": "other", "dmi_product_uuid": "other"})  # most changed: refused
    status = activated.service().status()
    assert status.state is LicenseState.STOPPED and "another machine" in status.reason


def test_stopped_license_refuses_model_keys(activated: World) -> None:
    activated.clock.now = T0 + 60 * DAY
    with pytest.raises(StateError, match="does not allow loading models"):
        with activated.service().model_key("tiny"):
            pass


def test_heartbeat_thread_runs_periodic_checks(activated: World) -> None:
    import threading

    seen = threading.Event()
    checks: list[str] = []

    class Counting(HeartbeatMonitor):
        def check_now(self):
            status = super().check_now()
            checks.append(status.state.value)
            if len(checks) >= 3:
                seen.set()
            return status

    monitor = Counting(activated.service(), interval_s=0.01, gpus_in_use=lambda: 0)
    monitor.start()
    try:
        assert seen.wait(10)
    finally:
        monitor.stop()
    assert set(checks) == {"VALID"} and monitor.current.state is LicenseState.VALID


@pytest.mark.parametrize(
    "field", ["license_id", "device_kid", "sequence", "issued_at", "expires_at", "revoked"]
)
def test_flipped_bit_in_each_lease_field_is_refused(activated: World, field: str) -> None:
    import base64
    import json

    from licensing.armor import dearmor
    from licensing.encoding import b64e
    from licensing.errors import SignatureError

    lease = activated.vendor.lease(_license_text(activated), days=30, now=T0 + 10)
    envelope = dearmor(lease, "LEASE", "lease")
    payload = bytearray(envelope.payload_bytes())
    marker = json.dumps(field).encode() + b":"
    payload[payload.index(marker) + len(marker) + 1] ^= 0x01
    data = envelope.to_dict()
    data["payload"] = b64e(bytes(payload))
    tampered = (
        "-----BEGIN CODEMOAT LEASE-----\n"
        + base64.b64encode(json.dumps(data).encode()).decode()
        + "\n-----END CODEMOAT LEASE-----\n"
    )
    activated.clock.now = T0 + 20
    before = activated.snapshot()
    with pytest.raises(SignatureError, match="signature does not verify"):
        activated.service().renew(tampered)
    assert activated.snapshot() == before
