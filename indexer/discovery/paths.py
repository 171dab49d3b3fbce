"""Path-level decision for one listed entry: what it is on disk (one `lstat`) and what its name says. Nothing
is opened or followed here."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from indexer.discovery.links import describe_link
from indexer.discovery.names import skip_by_name
from indexer.types import Skip, SkipReason, SourceFile


def classify(root: Path, rel_path: str, max_file_bytes: int) -> SourceFile | Skip | None:
    """The SourceFile to read, the Skip with its reason, or None for an entry that is not a file at all (a
    folder that git listed: a submodule or a nested repository, which are indexed on their own)."""
    path = root.joinpath(*rel_path.split("/"))
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Skip(rel_path, SkipReason.VANISHED, "listed, but missing on disk")
    except NotADirectoryError:
        return Skip(rel_path, SkipReason.VANISHED, "a parent folder was replaced by a file")
    except OSError as exc:
        return Skip(rel_path, SkipReason.UNREADABLE, f"cannot stat: {exc.strerror}")
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        return Skip(rel_path, SkipReason.SYMLINK, describe_link(path, root))
    if stat.S_ISDIR(mode):
        return None
    if not stat.S_ISREG(mode):
        return Skip(rel_path, SkipReason.UNREADABLE, f"not a regular file ({file_kind(mode)})")
    by_name = skip_by_name(path.name)
    if by_name is not None:
        return Skip(rel_path, *by_name)
    if st.st_size > max_file_bytes:
        return Skip(rel_path, SkipReason.TOO_LARGE, f"{st.st_size} bytes > {max_file_bytes}")
    return SourceFile(rel_path=rel_path, abs_path=path, size=st.st_size)


def file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    return "special file"
