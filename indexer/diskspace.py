"""Free space on the data directory's disk, checked before anything is written there.

The embedded store writes through memory-mapped files: when the disk fills under a mapped page the kernel sends
SIGBUS and the process dies with no message (exit 135). So the indexer never starts a write the disk may not
hold: before opening the store and before each batch it asks the file system how much is free and stops with a
one-line reason instead. What was committed before stays consistent (manifest.py's protocol), so the next run
on a bigger disk resumes where this one stopped."""

from __future__ import annotations

import os
from pathlib import Path

from indexer.errors import DiskFullError

# Bytes one stored chunk can take while it is written, per byte of its parts: the write-ahead log holds a copy
# until the segment has it, and a segment being optimised is rebuilt beside the old one.
_WRITE_AMPLIFICATION = 2
_POINT_OVERHEAD = 512  # ids, payload keys, index entries


def point_bytes(dim: int, sparse_terms: int, text_bytes: int) -> int:
    """A generous estimate of the disk one chunk needs while it is written."""
    return _WRITE_AMPLIFICATION * (4 * dim + 8 * sparse_terms + text_bytes + _POINT_OVERHEAD)


class DiskSpace:
    """The free-space rule for one data directory: keep `reserve` bytes free beyond what the next write needs."""

    def __init__(self, root: Path, reserve: int) -> None:
        self.root = root
        self.reserve = reserve

    def free(self) -> int:
        path = self.root
        while not path.exists() and path != path.parent:  # before first use: the disk it will be created on
            path = path.parent
        st = os.statvfs(path)
        return st.f_bavail * st.f_frsize

    def require(self, needed: int, doing: str) -> None:
        """Raise `DiskFullError` unless `needed` bytes plus the reserve are free."""
        free = self.free()
        if free < needed + self.reserve:
            raise DiskFullError(
                f"not enough free space to {doing}: {_mib(free)} free on the disk of {self.root}, "
                f"{_mib(needed + self.reserve)} needed ({_mib(self.reserve)} of it kept in reserve, "
                "indexer.min_free_mib); free some space or move the data directory (CODEMOAT_HOME) to a bigger "
                "disk and run again: indexing resumes where it stopped"
            )


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
