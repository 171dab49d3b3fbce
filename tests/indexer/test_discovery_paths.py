"""Path-level skips (names, size, symbolic links, special files), decided by `discover` from names and lstat
alone."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.discovery import discover, read_source
from indexer.types import Skip, SkipReason, SourceFile

SETTINGS = IndexerSettings()


def write(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def by_path(root: Path, settings: IndexerSettings = SETTINGS) -> dict[str, SourceFile | Skip]:
    return {r.rel_path: r for r in discover(root, settings)}


def reason_of(result: SourceFile | Skip) -> SkipReason | None:
    return result.reason if isinstance(result, Skip) else None


SECRET_NAMES = [
    ".env",
    ".env.production",
    ".env.local",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "server.pem",
    "tls.key",
    "client.p12",
    "cert.pfx",
    "release.jks",
    "android.keystore",
    "vault.kdbx",
    ".netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".htpasswd",
    "credentials",
    "credentials.json",
    "my-service-account-123.json",
    "secrets.yml",
    "secrets.yaml",
    ".git-credentials",
    "terraform.tfstate",
    "prod.tfstate.backup",
    "ID_RSA",
]
NOT_SECRET_NAMES = [
    ".env.example",
    ".env.sample",
    ".env.template",
    "id_rsa.pub",
    "credentials.py",
    "keys.py",
    "env.py",
    "secrets_manager.go",
    "password_reset.ts",
    "environment.yml",
    "service-account.md",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_file_names_are_skipped_as_secret(tmp_path: Path, name: str) -> None:
    write(tmp_path, f"conf/{name}", "harmless looking text\n")
    result = by_path(tmp_path)[f"conf/{name}"]
    assert reason_of(result) is SkipReason.SECRET
    assert name in result.detail  # type: ignore[union-attr]


@pytest.mark.parametrize("name", NOT_SECRET_NAMES)
def test_ordinary_names_near_secret_ones_are_kept(tmp_path: Path, name: str) -> None:
    write(tmp_path, name)
    assert isinstance(by_path(tmp_path)[name], SourceFile)


@pytest.mark.parametrize(
    "name",
    [
        "logo.png",
        "photo.JPG",
        "lib.so",
        "app.exe",
        "mod.pyc",
        "A.class",
        "x.jar",
        "font.woff2",
        "paper.pdf",
        "data.sqlite",
        "bundle.tar.gz",
        "model.safetensors",
    ],
)
def test_binary_file_types_are_skipped_by_name_without_reading(tmp_path: Path, name: str) -> None:
    write(tmp_path, name, "plain text: the name alone decides\n")
    assert reason_of(by_path(tmp_path)[name]) is SkipReason.BINARY


@pytest.mark.parametrize(
    "name, rule",
    [
        ("app.min.js", "minified"),
        ("site.min.css", "minified"),
        ("app.js.map", "source-map"),
        ("package-lock.json", "lockfile"),
        ("yarn.lock", "lockfile"),
        ("pnpm-lock.yaml", "lockfile"),
        ("Cargo.lock", "lockfile"),
        ("poetry.lock", "lockfile"),
        ("go.sum", "lockfile"),
        ("composer.lock", "lockfile"),
        ("Gemfile.lock", "lockfile"),
        ("uv.lock", "lockfile"),
        ("service_pb2.py", "protobuf"),
        ("service_pb2_grpc.py", "protobuf"),
        ("api.pb.go", "protobuf"),
    ],
)
def test_minified_and_generated_names_are_skipped_as_minified(tmp_path: Path, name: str, rule: str) -> None:
    write(tmp_path, name)
    result = by_path(tmp_path)[name]
    assert reason_of(result) is SkipReason.MINIFIED
    assert rule in result.detail  # type: ignore[union-attr]


def test_size_limit_uses_stat(tmp_path: Path) -> None:
    settings = IndexerSettings(max_file_bytes=100)
    write(tmp_path, "at_limit.py", "#" * 99 + "\n")
    write(tmp_path, "over.py", "#" * 100 + "\n")

    results = by_path(tmp_path, settings)

    assert isinstance(results["at_limit.py"], SourceFile)
    assert results["at_limit.py"].size == 100
    assert reason_of(results["over.py"]) is SkipReason.TOO_LARGE
    assert results["over.py"].detail == "101 bytes > 100"  # type: ignore[union-attr]


# --- symbolic links -----------------------------------------------------------------------------------------


def test_link_out_of_the_repository_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret_plans.py", "PLANS = 1\n")
    repo = tmp_path / "repo"
    write(repo, "main.py")
    (repo / "plans.py").symlink_to(outside / "secret_plans.py")
    (repo / "ext").symlink_to(outside, target_is_directory=True)

    results = by_path(repo)

    assert set(results) == {"main.py", "plans.py", "ext"}
    for rel in ("plans.py", "ext"):
        assert reason_of(results[rel]) is SkipReason.SYMLINK
        assert "outside the repository" in results[rel].detail  # type: ignore[union-attr]


@pytest.mark.timeout(20)
def test_folder_link_to_an_ancestor_terminates(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "pkg/mod.py")
    (repo / "pkg" / "loop").symlink_to("..", target_is_directory=True)
    (repo / "pkg" / "self").symlink_to(".", target_is_directory=True)

    results = by_path(repo)

    assert set(results) == {"pkg/loop", "pkg/mod.py", "pkg/self"}
    assert reason_of(results["pkg/loop"]) is SkipReason.SYMLINK
    assert "ancestor" in results["pkg/loop"].detail  # type: ignore[union-attr]
    assert "ancestor" in results["pkg/self"].detail  # type: ignore[union-attr]


def test_dangling_and_self_referencing_links(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "dangling.py").symlink_to(repo / "missing.py")
    (repo / "selfloop").symlink_to("selfloop")

    results = by_path(repo)

    assert reason_of(results["dangling.py"]) is SkipReason.SYMLINK
    assert results["dangling.py"].detail.startswith("dangling")  # type: ignore[union-attr]
    assert reason_of(results["selfloop"]) is SkipReason.SYMLINK
    assert "loop" in results["selfloop"].detail  # type: ignore[union-attr]


def test_link_inside_the_repository_is_skipped_and_its_target_indexed_once(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo, "real/impl.py")
    (repo / "alias.py").symlink_to(Path("real") / "impl.py")
    (repo / "alias_dir").symlink_to("real", target_is_directory=True)

    results = by_path(repo)

    assert [r for r, v in results.items() if isinstance(v, SourceFile)] == ["real/impl.py"]
    alias = results["alias.py"]
    assert isinstance(alias, Skip)
    assert alias.detail == "link to real/impl.py (not followed; indexed at its real path)"
    assert reason_of(results["alias_dir"]) is SkipReason.SYMLINK


def test_links_tracked_by_git_are_skipped_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    repo = tmp_path / "repo"
    write(repo, "a.py")
    (repo / "up").symlink_to("..", target_is_directory=True)
    (repo / "etc_passwd").symlink_to("/etc/passwd")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "."], cwd=repo, check=True)

    results = by_path(repo)

    assert reason_of(results["up"]) is SkipReason.SYMLINK
    assert "outside the repository" in results["etc_passwd"].detail  # type: ignore[union-attr]
    assert isinstance(results["a.py"], SourceFile)


# --- special files ------------------------------------------------------------------------------------------


@pytest.mark.timeout(20)
def test_fifo_is_skipped_and_never_blocks(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    os.mkfifo(tmp_path / "pipe.py")

    results = by_path(tmp_path)

    assert reason_of(results["pipe.py"]) is SkipReason.UNREADABLE
    assert results["pipe.py"].detail == "not a regular file (FIFO)"  # type: ignore[union-attr]
    # Reading it anyway (as if a file had been replaced by a FIFO after listing) must not block either.
    as_listed = SourceFile(rel_path="pipe.py", abs_path=tmp_path / "pipe.py", size=0)
    skipped = read_source(as_listed, SETTINGS)
    assert isinstance(skipped, Skip) and skipped.reason is SkipReason.UNREADABLE


@pytest.mark.timeout(20)
def test_socket_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative path keeps the socket name under the AF_UNIX length limit
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind("daemon.sock")
        results = by_path(tmp_path)
        assert reason_of(results["daemon.sock"]) is SkipReason.UNREADABLE
        assert "socket" in results["daemon.sock"].detail  # type: ignore[union-attr]
        as_listed = SourceFile(rel_path="daemon.sock", abs_path=tmp_path / "daemon.sock", size=0)
        skipped = read_source(as_listed, SETTINGS)
        assert isinstance(skipped, Skip) and skipped.reason is SkipReason.UNREADABLE
