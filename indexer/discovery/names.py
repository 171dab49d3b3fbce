"""Decisions made from a file's name alone: secret files, binary formats, minified bundles, lockfiles and
generated protobuf code. Pure functions, no I/O, so discovery can apply them to every path before it reads.

Names are compared case-insensitively: a repository checked out on macOS or Windows may spell them either way.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from indexer.types import SkipReason

# Files that hold credentials by convention. Public halves (`id_rsa.pub`) are not listed, so they pass.
SECRET_NAMES: frozenset[str] = frozenset(
    {
        ".env",
        ".envrc",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".pypirc",
        ".npmrc",
        ".yarnrc.yml",
        ".htpasswd",
        ".git-credentials",
        ".dockercfg",
        ".s3cfg",
        ".boto",
        ".my.cnf",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ed25519",
        "id_ecdsa_sk",
        "id_ed25519_sk",
        "credentials",
        "credentials.json",
        "credentials.yml",
        "credentials.yaml",
        "credentials.xml",
        "credentials.csv",
        "secrets.yml",
        "secrets.yaml",
        "secrets.json",
        "secrets.toml",
        "terraform.tfvars",
    }
)
SECRET_SUFFIXES: tuple[str, ...] = (
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".keystore",
    ".kdbx",
    ".ppk",
    ".keytab",
    ".tfstate",
    ".tfstate.backup",
)
# `.env.production` is a secret; the checked-in templates next to it are documentation.
ENV_TEMPLATES: frozenset[str] = frozenset(
    {
        ".env.example",
        ".env.sample",
        ".env.template",
        ".env.dist",
        ".env.defaults",
    }
)
SECRET_GLOBS: tuple[str, ...] = ("*service-account*.json", "*service_account*.json")

BINARY_SUFFIXES: frozenset[str] = frozenset(
    {
        # images
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".bmp",
        ".ico",
        ".icns",
        ".webp",
        ".tif",
        ".tiff",
        ".psd",
        ".heic",
        ".avif",
        ".xcf",
        # archives and packages
        ".zip",
        ".tar",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".7z",
        ".rar",
        ".zst",
        ".lz4",
        ".whl",
        ".egg",
        ".deb",
        ".rpm",
        ".msi",
        ".dmg",
        ".iso",
        ".apk",
        ".ipa",
        ".nupkg",
        ".crx",
        ".xpi",
        # native code and bytecode
        ".so",
        ".dll",
        ".dylib",
        ".exe",
        ".o",
        ".obj",
        ".a",
        ".lib",
        ".ko",
        ".pyc",
        ".pyo",
        ".pyd",
        ".class",
        ".jar",
        ".war",
        ".ear",
        ".wasm",
        ".pdb",
        ".beam",
        ".elc",
        # fonts
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        # documents
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".ppt",
        ".pptx",
        ".odt",
        ".ods",
        ".odp",
        # audio and video
        ".mp3",
        ".mp4",
        ".m4a",
        ".wav",
        ".ogg",
        ".oga",
        ".flac",
        ".aac",
        ".avi",
        ".mov",
        ".mkv",
        ".webm",
        # data stores, serialized models and arrays
        ".sqlite",
        ".sqlite3",
        ".db",
        ".mdb",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".parquet",
        ".feather",
        ".arrow",
        ".h5",
        ".hdf5",
        ".onnx",
        ".pt",
        ".pth",
        ".safetensors",
        ".ckpt",
        ".gguf",
        ".tflite",
        ".bin",
    }
)

LOCKFILES: frozenset[str] = frozenset(
    {
        "package-lock.json",
        "npm-shrinkwrap.json",
        "yarn.lock",
        "pnpm-lock.yaml",
        "bun.lockb",
        "bun.lock",
        "cargo.lock",
        "poetry.lock",
        "pipfile.lock",
        "pdm.lock",
        "uv.lock",
        "go.sum",
        "composer.lock",
        "gemfile.lock",
        "podfile.lock",
        "packages.lock.json",
        "flake.lock",
        "mix.lock",
        "pubspec.lock",
        "gradle.lockfile",
        "conan.lock",
        "package.resolved",
    }
)
MINIFIED_SUFFIXES: tuple[str, ...] = (".min.js", ".min.mjs", ".min.cjs", ".min.css", "-min.js", ".map")
PROTOBUF_SUFFIXES: tuple[str, ...] = (
    "_pb2.py",
    "_pb2.pyi",
    "_pb2_grpc.py",
    ".pb.go",
    ".pb.cc",
    ".pb.h",
    ".pb.swift",
    "_grpc.pb.go",
)


def skip_by_name(name: str) -> tuple[SkipReason, str] | None:
    """The reason and detail to skip a file called `name` (its last path component), or None to keep it."""
    low = name.lower()
    if _is_secret_name(low):
        return SkipReason.SECRET, f"secret file name ({name})"
    dot = low.rfind(".")
    if dot > 0 and low[dot:] in BINARY_SUFFIXES:
        return SkipReason.BINARY, f"binary file type ({low[dot:]})"
    if low in LOCKFILES:
        return SkipReason.MINIFIED, f"lockfile ({name})"
    if low.endswith(MINIFIED_SUFFIXES):
        return SkipReason.MINIFIED, f"minified or source-map name ({name})"
    if low.endswith(PROTOBUF_SUFFIXES):
        return SkipReason.MINIFIED, f"generated protobuf code ({name})"
    return None


def _is_secret_name(low: str) -> bool:
    if low in SECRET_NAMES or low.endswith(SECRET_SUFFIXES):
        return True
    if low.startswith(".env.") and low not in ENV_TEMPLATES:
        return True
    return any(fnmatch.fnmatchcase(low, pattern) for pattern in SECRET_GLOBS)


# Version-control metadata is never content and never counted as a skip.
VCS_DIRS: frozenset[str] = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", ".jj"})


class SkipDirs:
    """Matches folder names against `IndexerSettings.skip_dirs`: exact names, or shell globs (`*.egg-info`)
    when an entry contains `*`, `?` or `[`."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = list(entries)
        self._names = frozenset(e for e in entries if not _is_glob(e))
        globs = [fnmatch.translate(e) for e in entries if _is_glob(e)]
        self._glob = re.compile("|".join(globs)) if globs else None

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        if name in self._names:
            return True
        return self._glob is not None and self._glob.match(name) is not None

    def first_skipped_folder(self, rel_path: str) -> str | None:
        """The shallowest folder of `rel_path` (POSIX, relative) whose name is skipped, as a relative path."""
        parts = rel_path.split("/")
        for i, part in enumerate(parts[:-1]):
            if part in self:
                return "/".join(parts[: i + 1])
        return None


def _is_glob(entry: str) -> bool:
    return any(c in entry for c in "*?[")
