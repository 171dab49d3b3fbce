"""Finding the code model on disk, and loading it with transformers, offline.

A bundled model is a GGUF file from installed packages, checked against its pinned hash (appliance.engines.
bundled). transformers de-quantizes a GGUF in ~15-25 s (SmolLM2), so the first load saves an fp32 copy under
the data directory (written to a temporary directory, then renamed: a crash never leaves a half copy) and later
starts load that copy in well under a second."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from appliance.engines.bundled import bundled_model, resolve_bundled
from appliance.engines.config import EngineSettings
from appliance.engines.errors import ModelFilesError
from licensing.sealed.reader import is_sealed_model

LoadSource = Literal["directory", "sealed", "gguf-converted", "gguf-cache"]
SealedLoader = Callable[[Path], Any]  # a sealed directory -> a transformers model decrypted in memory


@dataclass
class LoadedModel:
    model: Any  # transformers PreTrainedModel, in eval mode
    tokenizer: Any  # transformers tokenizer
    source: LoadSource
    directory: Path  # the directory the weights were read from (the cache, for a GGUF)
    seconds: float


def gguf_file(settings: EngineSettings, home: Path) -> Path:
    """The GGUF file a llama.cpp role serves: `model_path`, or the bundled model, verified (and assembled)."""
    if settings.model_path is None:
        return resolve_bundled(bundled_model(settings.model), settings.model_cache_dir(home))
    path = Path(settings.model_path).expanduser()
    if is_sealed_model(path):
        raise ModelFilesError(
            f"{path} holds sealed weights, which llama.cpp cannot read (the transformers engine does)"
        )
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            raise ModelFilesError(f'{path} must hold exactly one .gguf file for engine.kind = "llama_cpp"')
        path = found[0]
    if not path.is_file():
        raise ModelFilesError(f"model path {path} does not exist")
    if path.suffix != ".gguf":
        raise ModelFilesError(f"model path {path} is not a .gguf file (llama.cpp reads GGUF only)")
    return path


def cache_dir_for(gguf: Path, cache_root: Path) -> Path:
    """One cache entry per GGUF file content (name, size, mtime): a replaced file is converted again."""
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    return cache_root / f"{gguf.stem}-fp32-{key}"


def load_model(
    settings: EngineSettings, home: Path, sealed_loader: SealedLoader | None = None
) -> LoadedModel:
    """Load a transformers model directory, a sealed delivery (decrypted in memory by `sealed_loader`, which
    checks the license), or a GGUF file (the bundled model's by default) through its fp32 cache (converting
    on first use)."""
    _go_offline()
    started = time.perf_counter()
    cache_root = settings.model_cache_dir(home)
    if settings.model_path is None:
        path = resolve_bundled(bundled_model(settings.model), cache_root)
    else:
        path = Path(settings.model_path).expanduser()
    if is_sealed_model(path):
        if sealed_loader is None:
            raise ModelFilesError(f"{path} holds sealed weights: they load only under a license")
        model = sealed_loader(path)
        tokenizer = _load_tokenizer(path)  # config and tokenizer files travel in plain
        return LoadedModel(model.eval(), tokenizer, "sealed", path, time.perf_counter() - started)
    if path.is_dir():
        model, tokenizer = _load_directory(path)
        return LoadedModel(model, tokenizer, "directory", path, time.perf_counter() - started)
    if not path.is_file():
        raise ModelFilesError(f"model path {path} does not exist")
    if path.suffix != ".gguf":
        raise ModelFilesError(f"model path {path} is neither a transformers directory nor a .gguf file")
    cached = cache_dir_for(path, cache_root)
    if cached.is_dir():
        model, tokenizer = _load_directory(cached)
        return LoadedModel(model, tokenizer, "gguf-cache", cached, time.perf_counter() - started)
    model, tokenizer = _convert_gguf(path, cached)
    return LoadedModel(model, tokenizer, "gguf-converted", cached, time.perf_counter() - started)


def _go_offline() -> None:
    # huggingface_hub reads this when first imported; local_files_only below covers a late setting.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _load_directory(directory: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    tokenizer = _load_tokenizer(directory)
    try:
        model = AutoModelForCausalLM.from_pretrained(directory, local_files_only=True, dtype="auto")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFilesError(f"cannot load the model in {directory}: {_one_line(exc)}") from exc
    return model.eval(), tokenizer


def _load_tokenizer(directory: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(directory, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFilesError(f"cannot load the tokenizer in {directory}: {_one_line(exc)}") from exc


def _convert_gguf(gguf: Path, destination: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFilesError(f"cannot read the GGUF model {gguf}: {_one_line(exc)}") from exc
    # The weights are already de-quantized to fp32; drop the GGUF quantizer so save_pretrained writes plain
    # safetensors that load without the GGUF parser.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
        try:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            os.replace(staging, destination)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not destination.is_dir():  # another process won the race: its copy is as good as ours
                raise
    except OSError as exc:
        raise ModelFilesError(f"cannot write the model cache under {destination.parent}: {exc}") from exc
    return model.eval(), tokenizer


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
