"""The files git knows under a folder: tracked plus untracked-but-not-ignored, as git itself decides
(`.gitignore` at every level, `.git/info/exclude`, the user's global excludes file)."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

# Variables that would point git at another repository than the folder being indexed.
_REPO_LOCATING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
)
_TIMEOUT_S = 300


def git_listed_files(root: Path) -> list[str] | None:
    """POSIX paths relative to `root` of the files git lists there, or None when `root` is not inside a git
    work tree, is a folder its work tree ignores, or git is missing or refuses (e.g. a repository owned by
    another user): the caller then walks the folder and honours `.gitignore` itself.

    Run from `root`, `git ls-files` lists only what lies under it, relative to it, so a subfolder of a work
    tree works as a root. Paths of a merge conflict appear once. Submodules and nested repositories are
    listed as their folder; the caller drops folders."""
    done = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    if done is None:
        return None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        if message and "not a git repository" not in message[0]:
            log.warning("git ls-files failed in %s (%s); walking the folder instead", root, message[0])
        return None
    paths = {os.fsdecode(raw) for raw in done.stdout.split(b"\0") if raw}
    if not paths and _is_ignored_folder(root):
        # Asked to index a folder its enclosing work tree ignores (a build output, a Python installation
        # under ~/.pyenv): it is not part of that repository, so treat it as a plain folder.
        log.info("%s is ignored by its enclosing git work tree; walking it as a plain folder", root)
        return None
    return sorted(p.rstrip("/") for p in paths)


def _is_ignored_folder(root: Path) -> bool:
    done = _git(root, "check-ignore", "-q", ".")
    return done is not None and done.returncode == 0


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes] | None:
    env = {k: v for k, v in os.environ.items() if k not in _REPO_LOCATING_ENV}
    # core.fsmonitor in a repository's config names a program to run: never run it for a repository we index.
    command = ["git", "-c", "core.fsmonitor=false", *args]
    try:
        return subprocess.run(
            command,
            cwd=root,
            env=env,
            capture_output=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.info("git unavailable in %s (%s); walking the folder instead", root, exc)
        return None
