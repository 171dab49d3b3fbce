"""Open a file of a repository by its relative path without following a symbolic link anywhere on the way.

The tree can change between listing and reading (a folder replaced by a link to `/etc` while git still lists
the files under it), so the check is made when the file is opened, component by component, each relative to
the folder opened before it (`openat` with `O_NOFOLLOW`): no link, no `..`, nothing outside the root can be
reached, whatever happens to the tree meanwhile."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class LinkOnPath(OSError):
    """A folder on the way to the file is a symbolic link (`component` names it)."""

    def __init__(self, component: str) -> None:
        super().__init__(errno.ELOOP, f"{component} is a symbolic link")
        self.component = component


def root_of(abs_path: Path, rel_path: str) -> Path:
    """The repository root that `abs_path` (= root / rel_path) lies under."""
    depth = len(rel_path.split("/"))
    return abs_path.parents[depth - 1]


def open_beneath(root: Path, rel_path: str, flags: int) -> int:
    """A descriptor for `root/rel_path`, opened with `flags | O_NOFOLLOW`, every folder on the way opened
    without following links. Raises LinkOnPath for a link among the folders, OSError(ELOOP) when the file
    itself is a link, and OSError(EINVAL) for a path that is not a plain relative one."""
    parts = rel_path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise OSError(errno.EINVAL, f"not a plain relative path: {rel_path!r}")
    fd = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)  # the root itself is resolved by the caller
    try:
        walked: list[str] = []
        for part in parts[:-1]:
            walked.append(part)
            try:
                inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                # O_DIRECTORY with O_NOFOLLOW fails on a link with ENOTDIR (Linux) or ELOOP: tell a link from a
                # file put where the folder was.
                if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(part, fd):
                    raise LinkOnPath("/".join(walked)) from None
                raise
            os.close(fd)
            fd = inner
        return os.open(parts[-1], flags | os.O_NOFOLLOW, dir_fd=fd)
    finally:
        os.close(fd)


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
