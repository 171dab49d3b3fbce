"""Fixtures for the gateway tests: a data directory with two small indexed repositories and tokens, the real CPU
engine (its fp32 copy cached across sessions), an in-process gateway on a real socket (uvicorn), and a real
`codemoat serve` subprocess for the OpenAI SDK tests."""

from __future__ import annotations

import asyncio
import os

# Before anything loads torch: spinning OpenMP threads make the CPU model crawl on a busy shared host (see
# appliance/cli/serve.py, which sets the same for `codemoat serve`).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from appliance.api.app import create_app
from appliance.audit.log import Actor, AuditLog
from appliance.auth.tokens import TokenStore
from appliance.config import Settings, load_settings
from appliance.engines import BoundedEngine, EngineSettings
from appliance.engines.protocol import Engine
from appliance.engines.transformers_engine import TransformersEngine
from appliance.metrics import GatewayMetrics
from appliance.state.db import Database
from appliance.users.groups import Groups
from indexer.service import CodeIndex
from tests.conftest import FAST_ENGINE, VENV_BIN

SAMPLE_FILES = {
    "billing/invoice.py": '''"""Invoices: totals with tax, and their rendering."""

TAX_RATE = 0.2


def invoice_total(lines):
    """Sum of quantity times unit price over the invoice lines, tax included."""
    net = sum(line.quantity * line.unit_price for line in lines)
    return round(net * (1 + TAX_RATE), 2)


def render_invoice(customer, lines):
    total = invoice_total(lines)
    return f"Invoice for {customer}: {total:.2f} EUR"
''',
    "billing/customer.py": """from dataclasses import dataclass


@dataclass
class Customer:
    name: str
    email: str

    def greeting(self) -> str:
        return f"Dear {self.name},"
""",
}
SECRET_FILES = {
    "vault/keys.py": '''def rotate_master_key(vault):
    """Rotate the vault's master key and re-wrap every data key (SECRET-REPO-MARKER)."""
    new_key = vault.generate_key()
    for data_key in vault.data_keys():
        data_key.rewrap(new_key)
    vault.master_key = new_key
''',
}

# Small windows keep prefill short on a 2-core machine; the behaviour under test does not depend on them.
GATEWAY_ENV = {
    "CODEMOAT_GATEWAY__COMPLETION_CONTEXT_TOKENS": "512",
    "CODEMOAT_GATEWAY__CHAT_CONTEXT_TOKENS": "768",
}


def model_cache_dir() -> Path:
    """Where converted model copies are kept between test sessions (the first conversion takes ~15-30 s)."""
    root = Path(os.environ.get("CODEMOAT_TEST_CACHE") or Path.home() / ".cache" / "codemoat-tests")
    return root / "engine-cache"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@dataclass
class Home:
    path: Path
    admin_token: str
    user_token: str  # user "ops" (granted sample and secret), token narrowed to "sample"
    settings: Settings


def gateway_settings(home: Path, **overrides: Any) -> Settings:
    gateway = {"completion_context_tokens": 512, "chat_context_tokens": 768, **overrides.pop("gateway", {})}
    engine = {"cache_dir": model_cache_dir(), **overrides.pop("engine", {})}
    return load_settings(home=home, gateway=gateway, engine=engine, **overrides)


def build_home(base: Path) -> Home:
    """Two indexed repositories ("sample", "secret") and two tokens: an administrator's, and a user's whose
    group grants both repositories and whose token narrows that to "sample"."""
    home = base / "home"
    settings = gateway_settings(home)
    with CodeIndex.open(settings.indexer, home) as index:
        index.index(write_tree(base / "sample", SAMPLE_FILES), name="sample")
        index.index(write_tree(base / "secret", SECRET_FILES), name="secret")
    database = Database.open(settings.state, home)
    tokens = TokenStore(database)
    admin = tokens.create("admin", admin=True).token
    tokens.create("ops")
    # "dev" may read both repositories through its group; its token narrows that to "sample".
    Groups(database, AuditLog(database)).create(
        "devs", members=["ops"], repos=["sample", "secret"], actor=Actor("tests")
    )
    user = tokens.create("dev", user="ops", repos=["sample"]).token
    database.close()
    return Home(home, admin, user, settings)


