"""Listing a folder that is not a git work tree: walk it, honouring `.gitignore` files at every level the way
git does, and prune skipped folders without entering them.

gitignore semantics reproduced here (pattern matching itself is `pathspec`'s GitIgnoreSpec):
- a `.gitignore` applies to its own folder and everything below; its patterns match paths relative to it;
- a deeper `.gitignore` overrides a shallower one, and within one file the last matching pattern wins, so
  `!keep.py` in a subfolder re-includes what a parent ignored;
- an ignored folder is not entered, so nothing below it can be re-included (git's rule too);
- directory-only patterns (`build/`) are matched by passing folders with a trailing slash;
- `.git/info/exclude` at the root is honoured when present (a repository git itself would not list, for
  instance one owned by another user)."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from pathspec import GitIgnoreSpec

from indexer.discovery.names import VCS_DIRS, SkipDirs
from indexer.types import Skip, SkipReason

# (folder relative to the root with a trailing slash, or "" for the root; its compiled .gitignore)
_Scope = tuple[str, GitIgnoreSpec]


def walk_files(root: Path, skip_dirs: SkipDirs) -> Iterator[str | Skip]:
    """Relative POSIX paths of the entries (files, links, special files) under `root` that are not ignored,
    and one Skip per pruned folder (VENDORED for a skip_dirs folder, UNREADABLE or VANISHED when a folder
    cannot be listed). Symbolic links are yielded as entries, never entered. Order is not sorted."""
    root_scopes: tuple[_Scope, ...] = ()
    exclude = _load_spec(root / ".git" / "info" / "exclude")
    if exclude is not None:
        root_scopes = (("", exclude),)
    stack: list[tuple[Path, str, tuple[_Scope, ...]]] = [(root, "", root_scopes)]
    while stack:
        folder, prefix, scopes = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except FileNotFoundError:
            yield Skip(prefix.rstrip("/"), SkipReason.VANISHED, "folder deleted while it was listed")
            continue
        except OSError as exc:
            detail = f"folder cannot be listed: {exc.strerror}"
            yield Skip(prefix.rstrip("/") or ".", SkipReason.UNREADABLE, detail)
            continue
        own = _load_spec(Path(folder, ".gitignore")) if any(e.name == ".gitignore" for e in entries) else None
        if own is not None:
            scopes = (*scopes, (prefix, own))
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if is_dir and entry.name in VCS_DIRS:
                continue
            if _ignored(scopes, rel + "/" if is_dir else rel):
                continue
            if not is_dir:
                yield rel
            elif entry.name in skip_dirs:
                yield Skip(rel, SkipReason.VENDORED, f"{entry.name}/ (folder)")
            elif _is_virtualenv(entry.path):
                yield Skip(rel, SkipReason.VENDORED, f"{entry.name}/ (virtual environment)")
            else:
                stack.append((Path(entry.path), rel + "/", scopes))


def _is_virtualenv(folder: str) -> bool:
    """A virtual environment under any name (names like `venv` are also real packages). A folder that
    cannot be looked into is not one: the walk reports it as unreadable when it tries to list it."""
    try:
        return stat.S_ISREG(os.stat(os.path.join(folder, "pyvenv.cfg")).st_mode)
    except OSError:
        return False


def _ignored(scopes: tuple[_Scope, ...], rel: str) -> bool:
    for base, spec in reversed(scopes):
        if not rel.startswith(base):
            continue
        result = spec.check_file(rel[len(base) :]).include
        if result is not None:
            return result
    return False


def _load_spec(path: Path) -> GitIgnoreSpec | None:
    """The compiled patterns of one ignore file; None when it is absent, unreadable or has no patterns.
    Like git, an ignore file that is a symbolic link (or a FIFO, or a folder) is not read."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None
    try:
        spec = GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):
        # Git skips a pattern it cannot parse and keeps the rest; so do we.
        spec = GitIgnoreSpec.from_lines(line for line in lines if _valid_pattern(line))
    return spec if len(spec) else None


def _valid_pattern(line: str) -> bool:
    try:
        GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True
