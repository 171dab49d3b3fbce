"""The gateway's hooks (LicenseGate) and automatic renewal through a license relay (real HTTP on loopback)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from licensing.armor import armor, dearmor, sign_envelope
from licensing.errors import StateError
from licensing.gate import STATE_HEADER, WARNING_HEADER, LicenseDenied, LicenseGate
from licensing.heartbeat import ActiveUsers, HeartbeatMonitor
from licensing.relay import HttpLeaseRelay, renewal_request
from licensing.state import LicenseState
from tests.licensing.conftest import DAY, T0, World


def _gate(world: World, users: ActiveUsers | None = None) -> LicenseGate:
    users = users or ActiveUsers(window_s=3600)
    monitor = HeartbeatMonitor(world.service(), active_users=users.count, gpus_in_use=lambda: 0)
    return LicenseGate(monitor, users)


def test_gate_admits_while_valid(activated: World) -> None:
    gate = _gate(activated)
    assert gate.admit("ana").state is LicenseState.VALID
    assert gate.headers() == {STATE_HEADER: "VALID"}


def test_gate_in_grace_warns_in_every_response(activated: World) -> None:
    gate = _gate(activated)
    activated.clock.now = T0 + 31 * DAY
    gate.monitor.check_now()
    gate.admit("ana")
    headers = gate.headers()
    assert headers[STATE_HEADER] == "GRACE" and "grace period" in headers[WARNING_HEADER]


def test_gate_restricted_keeps_active_users_and_refuses_new_ones(activated: World) -> None:
    users = ActiveUsers(window_s=3600)
    gate = _gate(activated, users)
    gate.admit("ana")
    activated.clock.now = T0 + 40 * DAY  # past grace: RESTRICTED
    gate.monitor.check_now()
    assert gate.admit("ana").state is LicenseState.RESTRICTED
    with pytest.raises(LicenseDenied, match="no new sessions") as denied:
        gate.admit("newcomer")
    assert not denied.value.stopped and denied.value.status.state is LicenseState.RESTRICTED


def test_gate_stopped_refuses_everyone(activated: World) -> None:
    gate = _gate(activated)
    activated.clock.now = T0 + 90 * DAY
    gate.monitor.check_now()
    with pytest.raises(LicenseDenied, match="stopped service") as denied:
        gate.admit("ana")
    assert denied.value.stopped and denied.value.status.state is LicenseState.STOPPED


class _VendorRelay(BaseHTTPRequestHandler):
    vendor = None
    now = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        lease = self.vendor.answer_renewal(body["renewal_request"], now=self.now)
        if lease is None:
            self.send_response(204)
            self.end_headers()
            return
        data = lease.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def relay_url(activated: World):
    handler = type("Relay", (_VendorRelay,), {"vendor": activated.vendor, "now": T0 + 25 * DAY})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/renew"
    server.shutdown()
    server.server_close()
    thread.join()


def test_heartbeat_renews_through_a_relay_before_the_lease_ends(activated: World, relay_url: str) -> None:
    monitor = HeartbeatMonitor(activated.service(), gpus_in_use=lambda: 0, relay=HttpLeaseRelay(relay_url))
    activated.clock.now = T0 + 10 * DAY  # 20 days left: no renewal yet
    assert monitor.check_now().lease_sequence == 1
    activated.clock.now = T0 + 25 * DAY + 60  # 5 days left: renews
    status = monitor.check_now()
    assert status.state is LicenseState.VALID and status.lease_sequence == 2
    assert status.lease_expires_at == T0 + 55 * DAY


def test_relay_refuses_requests_not_signed_by_the_licensed_device(activated: World, tmp_path) -> None:
    other = World(tmp_path, activated.vendor, activated.trust, tmp_path / "b" / "license", activated.clock)
    other.activate()
    genuine = renewal_request(other.service())
    assert activated.vendor.answer_renewal(genuine, now=T0) is not None  # the other device renews its own
    # The other device asks for a lease for *our* license, signing with its own key.
    envelope = dearmor(genuine, "RENEWAL REQUEST", "renewal request")
    payload = envelope.payload()
    payload["license_id"] = activated.service().status().license_id
    identity = other.service().keys.load()
    forged = armor(
        "RENEWAL REQUEST", sign_envelope(envelope.type, payload, identity.signing_key, identity.kid)
    )
    with pytest.raises(StateError, match="not signed by the licensed device"):
        activated.vendor.answer_renewal(forged, now=T0)


def test_unreachable_relay_leaves_state_to_the_lease(activated: World) -> None:
    monitor = HeartbeatMonitor(
        activated.service(),
        gpus_in_use=lambda: 0,
        relay=HttpLeaseRelay("http://127.0.0.1:9/renew", timeout_s=2),
    )
    activated.clock.now = T0 + 29 * DAY
    status = monitor.check_now()
    assert status.state is LicenseState.VALID and status.lease_sequence == 1