@pytest.fixture(scope="session")
def gateway_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The data directory of the in-process gateways."""
    return build_home(tmp_path_factory.mktemp("gateway"))


@pytest.fixture(scope="session")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """The data directory of the `codemoat serve` process (its own: the index is locked to one process)."""
    return build_home(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="session")
def cpu_engine(gateway_home: Home) -> Iterator[TransformersEngine]:
    engine = TransformersEngine(EngineSettings(**FAST_ENGINE, cache_dir=model_cache_dir()), gateway_home.path)
    asyncio.run(engine.wait_until_ready(900))
    yield engine
    asyncio.run(engine.aclose())


@dataclass
class Gateway:
    url: str
    services: Any  # appliance.api.services.Services
    metrics: GatewayMetrics

    def client(self, token: str | None = None, *, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers={**auth, **(headers or {})}, timeout=300)


@asynccontextmanager
async def running_gateway(
    settings: Settings, engine: Engine, *, open_index: bool = True, **app_kwargs: Any
) -> AsyncIterator[Gateway]:
    """The app under uvicorn on a real socket, in the test's event loop."""
    metrics = GatewayMetrics()
    app = create_app(settings, engine=engine, metrics=metrics, open_index=open_index, **app_kwargs)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    started = asyncio.Event()
    original_startup = server.startup

    async def startup(sockets: Any = None) -> None:
        await original_startup(sockets)
        started.set()

    server.startup = startup  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # startup failed: raise its error
    try:
        yield Gateway(f"http://127.0.0.1:{port}", app.state.services, metrics)
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture(scope="session")
def code_index(gateway_home: Home) -> Iterator[CodeIndex]:
    """One index for every in-process gateway: Qdrant Edge locks its shard to one opener."""
    index = CodeIndex.open(gateway_home.settings.indexer, gateway_home.path)
    yield index
    index.close()


@pytest.fixture
def gateway_factory(
    gateway_home: Home, cpu_engine: TransformersEngine, code_index: CodeIndex
) -> Callable[..., Any]:
    """`async with gateway_factory(max_concurrent=..., max_queue=..., gateway={...}) as gw:` over the shared
    CPU model (a fresh queue bound per test: its asyncio primitives belong to the test's loop)."""

    def factory(
        *, max_concurrent: int = 4, max_queue: int = 8, engine: Engine | None = None, **overrides: Any
    ) -> Any:
        settings = gateway_settings(gateway_home.path, **overrides)
        wrapped = engine or BoundedEngine(cpu_engine, max_concurrent=max_concurrent, max_queue=max_queue)
        return running_gateway(settings, wrapped, index=code_index)

    return factory


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """One sample of a Prometheus text exposition (0.0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(sample.value)
    return 0.0


# -- a real `codemoat serve` process -----------------------------------------------------------------------


@dataclass
class Served:
    url: str
    process: subprocess.Popen[str]
    log: list[str]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_serve(
    home: Path,
    *args: str,
    env: dict[str, str] | None = None,
    wait_ready: bool = True,
    timeout: float = 400,
    access_log: bool = False,
) -> Served:
    """Start `codemoat serve --port 0` and return once it listens (and, with `wait_ready`, once /readyz is 200).
    The URL comes from the server's own "listening on" line."""
    environment = {
        **os.environ,
        "CODEMOAT_HOME": str(home),
        "CODEMOAT_ENGINE__CACHE_DIR": str(model_cache_dir()),
        "HF_HUB_OFFLINE": "1",
        **GATEWAY_ENV,
        **(env or {}),
    }
    process = subprocess.Popen(
        [
            str(VENV_BIN / "codemoat"),
            "serve",
            "--port",
            "0",
            "--access-log" if access_log else "--no-access-log",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=environment,
    )
    log: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if not url and "listening on " in line:
                url.append(line.split("listening on ", 1)[1].split()[0])
                found.set()
        found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(timeout) or not url:
        stop_serve(Served("", process, log))
        raise RuntimeError("codemoat serve did not start:\n" + "".join(log[-40:]))
    served = Served(url[0], process, log)
    if wait_ready:
        try:
            wait_until_ready(served, timeout)  # shorter than the test timeout, so that the log is shown
        except BaseException:
            stop_serve(served)
            raise
    return served


def wait_until_ready(served: Served, timeout: float) -> None:
    """Poll /readyz, the documented readiness signal, until it answers 200."""
    deadline = time.monotonic() + timeout
    last = ""
    with httpx.Client(base_url=served.url, timeout=30, verify=False) as client:
        while time.monotonic() < deadline:
            if served.process.poll() is not None:
                raise RuntimeError("codemoat serve exited:\n" + "".join(served.log[-40:]))
            response = client.get("/readyz")
            if response.status_code == 200:
                return
            last = response.text
            time.sleep(0.25)
    raise RuntimeError(f"codemoat serve did not become ready: {last}\n" + "".join(served.log[-40:]))


def wait_for_output(served: Served, text: str, timeout: float = 60) -> str:
    """The server's output once it contains `text` (it prints the banner right after it starts listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = "".join(served.log)
        if text in output:
            return output
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not in the output:\n" + "".join(served.log))


def stop_serve(served: Served) -> int:
    if served.process.poll() is None:
        served.process.terminate()
        try:
            served.process.wait(60)
        except subprocess.TimeoutExpired:
            served.process.kill()
            served.process.wait(10)
    return served.process.returncode


def run_codemoat(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "codemoat"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "CODEMOAT_HOME": str(home), **(env or {})},
    )


@pytest.fixture(scope="session")
def served(served_home: Home) -> Iterator[Served]:
    """`codemoat serve` on the CPU model, one request at a time and no queue (so 429 is easy to provoke)."""
    process = start_serve(
        served_home.path, env={"CODEMOAT_ENGINE__MAX_CONCURRENT": "1", "CODEMOAT_ENGINE__MAX_QUEUE": "0"}
    )
    yield process
    stop_serve(process)
