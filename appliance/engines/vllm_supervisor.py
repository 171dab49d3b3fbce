"""Starts and supervises `vllm serve` replicas on a GPU host, and hands their URLs to a RouterEngine.

Each replica runs in its own process group (vLLM forks tensor-parallel workers) with its share of the GPUs,
is polled on its health endpoint until it answers, restarted with exponential backoff when it exits or does
not become ready in time, and stopped with SIGTERM, then SIGKILL, on shutdown. The command line is a
template (settings.command) so the same supervisor runs any OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from appliance.engines.config import DEFAULT_VLLM_COMMAND, VllmSettings
from appliance.errors import ApplianceError, ConfigError

log = logging.getLogger(__name__)

READY_POLL_S = 0.25  # how often a starting replica's health endpoint is asked


@dataclass
class Replica:
    index: int
    port: int
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0  # successful starts (became ready); a restart bumps it
    restarts: int = 0
    last_exit: int | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)


def build_command(settings: VllmSettings, *, model_id: str, replica: int, port: int) -> list[str]:
    """The command line of one replica, from the template and settings."""
    if settings.command is None and settings.model_dir is None:
        raise ConfigError("engine.vllm.model_dir is required to start vLLM")
    fields = {
        "executable": settings.executable,
        "python": settings.python or "python",
        "model_dir": str(settings.model_dir or ""),
        "model_id": model_id,
        "host": settings.host,
        "port": str(port),
        "replica": str(replica),
        "tensor_parallel_size": str(settings.tensor_parallel_size),
        "gpu_memory_utilization": str(settings.gpu_memory_utilization),
    }
    try:
        if settings.command is not None:
            return [part.format_map(fields) for part in settings.command] + list(settings.extra_args)
        command = [part.format_map(fields) for part in DEFAULT_VLLM_COMMAND]
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"engine.vllm.command has an unknown or malformed field: {exc}") from None
    if settings.enable_prefix_caching:
        command.append("--enable-prefix-caching")
    if settings.sealed:
        command += ["--load-format", settings.load_format]
    return command + list(settings.extra_args)


def gpu_share(settings: VllmSettings, replica: int) -> str | None:
    """CUDA_VISIBLE_DEVICES for a replica: tensor_parallel_size consecutive GPUs of gpu_ids."""
    if settings.gpu_ids is None:
        return None
    size = settings.tensor_parallel_size
    needed = size * settings.replicas
    if len(settings.gpu_ids) < needed:
        raise ConfigError(
            f"engine.vllm needs {needed} GPUs ({settings.replicas} replicas x tensor parallel {size}) "
            f"but gpu_ids lists {len(settings.gpu_ids)}"
        )
    return ",".join(str(g) for g in settings.gpu_ids[replica * size : (replica + 1) * size])


def replica_urls(settings: VllmSettings) -> list[str]:
    return [f"http://{settings.host}:{settings.base_port + index}" for index in range(settings.replicas)]


KeyEnv = Callable[[str, int], dict[str, str]]


class VllmSupervisor:
    """`key_env(model_id, uses)`, for sealed weights: the environment that lets one start's workers fetch the
    model key (the licensing key server's socket and a fresh one-time token), asked again at every start."""

    def __init__(
        self, settings: VllmSettings, *, model_id: str, home: Path, key_env: KeyEnv | None = None
    ) -> None:
        self.settings = settings
        self.model_id = model_id
        if settings.sealed and key_env is None:
            raise ConfigError("engine.vllm.sealed needs the license runtime to hand out model keys")
        self._key_env = key_env if settings.sealed else None
        self.suspended: str | None = None  # why the replicas were stopped by the license, if they were
        log_dir = settings.log_dir or home / "logs"
        self.replicas: list[Replica] = []
        for index in range(settings.replicas):
            port = settings.base_port + index
            env = {**os.environ, **settings.env}
            share = gpu_share(settings, index)
            if share is not None:
                env["CUDA_VISIBLE_DEVICES"] = share
            self.replicas.append(
                Replica(
                    index=index,
                    port=port,
                    command=build_command(settings, model_id=model_id, replica=index, port=port),
                    env=env,
                    log_path=log_dir / f"vllm-replica-{index}.log",
                )
            )
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def urls(self) -> list[str]:
        return replica_urls(self.settings)

    def start(self) -> None:
        if self._threads:
            return
        for replica in self.replicas:
            replica.log_path.parent.mkdir(parents=True, exist_ok=True)
            thread = threading.Thread(
                target=self._supervise, args=(replica,), name=f"vllm-{replica.index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    async def wait_until_ready(self, timeout: float) -> bool:
        """True once every replica answers its health check."""
        deadline = time.monotonic() + timeout
        for replica in self.replicas:
            left = max(0.0, deadline - time.monotonic())
            if not await asyncio.to_thread(replica.ready.wait, left):
                return False
        return True

    async def wait_for_start(self, index: int, *, after: int, timeout: float) -> bool:
        """True once replica `index` has become ready more than `after` times (i.e. it was restarted)."""
        return await self.wait_for(index, lambda replica: replica.starts > after, timeout)

    async def wait_for(self, index: int, predicate: Callable[[Replica], bool], timeout: float) -> bool:
        """Wait until `predicate(replica)` holds; it is re-checked whenever the replica starts or exits."""
        replica = self.replicas[index]

        def wait() -> bool:
            with replica.changed:
                return replica.changed.wait_for(lambda: predicate(replica), timeout)

        return await asyncio.to_thread(wait)

    def pids(self) -> list[int | None]:
        return [r.process.pid if r.process is not None else None for r in self.replicas]

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    def suspend(self, reason: str) -> None:
        """Stop every replica (their weights and keys go with their processes) until `resume`."""
        self.suspended = reason
        log.warning("stopping vLLM replicas: %s", reason)
        self.stop()

    def resume(self) -> None:
        if self.suspended is None:
            return
        self.suspended = None
        self._stopping.clear()
        self._threads = []
        self.start()

    def stop(self) -> None:
        self._stopping.set()
        for replica in self.replicas:
            with replica.changed:
                replica.changed.notify_all()
            if replica.process is not None:
                _terminate(replica.process, self.settings.stop_timeout_s)
        for thread in self._threads:
            thread.join(self.settings.stop_timeout_s + 5)

    # -- one replica's life ------------------------------------------------------------------------------

    def _supervise(self, replica: Replica) -> None:
        backoff = self.settings.restart_backoff_s
        while not self._stopping.is_set():
            try:
                env = self._start_env(replica)
            except ApplianceError as exc:
                log.error("replica %d cannot start: %s", replica.index, exc)
                if self._stopping.wait(backoff):
                    return
                backoff = min(backoff * 2, self.settings.restart_backoff_max_s)
                continue
            with replica.log_path.open("ab") as output:
                process = subprocess.Popen(
                    replica.command,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            replica.process = process
            log.info("replica %d started (pid %d): %s", replica.index, process.pid, " ".join(replica.command))
            if self._stopping.is_set():  # stop() ran while we were starting: it may have missed this one
                _terminate(process, self.settings.stop_timeout_s)
                return
            became_ready = self._await_ready(replica, process)
            if became_ready:
                ready_since = time.monotonic()
                process.wait()
                if time.monotonic() - ready_since > 60:
                    backoff = self.settings.restart_backoff_s
            else:
                _terminate(process, self.settings.stop_timeout_s)
            with replica.changed:
                replica.ready.clear()
                replica.last_exit = process.returncode
                if not self._stopping.is_set():
                    replica.restarts += 1
                replica.changed.notify_all()
            if self._stopping.is_set():
                return
            log.warning(
                "replica %d exited (status %s); restarting in %.1f s (log: %s)",
                replica.index,
                process.returncode,
                backoff,
                replica.log_path,
            )
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.settings.restart_backoff_max_s)

    def _start_env(self, replica: Replica) -> dict[str, str]:
        if self._key_env is None:
            return replica.env
        # One key fetch per tensor-parallel worker; the token is useless after this start.
        return {**replica.env, **self._key_env(self.model_id, self.settings.tensor_parallel_size)}

    def _await_ready(self, replica: Replica, process: subprocess.Popen[bytes]) -> bool:
        url = f"http://{self.settings.host}:{replica.port}{self.settings.health_path}"
        deadline = time.monotonic() + self.settings.startup_timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline and process.poll() is None and not self._stopping.is_set():
                try:
                    if client.get(url).status_code == 200:
                        with replica.changed:
                            replica.starts += 1
                            replica.ready.set()
                            replica.changed.notify_all()
                        log.info("replica %d ready at %s", replica.index, url)
                        return True
                except httpx.HTTPError:
                    pass
                self._stopping.wait(READY_POLL_S)
        if process.poll() is None and not self._stopping.is_set():
            log.error(
                "replica %d not ready after %.0f s; killing it",
                replica.index,
                self.settings.startup_timeout_s,
            )
        return False


def _terminate(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the replica's whole process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
