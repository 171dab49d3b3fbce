"""The key hand-off to engine processes over a Unix socket, and the vLLM loader's parts that run without vLLM."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from licensing.errors import KeyServerError
from licensing.keyserver import KeyServer, fetch_model_key
from licensing.vllm_plugin import SOCKET_ENV, TOKEN_ENV, key_server_address, sealed_model_id, sealed_weights
from tests.licensing.conftest import DAY, T0, World


@pytest.fixture
def key_server(activated: World):
    # Unix socket paths are limited to ~107 bytes: keep it short.
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="cmks-"))
    with KeyServer(activated.service(), directory / "keys.sock") as server:
        yield server


def test_key_fetch_with_a_one_time_token(activated: World, key_server: KeyServer) -> None:
    token = key_server.grant("tiny")
    key, manifest = fetch_model_key(key_server.socket_path, token, "tiny")
    with activated.service().model_key("tiny") as expected:
        assert key == expected
    assert manifest == activated.service().open_sealed(activated.tmp / "tiny-sealed").manifest_sha256
    with pytest.raises(KeyServerError, match="unknown, used up or expired"):
        fetch_model_key(key_server.socket_path, token, "tiny")  # single use


def test_token_is_bound_to_its_model_and_count(activated: World, key_server: KeyServer) -> None:
    token = key_server.grant("tiny", uses=2)
    with pytest.raises(KeyServerError, match="unknown, used up or expired"):
        fetch_model_key(key_server.socket_path, token, "other")
    with pytest.raises(KeyServerError):
        fetch_model_key(key_server.socket_path, "guessed-token", "tiny")


def test_expired_token_is_refused(key_server: KeyServer) -> None:
    token = key_server.grant("tiny", ttl_s=-1)
    with pytest.raises(KeyServerError, match="expired"):
        fetch_model_key(key_server.socket_path, token, "tiny")


def test_key_is_refused_once_the_license_stops(activated: World, key_server: KeyServer) -> None:
    token = key_server.grant("tiny", uses=2)
    activated.clock.now = T0 + 90 * DAY
    with pytest.raises(KeyServerError, match="does not allow loading models"):
        fetch_model_key(key_server.socket_path, token, "tiny")


_RAW_CLIENT = """
import json, socket, sys
conn = socket.socket(socket.AF_UNIX)
conn.connect(sys.argv[1])
conn.sendall(json.dumps({"op": "model-key", "model_id": "tiny", "token": sys.argv[2]}).encode() + b"\\n")
print(conn.recv(4096).split(b"\\n")[0].decode())
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK),
    reason="needs root and a system python to run a client as another uid",
)
def test_peer_with_another_uid_is_refused(key_server: KeyServer) -> None:
    token = key_server.grant("tiny")
    os.chmod(key_server.socket_path.parent, 0o755)
    os.chmod(
        key_server.socket_path, 0o777
    )  # let the other user connect, so the uid check itself is exercised
    # A stdlib-only client run by the system python as `nobody` (the venv may not be readable by that user).
    result = subprocess.run(
        ["/usr/bin/python3", "-c", _RAW_CLIENT, str(key_server.socket_path), token],
        user=65534,
        capture_output=True,
        text=True,
        cwd="/",
        env={},
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer == {"ok": False, "error": "uid 65534 may not fetch model keys"}
    key, _ = fetch_model_key(key_server.socket_path, token, "tiny")  # the refused try did not use the token
    assert len(key) == 32


def test_no_key_server_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(KeyServerError, match="no key server listens"):
        fetch_model_key(tmp_path / "missing.sock", "t", "tiny")


def test_loader_address_comes_from_extra_config_or_environment() -> None:
    assert key_server_address({"codemoat_socket": "/s", "codemoat_token": "t"}, {}) == ("/s", "t")
    assert key_server_address({}, {SOCKET_ENV: "/e", TOKEN_ENV: "u"}) == ("/e", "u")
    with pytest.raises(KeyServerError, match="needs the appliance's key server"):
        key_server_address({}, {})
    with pytest.raises(KeyServerError, match="unknown model_loader_extra_config"):
        key_server_address({"codemoat_key": "x"}, {})


def test_vllm_loader_iterates_decrypted_tensors_fetched_over_the_socket(
    activated: World, key_server: KeyServer
) -> None:
    sealed_dir = activated.tmp / "tiny-sealed"
    assert sealed_model_id(sealed_dir) == "tiny"
    token = key_server.grant("tiny")
    weights = dict(sealed_weights(sealed_dir, str(key_server.socket_path), token))
    reference = load_file(activated.tmp / "tiny-plain" / "model.safetensors")
    assert weights.keys() == reference.keys()
    assert all(torch.equal(weights[name], tensor) for name, tensor in reference.items())


def test_vllm_loader_refuses_a_delivery_the_license_does_not_name(
    activated: World, key_server: KeyServer
) -> None:
    activated.vendor.seal(
        activated.tmp / "tiny-plain",
        activated.tmp / "tiny-resealed",
        model_id="tiny",
        now=activated.clock.now,
        chunk_size=8192,
    )
    token = key_server.grant("tiny")
    from licensing.errors import ModelError

    with pytest.raises(ModelError, match="not the delivery"):
        list(sealed_weights(activated.tmp / "tiny-resealed", str(key_server.socket_path), token))


def test_vllm_plugin_entry_point_is_declared() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entry = pyproject["project"]["entry-points"]["vllm.general_plugins"]["codemoat_sealed"]
    assert entry == "licensing.vllm_plugin:register"
    import licensing.vllm_plugin as plugin

    assert callable(plugin.register)


def test_loader_registers_with_the_real_vllm_when_installed(activated: World, tmp_path: Path) -> None:
    """Runs where vLLM is importable (the GPU hosts' environment); skipped in the appliance's CPU venv."""
    pytest.importorskip("vllm.model_executor.model_loader")
    from vllm.config.load import LoadConfig
    from vllm.model_executor.model_loader import get_model_loader
    from vllm.model_executor.model_loader.base_loader import BaseModelLoader

    from licensing import vllm_plugin

    vllm_plugin.register()
    config = LoadConfig(
        load_format="codemoat-sealed",
        model_loader_extra_config={"codemoat_socket": "/tmp/none.sock", "codemoat_token": "t"},
    )
    loader = get_model_loader(config)
    assert isinstance(loader, BaseModelLoader) and type(loader).__name__ == "CodemoatSealedLoader"

    class _ModelConfig:
        model = str(activated.tmp / "tiny-sealed")

    loader.download_model(_ModelConfig())  # a sealed directory: nothing to download, nothing raised
    _ModelConfig.model = str(tmp_path)
    with pytest.raises(Exception, match="not a sealed model"):
        loader.download_model(_ModelConfig())
