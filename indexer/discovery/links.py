"""Symbolic links are never followed. Discovery still resolves each one, only to say in the skip detail why
it was left alone: it points outside the repository, dangles, loops, or points at something inside the
repository that is indexed (or skipped) at its own path. Not following links at all is what makes "never
leave the repository" and "never loop" hold by construction, and it keeps a file from being indexed twice."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def describe_link(link: Path, root: Path) -> str:
    """Why the link at `link` is skipped. `root` must be resolved (no symlinks in it)."""
    try:
        target = Path(os.path.realpath(link, strict=True))
    except FileNotFoundError:
        return f"dangling link to {_raw_target(link)}"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loop (resolves to itself)"
        return f"link cannot be resolved: {exc.strerror}"
    if not target.is_relative_to(root):
        return f"points outside the repository ({_raw_target(link)})"
    inside = target.relative_to(root).as_posix() or "."
    if target.is_dir():
        if link.parent.resolve().is_relative_to(target):
            return f"folder link to its own ancestor {inside}/ (loop, not followed)"
        return f"folder link to {inside}/ (not followed; indexed at its real path)"
    return f"link to {inside} (not followed; indexed at its real path)"


def _raw_target(link: Path) -> str:
    try:
        return os.readlink(link)
    except OSError:
        return "?"
