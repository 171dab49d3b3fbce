"""The gateway under a real license: a sealed copy of the bundled model, a real vendor, activation, seats,
expiry and renewal, seen through /readyz, the OpenAI SDK and the license headers of every /v1 response.

Nothing is faked but the clock and the machine fingerprint of the in-process test (so the lease can run out in
a test); the `codemoat serve` test uses the real machine and the real CLI end to end."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from appliance.audit.log import AuditLog
from appliance.auth.tokens import TokenStore
from appliance.license_gate import LicenseRuntime
from appliance.state.db import Database
from licensing.service import LicenseService
from licensing.vendor import VendorKeyring
from tests.appliance.api.conftest import (
    Gateway,
    free_port,
    gateway_settings,
    run_codemoat,
    running_gateway,
    start_serve,
    stop_serve,
    wait_for_output,
    wait_until_ready,
)
from tests.licensing.conftest import DAY, MACHINE, T0, Clock, make_tiny_model
from tests.licensing.model_cache import smollm2_fp32_dir

pytestmark = pytest.mark.slow

MODEL_ID = "smollm2-135m-instruct"
PROMPT = {"model": MODEL_ID, "prompt": "def add(a, b):\n    return", "max_tokens": 4, "temperature": 0}


@dataclass
class Site:
    vendor: VendorKeyring
    sealed: Path
    home: Path
    clock: Clock
    tokens: dict[str, str]

    def service(self) -> LicenseService:
        return LicenseService(
            self.home / "license",
            trust=self.vendor.trust(),
            clock=self.clock,
            fingerprint=lambda: dict(MACHINE),
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    base = tmp_path_factory.mktemp("licensed")
    vendor = VendorKeyring.generate(base / "vendor", name="Test Vendor", now=T0 - 800 * DAY, issuer_days=1600)
    vendor.seal(smollm2_fp32_dir(), base / "sealed", model_id=MODEL_ID, now=T0 - DAY)
    home = base / "home"
    database = Database.open(gateway_settings(home).state, home)
    store = TokenStore(database)
    tokens = {name: store.create(name, admin=name == "admin").token for name in ("admin", "ana", "bo", "cy")}
    database.close()
    return Site(vendor, base / "sealed", home, Clock(), tokens)


async def _readyz(
    gateway: Gateway, until: Callable[[httpx.Response], bool], timeout: float = 300
) -> httpx.Response:
    """Poll /readyz (the documented readiness signal: the engine loads in the background) until `until`."""
    async with gateway.client() as client:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            response = await client.get("/readyz")
            if until(response) or asyncio.get_running_loop().time() > deadline:
                return response
            await asyncio.sleep(0.2)


def _is_ready(response: httpx.Response) -> bool:
    return response.status_code == 200


def _engine_says(words: str) -> Callable[[httpx.Response], bool]:
    return lambda response: words in response.json()["checks"]["engine"]["detail"]


async def _complete(gateway: Gateway, token: str) -> httpx.Response:
    async with gateway.client(token) as client:
        return await client.post("/v1/completions", json=PROMPT)


async def test_sealed_model_serves_only_under_a_license_through_its_whole_life(site: Site) -> None:
    settings = gateway_settings(
        site.home,
        engine={"model_path": site.sealed, "model_id": MODEL_ID},
        license={"heartbeat_interval_s": 3600},
    )
    service = site.service()
    audit_db = Database.open(settings.state, site.home)
    runtime = LicenseRuntime.open(settings, service=service, audit=AuditLog(audit_db))
    assert runtime.enforced and "sealed" in (runtime.enforced_because or "")
    monitor = runtime.monitor
    assert monitor is not None
    async with running_gateway(settings, None, license_runtime=runtime) as gateway:  # type: ignore[arg-type]
        engine = gateway.services.engine.inner

        # No license: the sealed weights do not load, and every answer says why.
        ready = await _readyz(gateway, _engine_says("license"))
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert (
            checks["license"]["state"] == "STOPPED"
            and "no license is installed" in checks["license"]["detail"]
        )
        assert not checks["engine"]["ok"] and "license" in checks["engine"]["detail"]
        refused = await _complete(gateway, site.tokens["ana"])
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "license"
        assert "codemoat license request" in refused.json()["error"]["message"]
        assert refused.headers["X-CodeMoat-License-State"] == "STOPPED"
        assert engine.loads == 0

        # Activation (one seat) brings the model in without a restart.
        license_text = site.vendor.issue(
            service.request_activation(),
            customer="Example GmbH",
            seats=1,
            days=365,
            models=[MODEL_ID],
            now=site.clock.now,
        )
        service.activate(license_text)
        await asyncio.to_thread(gateway.services.gate.refresh)  # what the console does after an upload
        assert gateway.services.gate.serving_state().state == "VALID"
        assert (await _readyz(gateway, _is_ready)).status_code == 200
        assert engine.loads == 1 and engine.load_source == "sealed"
        sdk = openai.AsyncOpenAI(base_url=gateway.url + "/v1", api_key=site.tokens["ana"], max_retries=0)
        raw = await sdk.completions.with_raw_response.create(**PROMPT)
        assert raw.headers["X-CodeMoat-License-State"] == "VALID"
        assert "X-CodeMoat-License-Warning" not in raw.headers
        assert raw.parse().choices[0].text.strip()

        # A second user exceeds the one seat: RESTRICTED keeps the users in session, refuses new ones.
        assert (await _complete(gateway, site.tokens["bo"])).status_code == 200
        restricted = await asyncio.to_thread(monitor.check_now)
        assert restricted.state.value == "RESTRICTED" and "exceed the 1 licensed seats" in restricted.reason
        newcomer = await _complete(gateway, site.tokens["cy"])
        assert newcomer.status_code == 403 and newcomer.json()["error"]["code"] == "license_restricted"
        kept = await _complete(gateway, site.tokens["ana"])
        assert kept.status_code == 200
        assert kept.headers["X-CodeMoat-License-State"] == "RESTRICTED"
        assert "seats" in kept.headers["X-CodeMoat-License-Warning"]

        # The lease runs out and is not renewed: past grace and restriction the model is unloaded.
        site.clock.now += 60 * DAY  # the 30-day lease, 7 days of grace and 7 restricted are all over
        stopped = await asyncio.to_thread(monitor.check_now)
        assert stopped.state.value == "STOPPED"
        down = await _complete(gateway, site.tokens["ana"])
        assert down.status_code == 503 and down.json()["error"]["code"] == "license"
        async with gateway.client() as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert "unloaded" in ready.json()["checks"]["engine"]["detail"]

        # A renewal (new lease) brings the model back, no restart; the two users of the last hour still
        # exceed the single seat, so it comes back RESTRICTED, serving them.
        service.renew(site.vendor.lease(license_text, days=30, now=site.clock.now))
        renewed = await asyncio.to_thread(monitor.check_now)
        assert renewed.state.value == "RESTRICTED" and "seats" in renewed.reason
        assert (await _readyz(gateway, _is_ready)).status_code == 200
        assert engine.loads == 2
        assert (await _complete(gateway, site.tokens["ana"])).status_code == 200

    transitions = [
        (e.detail["previous"], e.detail["state"])
        for e in reversed(AuditLog(audit_db).entries(action="license.state"))
    ]
    assert transitions == [
        ("STOPPED", "VALID"),
        ("VALID", "RESTRICTED"),
        ("RESTRICTED", "STOPPED"),
        ("STOPPED", "RESTRICTED"),
    ]
    assert AuditLog(audit_db).verify().ok
    audit_db.close()


@pytest.fixture
def cli_site(tmp_path: Path) -> Iterator[Path]:
    """A vendor and a sealed delivery made with the vendor CLI; an appliance home that trusts the vendor."""
    home = tmp_path / "home"
    vendor = tmp_path / "vendor"
    for args in (
        ("vendor", "keygen", "--out", str(vendor), "--name", "Test Vendor", "--no-passphrase"),
        ("license", "trust", str(vendor / "root.json")),
        (
            "vendor",
            "seal",
            str(smollm2_fp32_dir()),
            "--vendor",
            str(vendor),
            "--model-id",
            MODEL_ID,
            "--out",
            str(tmp_path / "sealed"),
        ),
    ):
        done = run_codemoat(home, *args)
        assert done.returncode == 0, done.stderr
    yield tmp_path


def test_codemoat_serve_loads_a_sealed_model_once_the_license_is_activated(cli_site: Path) -> None:
    home, vendor, sealed = cli_site / "home", cli_site / "vendor", cli_site / "sealed"
    env = {
        "CODEMOAT_ENGINE__MODEL_PATH": str(sealed),
        "CODEMOAT_ENGINE__MODEL_ID": MODEL_ID,
        "CODEMOAT_LICENSE__HEARTBEAT_INTERVAL_S": "0.5",
    }
    created = run_codemoat(home, "token", "create", "dev", "--json")
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    served = start_serve(home, env=env, wait_ready=False)
    try:
        assert "License: STOPPED: no license is installed" in wait_for_output(served, "License: ")
        with httpx.Client(base_url=served.url, timeout=60) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert "no license is installed" in ready.json()["checks"]["license"]["detail"]
            refused = client.post(
                "/v1/completions", json=PROMPT, headers={"Authorization": f"Bearer {token}"}
            )
            assert refused.status_code == 503 and "license" in refused.json()["error"]["message"]

        for args in (
            ("license", "request", "--out", str(cli_site / "request.txt")),
            (
                "vendor",
                "issue",
                "--vendor",
                str(vendor),
                "--request",
                str(cli_site / "request.txt"),
                "--customer",
                "Example GmbH",
                "--seats",
                "5",
                "--days",
                "30",
                "--models",
                MODEL_ID,
                "--out",
                str(cli_site / "license.txt"),
            ),
            ("license", "activate", str(cli_site / "license.txt")),
        ):
            done = run_codemoat(home, *args)
            assert done.returncode == 0, done.stderr

        wait_until_ready(served, 300)  # the heartbeat sees the license and loads the model: no restart
        sdk = openai.OpenAI(base_url=served.url + "/v1", api_key=token, max_retries=0)
        raw = sdk.completions.with_raw_response.create(**PROMPT)
        assert raw.headers["X-CodeMoat-License-State"] == "VALID"
        assert raw.parse().choices[0].text.strip()
    finally:
        stop_serve(served)
    assert not any(p.suffix == ".safetensors" for p in home.rglob("*")), "plaintext weights written to disk"


def test_a_license_installed_while_an_open_model_serves_is_enforced_without_a_restart(tmp_path: Path) -> None:
    home, vendor = tmp_path / "home", tmp_path / "vendor"
    tiny = make_tiny_model(tmp_path / "tiny")
    for args in (
        ("vendor", "keygen", "--out", str(vendor), "--name", "Test Vendor", "--no-passphrase"),
        (
            "vendor",
            "seal",
            str(tiny),
            "--vendor",
            str(vendor),
            "--model-id",
            "tiny",
            "--out",
            str(tmp_path / "tiny-sealed"),
        ),
        ("license", "trust", str(vendor / "root.json")),
    ):
        assert run_codemoat(home, *args).returncode == 0
    token = json.loads(run_codemoat(home, "token", "create", "dev", "--json").stdout)["token"]
    no_model = {
        "CODEMOAT_ENGINE__KIND": "upstream",  # the license, not the model, is under test
        "CODEMOAT_ENGINE__UPSTREAM_URLS": json.dumps([f"http://127.0.0.1:{free_port()}"]),
        "CODEMOAT_LICENSE__HEARTBEAT_INTERVAL_S": "0.5",
    }
    served = start_serve(home, env=no_model, wait_ready=False)
    try:
        assert "License: UNLICENSED" in wait_for_output(served, "License: ")
        with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/v1/models").headers["X-CodeMoat-License-State"] == "UNLICENSED"
            for args in (
                ("license", "request", "--out", str(tmp_path / "request.txt")),
                (
                    "vendor",
                    "issue",
                    "--vendor",
                    str(vendor),
                    "--request",
                    str(tmp_path / "request.txt"),
                    "--customer",
                    "Example GmbH",
                    "--seats",
                    "5",
                    "--days",
                    "30",
                    "--models",
                    "tiny",
                    "--out",
                    str(tmp_path / "license.txt"),
                ),
                ("license", "activate", str(tmp_path / "license.txt")),
            ):
                done = run_codemoat(home, *args)
                assert done.returncode == 0, done.stderr
            deadline = time.monotonic() + 60
            state = "UNLICENSED"
            while state == "UNLICENSED" and time.monotonic() < deadline:  # the watcher looks every 0.5 s
                state = client.get("/v1/models").headers["X-CodeMoat-License-State"]
                time.sleep(0.1)
            assert state == "VALID"
            assert client.get("/readyz").json()["checks"]["license"]["state"] == "VALID"
    finally:
        stop_serve(served)
    listed = json.loads(run_codemoat(home, "audit", "list", "--json", "--action", "license.state").stdout)
    assert [(e["detail"]["previous"], e["detail"]["state"]) for e in listed] == [("UNLICENSED", "VALID")]
