"""The repository a file belongs to, named the way the appliance indexes it: the last component of the git
remote's URL (`git@host:team/payments.git` → `payments`), else the repository directory's name.

Reads `.git/config` directly (no `git` subprocess on every keystroke) and caches per repository root."""

from __future__ import annotations

import configparser
from functools import lru_cache
from pathlib import Path

__all__ = ["repository_of", "repo_name_from_remote"]


def repo_name_from_remote(url: str) -> str | None:
    tail = url.strip().rstrip("/")
    if not tail:
        return None
    # scp-like (`git@host:team/repo.git`) and URL forms both end with the repository name.
    tail = tail.replace(":", "/").rsplit("/", 1)[-1]
    if tail.endswith(".git"):
        tail = tail[: -len(".git")]
    return tail or None


def _git_dir(root: Path) -> Path | None:
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():
        # Worktrees and submodules: `.git` is a file saying `gitdir: <path>`.
        content = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        if content.startswith("gitdir:"):
            target = Path(content[len("gitdir:") :].strip())
            target = target if target.is_absolute() else (root / target)
            # A worktree's config lives in the common dir.
            common = target / "commondir"
            if common.is_file():
                target = (target / common.read_text(encoding="utf-8").strip()).resolve()
            return target
    return None


@lru_cache(maxsize=256)
def _repo_for_root(root: Path) -> str:
    git_dir = _git_dir(root)
    if git_dir is not None:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        try:
            parser.read(git_dir / "config", encoding="utf-8")
        except (configparser.Error, OSError):
            parser = configparser.ConfigParser()
        remotes = [s for s in parser.sections() if s.startswith('remote "')]
        # origin first, then whatever remote there is.
        remotes.sort(key=lambda s: s != 'remote "origin"')
        for section in remotes:
            name = repo_name_from_remote(parser.get(section, "url", fallback=""))
            if name:
                return name
    return root.name


@lru_cache(maxsize=1024)
def _find_root(directory: Path) -> Path | None:
    for candidate in (directory, *directory.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def repository_of(file_path: str | None, workspace_root: str | None) -> str | None:
    """Repository name for a file on disk; the workspace folder's name when the file is in no git repository."""
    if file_path:
        root = _find_root(Path(file_path).parent)
        if root is not None:
            return _repo_for_root(root)
    if workspace_root:
        root = _find_root(Path(workspace_root))
        return _repo_for_root(root) if root is not None else Path(workspace_root).name
    return None
