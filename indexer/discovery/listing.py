"""`discover`: which files of a repository to index, with a reason for every one left out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from indexer.config import IndexerSettings
from indexer.discovery.gitfiles import git_listed_files
from indexer.discovery.names import SkipDirs
from indexer.discovery.paths import classify
from indexer.discovery.walk import walk_files
from indexer.errors import RepositoryPathError
from indexer.types import Skip, SkipReason, SourceFile


def discover(root: Path, settings: IndexerSettings) -> Iterator[SourceFile | Skip]:
    """Every file to index under `root` as a SourceFile, and every entry left out as a Skip, sorted by
    `rel_path` (the same order in and out of git). Decisions use names and `lstat` only; content is vetted
    later by `read_source`.

    Raises RepositoryPathError at once (not on first iteration) when `root` is missing, not a folder or
    cannot be listed."""
    resolved = _checked_root(Path(root))
    skip_dirs = SkipDirs(settings.skip_dirs)
    listed = git_listed_files(resolved)
    entries = walk_files(resolved, skip_dirs) if listed is None else _from_git(listed, skip_dirs)
    results: list[SourceFile | Skip] = []
    for entry in entries:
        if isinstance(entry, Skip):
            results.append(entry)
            continue
        decided = classify(resolved, entry, settings.max_file_bytes)
        if decided is not None:
            results.append(decided)
    results.sort(key=lambda r: r.rel_path)
    return iter(results)


def _checked_root(root: Path) -> Path:
    try:
        resolved = root.expanduser().resolve(strict=True)
    except FileNotFoundError:
        raise RepositoryPathError(f"{root}: no such directory") from None
    except (OSError, RuntimeError) as exc:
        raise RepositoryPathError(f"{root}: cannot be resolved ({_reason(exc)})") from None
    if not resolved.is_dir():
        raise RepositoryPathError(f"{root}: not a directory")
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise RepositoryPathError(f"{root}: permission denied (cannot list the directory)")
    return resolved


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _from_git(paths: Iterable[str], skip_dirs: SkipDirs) -> Iterator[str | Skip]:
    """git's list, with skip_dirs folders collapsed into one VENDORED skip each (git lists their files when
    they are committed or not ignored)."""
    reported: set[str] = set()
    for rel in paths:
        folder = skip_dirs.first_skipped_folder(rel)
        if folder is None:
            yield rel
        elif folder not in reported:
            reported.add(folder)
            yield Skip(folder, SkipReason.VENDORED, f"{folder.rsplit('/', 1)[-1]}/ (folder)")
