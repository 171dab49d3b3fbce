"""A full disk under the index: a one-line reason and an exit code instead of SIGBUS, and nothing lost.

The embedded store writes through memory-mapped files, so a disk that fills under it kills the process with
SIGBUS (exit 135, no message) unless the indexer stops first. These tests run on real small file systems
(tmpfs, mounted by the test: root only, as on CI) and through the CLI and the Python API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.errors import DiskFullError
from indexer.service import CodeIndex
from tests.indexer.test_index_cli import _state, _stdlib_sample


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[callable]:
    mounted: list[Path] = []

    def mount(size_mib: int) -> Path:
        where = tmp_path / f"disk-{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_mib}m", "tmpfs", str(where)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small file system here (needs root): {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_index_on_a_4_mib_disk_says_so_and_exits_3(tmp_path: Path, small_disk) -> None:
    repo = _stdlib_sample(tmp_path / "corpus", 40)
    disk = small_disk(4)
    cmd = [sys.executable, "-m", "appliance.cli.main", "index", str(repo), "--name", "corpus"]
    done = subprocess.run(
        cmd, env={**os.environ, "CODEMOAT_HOME": str(disk / "home")}, capture_output=True, text=True
    )
    assert done.returncode == 3, (done.returncode, done.stderr)  # not -7 / 135 (SIGBUS)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: not enough free space to index corpus"), (
        done.stderr
    )
    assert "MiB free on the disk of" in lines[0] and "Traceback" not in done.stderr

    # The same data directory, moved to a bigger disk, indexes everything.
    bigger = tmp_path / "bigger"
    shutil.copytree(disk / "home", bigger)
    again = subprocess.run(
        cmd, env={**os.environ, "CODEMOAT_HOME": str(bigger)}, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    ids, files = _state(bigger, "corpus")
    assert len(files) == 40 and ids


def test_a_disk_that_fills_during_a_run_stops_it_between_batches_and_the_next_run_finishes(
    tmp_path: Path, small_disk
) -> None:
    """Another process fills the disk while the index is written: the run stops before the next batch with
    DiskFullError, what it committed stays consistent, and once there is room the next run completes to the
    same state as a clean run."""
    repo = _stdlib_sample(tmp_path / "corpus", 160)  # several batches of 2,048 chunks
    clean_home = tmp_path / "clean"
    with CodeIndex.open(IndexerSettings(), clean_home) as index:
        index.index(repo, name="corpus")
    clean = _state(clean_home, "corpus")

    disk = small_disk(192)
    home = disk / "home"
    ballast = disk / "ballast"

    class FillAfterFirstFiles:
        files = 0

        def start(self, repo: str, total_files: int) -> None:
            pass

        def advance(self, files: int, nbytes: int) -> None:
            self.files += files
            if self.files >= 40 and not ballast.exists():  # leave a little over the reserve free
                st = os.statvfs(disk)
                free = st.f_bavail * st.f_frsize
                with open(ballast, "wb") as f:
                    os.posix_fallocate(f.fileno(), 0, free - 66 * 2**20)

        def finish(self) -> None:
            pass

    with CodeIndex.open(IndexerSettings(), home) as index, pytest.raises(DiskFullError) as full:
        index.index(repo, name="corpus", progress=FillAfterFirstFiles())
    assert "not enough free space to write" in str(full.value)
    with CodeIndex.open(IndexerSettings(), home) as index:
        ids = set(index.store.point_ids("corpus"))
        assert index.manifest.all_point_ids("corpus") >= ids  # nothing stored that the manifest does not know

    ballast.unlink()
    with CodeIndex.open(IndexerSettings(), home) as index:
        index.index(repo, name="corpus")
    assert _state(home, "corpus") == clean
