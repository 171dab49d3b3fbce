"""Sealed weights for supervised vLLM replicas: each start gets a fresh one-time token for the appliance's key
server (never the key), a STOPPED license stops the replicas and drops the grants, a renewal starts them
again. The replica is `sealed_replica.py`, which loads the weights with the vLLM loader's own code."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from appliance.config import load_settings
from appliance.engines.vllm_supervisor import VllmSupervisor
from appliance.license_gate import LicenseRuntime
from licensing.vendor import VendorKeyring
from tests.licensing.conftest import DAY, T0, Clock, World, make_tiny_model

REPLICA = Path(__file__).with_name("sealed_replica.py")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _world(tmp_path: Path) -> World:
    vendor = VendorKeyring.generate(
        tmp_path / "vendor", name="Test Vendor", now=T0 - 800 * DAY, issuer_days=1600
    )
    vendor.seal(
        make_tiny_model(tmp_path / "plain"),
        tmp_path / "sealed",
        model_id="tiny",
        now=T0 - DAY,
        chunk_size=16384,
    )
    return World(tmp_path, vendor, vendor.trust(), tmp_path / "home" / "license", Clock())


async def test_replicas_fetch_keys_per_start_and_stop_with_the_license(tmp_path: Path) -> None:
    world = _world(tmp_path)
    license_text = world.activate(models=("tiny",))
    settings = load_settings(
        home=tmp_path / "home",
        engine={
            "kind": "vllm",
            "model_id": "tiny",
            "vllm": {
                "sealed": True,
                "model_dir": tmp_path / "sealed",
                "base_port": _free_port(),
                "command": [sys.executable, str(REPLICA), "{model_dir}", "{port}"],
                "startup_timeout_s": 120,
                "restart_backoff_s": 0.1,
                "log_dir": tmp_path / "logs",
            },
        },
        license={"keyserver_socket": tmp_path / "keys" / "ks.sock", "heartbeat_interval_s": 3600},
    )
    service = world.service()
    runtime = LicenseRuntime.open(settings, service=service)
    assert runtime.enforced
    supervisor = VllmSupervisor(
        settings.engine.vllm, model_id="tiny", home=settings.home, key_env=runtime.key_env
    )
    assert runtime.monitor is not None
    runtime.start([supervisor])
    supervisor.start()
    log = tmp_path / "logs" / "vllm-replica-0.log"
    try:
        assert await supervisor.wait_until_ready(120), log.read_text()
        from safetensors.torch import load_file

        plain_numbers = sum(t.numel() for t in load_file(tmp_path / "plain" / "model.safetensors").values())
        assert f"loaded {plain_numbers} weights" in log.read_text()
        assert "token reused: refused" in log.read_text()
        command = " ".join(supervisor.replicas[0].command)
        assert "CODEMOAT" not in command and "--load-format" not in command  # custom template: as given
        environment_keys = {k for k in supervisor.replicas[0].env if k.startswith("CODEMOAT_KEYSERVER")}
        assert environment_keys == set(), (
            "a token belongs to one start, not to the replica's fixed environment"
        )

        world.clock.now += 60 * DAY
        assert runtime.monitor.check_now().state.value == "STOPPED"
        assert supervisor.suspended is not None and "STOPPED" in supervisor.suspended
        assert (
            supervisor.replicas[0].process is not None and supervisor.replicas[0].process.poll() is not None
        )
        assert not supervisor.replicas[0].ready.is_set()

        service.renew(world.vendor.lease(license_text, days=30, now=world.clock.now))
        assert runtime.monitor.check_now().state.value == "VALID"
        assert await supervisor.wait_for_start(0, after=1, timeout=120), log.read_text()
        assert log.read_text().count("token reused: refused") == 2
    finally:
        await supervisor.aclose()
        runtime.close()
    assert not (tmp_path / "keys" / "ks.sock").exists()
