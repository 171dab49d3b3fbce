"""A data directory that is read-only or full: every command says which directory and why, in one line, with
the state database's exit code (3), never SQLite's "unable to open database file" or a traceback."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import VENV_BIN


def _mount(target: Path, size: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)], capture_output=True, text=True
    )
    return done.returncode == 0


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mountpoint = tmp_path / "fs"
    if os.geteuid() != 0 or not _mount(mountpoint, "2m"):
        pytest.skip("mounting a small file system needs root")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def codemoat(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "codemoat"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CODEMOAT_HOME": str(home)},
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 3 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def test_a_read_only_data_directory_is_named(small_fs: Path) -> None:
    home = small_fs / "home"
    assert codemoat(home, "token", "create", "first").returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    expected = f"error: the data directory {home} is on a read-only file system"
    assert one_line(codemoat(home, "token", "create", "second")) == expected
    assert one_line(codemoat(home, "serve", "--port", "0")) == expected
    assert one_line(codemoat(small_fs / "new-home", "token", "create", "x")).startswith(
        f"error: the data directory {small_fs / 'new-home'} is on a read-only file system"
    )


def test_a_full_data_directory_is_named(small_fs: Path) -> None:
    home = small_fs / "home"
    assert codemoat(home, "token", "create", "first").returncode == 0
    filler = small_fs / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    line = one_line(codemoat(home, "token", "create", "second"))
    assert line.startswith(f"error: the data directory {home} is full")
    filler.unlink()
    assert codemoat(home, "token", "create", "second").returncode == 0  # nothing was left half-done
