"""The supervisor's command lines (exact), GPU shares, and restarts of a real process that keeps dying."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from appliance.engines import VllmSettings
from appliance.engines.vllm_supervisor import VllmSupervisor, build_command, gpu_share
from appliance.errors import ConfigError


def test_default_command_is_vllm_serve_with_prefix_caching() -> None:
    settings = VllmSettings(
        executable="/opt/vllm/bin/vllm",
        model_dir=Path("/models/qwen"),
        tensor_parallel_size=2,
        gpu_memory_utilization=0.85,
        extra_args=["--max-model-len", "16384"],
    )
    assert build_command(settings, model_id="qwen-coder", replica=1, port=8101) == [
        "/opt/vllm/bin/vllm",
        "serve",
        "/models/qwen",
        "--host",
        "127.0.0.1",
        "--port",
        "8101",
        "--served-model-name",
        "qwen-coder",
        "--tensor-parallel-size",
        "2",
        "--gpu-memory-utilization",
        "0.85",
        "--enable-prefix-caching",
        "--max-model-len",
        "16384",
    ]


def test_sealed_weights_use_the_licensing_load_format() -> None:
    settings = VllmSettings(model_dir=Path("/sealed"), sealed=True, enable_prefix_caching=False)
    command = build_command(settings, model_id="m", replica=0, port=8100)
    assert command[-2:] == ["--load-format", "codemoat-sealed"]
    assert "--enable-prefix-caching" not in command


def test_custom_template_and_bad_fields() -> None:
    settings = VllmSettings(command=["{python}", "-m", "server", "--port={port}", "{replica}"], python="/py")
    assert build_command(settings, model_id="m", replica=3, port=9) == [
        "/py",
        "-m",
        "server",
        "--port=9",
        "3",
    ]
    with pytest.raises(ConfigError, match="unknown or malformed"):
        build_command(VllmSettings(command=["{nope}"]), model_id="m", replica=0, port=1)
    with pytest.raises(ConfigError, match="model_dir"):
        build_command(VllmSettings(), model_id="m", replica=0, port=1)


def test_gpus_are_shared_out_per_replica() -> None:
    settings = VllmSettings(replicas=2, tensor_parallel_size=2, gpu_ids=[0, 1, 2, 3])
    assert [gpu_share(settings, i) for i in (0, 1)] == ["0,1", "2,3"]
    with pytest.raises(ConfigError, match="needs 4 GPUs"):
        gpu_share(VllmSettings(replicas=2, tensor_parallel_size=2, gpu_ids=[0, 1]), 0)


async def test_a_crashing_process_is_restarted_with_backoff(tmp_path: Path) -> None:
    settings = VllmSettings(
        command=[sys.executable, "-c", "import sys; sys.exit(3)"],
        restart_backoff_s=0.05,
        restart_backoff_max_s=0.2,
        startup_timeout_s=30,
        log_dir=tmp_path,
        base_port=1,
    )
    supervisor = VllmSupervisor(settings, model_id="m", home=tmp_path)
    supervisor.start()
    try:
        assert await supervisor.wait_for(0, lambda r: r.restarts >= 3, timeout=60)
        assert supervisor.replicas[0].last_exit == 3
        assert supervisor.replicas[0].starts == 0
        assert not supervisor.replicas[0].ready.is_set()
    finally:
        await supervisor.aclose()
    assert (tmp_path / "vllm-replica-0.log").exists()


def test_replicas_that_systemd_supervises_are_routed_to_and_not_started(tmp_path: Path) -> None:
    from appliance.engines import EngineSettings, build_engine

    settings = EngineSettings(
        kind="vllm",
        vllm=VllmSettings(model_dir=tmp_path / "m", replicas=2, base_port=9100, supervised_by="systemd"),
    )
    engine = build_engine(settings, tmp_path)
    router = engine.inner
    assert [state.engine.url for state in router.upstreams] == [
        "http://127.0.0.1:9100",
        "http://127.0.0.1:9101",
    ]
    time.sleep(0.5)  # a supervisor would have begun its first start (and its log) by now
    assert not list(tmp_path.glob("logs/vllm-replica-*.log"))
