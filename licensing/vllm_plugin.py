"""vLLM model loader for sealed weights: `vllm serve MODEL_DIR --load-format codemoat-sealed`.

Installed into the vLLM environment with `pip install codemoat[licensing]`; vLLM calls `register()` through
the `vllm.general_plugins` entry point in every process that loads a model (the engine core and each worker),
and `register()` registers the loader with vLLM 0.33's `register_model_loader`.

The loader gets the model key from the appliance's `KeyServer` over a Unix socket. It learns where the socket
is and its one-time token from `--model-loader-extra-config '{"codemoat_socket": ..., "codemoat_token": ...}'`
or from `CODEMOAT_KEYSERVER_SOCKET` / `CODEMOAT_KEYSERVER_TOKEN`: a token is not a key (single use, short-lived,
bound to the model and to the appliance's uid). The key itself never travels through arguments, the
environment or files. Weights are decrypted file by file into memory and handed to `model.load_weights`,
which shards them for tensor parallelism as it does for plain safetensors.

Everything that does not need vLLM (`sealed_weights`) is importable and tested without it."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from licensing.armor import Envelope
from licensing.errors import KeyServerError, ModelError
from licensing.keyserver import fetch_model_key
from licensing.sealed.format import MANIFEST_NAME
from licensing.sealed.reader import SealedModel
from licensing.wrap import wipe

__all__ = [
    "LOAD_FORMAT",
    "SOCKET_ENV",
    "TOKEN_ENV",
    "register",
    "key_server_address",
    "sealed_model_id",
    "sealed_weights",
]

LOAD_FORMAT = "codemoat-sealed"
SOCKET_ENV = "CODEMOAT_KEYSERVER_SOCKET"
TOKEN_ENV = "CODEMOAT_KEYSERVER_TOKEN"
_EXTRA_KEYS = {"codemoat_socket", "codemoat_token", "threads"}


def key_server_address(
    extra_config: Mapping[str, Any] | None, environ: Mapping[str, str] = os.environ
) -> tuple[str, str]:
    """(socket path, token) from the loader's extra config, else from the environment."""
    extra = dict(extra_config or {})
    unknown = set(extra) - _EXTRA_KEYS
    if unknown:
        raise KeyServerError(f"unknown model_loader_extra_config keys for {LOAD_FORMAT}: {sorted(unknown)}")
    socket_path = extra.get("codemoat_socket") or environ.get(SOCKET_ENV)
    token = extra.get("codemoat_token") or environ.get(TOKEN_ENV)
    if not socket_path or not token:
        raise KeyServerError(
            f"the {LOAD_FORMAT} loader needs the appliance's key server: start vLLM through "
            f"`codemoat serve`, or pass codemoat_socket and codemoat_token in "
            "--model-loader-extra-config"
        )
    return str(socket_path), str(token)


def sealed_model_id(model_dir: Path) -> str:
    """The model id named by the manifest (read to know which key to ask for; verified later by hash)."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        raise ModelError(f"{model_dir} is not a sealed model (no {MANIFEST_NAME})")
    model_id = Envelope.from_json(path.read_bytes(), "sealed model manifest").payload().get("model_id")
    if not isinstance(model_id, str):
        raise ModelError(f"{path} names no model id")
    return model_id


def sealed_weights(
    model_dir: Path, socket_path: str, token: str, threads: int | None = None
) -> Iterator[tuple[str, Any]]:
    """(name, torch tensor) pairs of a sealed model, the key fetched from the appliance and wiped at the end.

    The appliance sends the manifest hash named by the license; the directory must match it, which pins every
    header and therefore every chunk."""
    from licensing.sealed.torch_loader import iter_sealed_tensors

    model_id = sealed_model_id(model_dir)
    key, manifest_sha256 = fetch_model_key(socket_path, token, model_id)
    try:
        if not manifest_sha256:
            raise KeyServerError("the key server did not say which delivery the license covers")
        sealed = SealedModel.open(Path(model_dir), None, expected_manifest_sha256=manifest_sha256)
        yield from iter_sealed_tensors(sealed, key, threads)
    finally:
        wipe(key)


def register() -> None:
    """The `vllm.general_plugins` hook: register the `codemoat-sealed` load format (idempotent)."""
    from vllm.model_executor.model_loader import register_model_loader
    from vllm.model_executor.model_loader.base_loader import BaseModelLoader

    @register_model_loader(LOAD_FORMAT)
    class CodemoatSealedLoader(BaseModelLoader):
        """Loads weights sealed by `codemoat vendor seal`; the key comes from the appliance's key server."""

        def __init__(self, load_config: Any) -> None:
            super().__init__(load_config)
            extra = getattr(load_config, "model_loader_extra_config", None) or {}
            self._socket, self._token = key_server_address(extra)
            self._threads = extra.get("threads")

        def download_model(self, model_config: Any) -> None:
            # Air-gapped: nothing is downloaded; fail early and clearly when the directory is not sealed.
            sealed_model_id(Path(model_config.model))

        def load_weights(self, model: Any, model_config: Any) -> None:
            weights = sealed_weights(Path(model_config.model), self._socket, self._token, self._threads)
            loaded = model.load_weights(weights)
            if loaded is not None and model_config.quantization is None:
                missing = {name for name, _ in model.named_parameters()} - set(loaded)
                if missing:
                    raise ModelError(
                        f"the sealed model lacks weights the architecture needs: {sorted(missing)[:5]}"
                    )

    return None
