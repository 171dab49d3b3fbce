"""Reading one discovered file safely: content-level skip decisions, decoding and secret redaction.

The file may have changed since discovery listed it, so nothing discovery saw is trusted: the path is opened
beneath the repository root without following a link anywhere on the way (indexer.discovery.beneath) and
without blocking (a FIFO swapped in must not hang the run), the open descriptor is checked to be a regular
file, and the size limit is enforced on the bytes actually read."""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from indexer.config import IndexerSettings
from indexer.discovery.beneath import LinkOnPath, open_beneath, root_of
from indexer.discovery.content import content_skip
from indexer.discovery.paths import file_kind
from indexer.discovery.secrets import has_private_key, redact_tokens
from indexer.types import Skip, SkipReason, SourceFile

_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True, slots=True)
class SourceText:
    """A file's decoded text, ready to chunk.

    `text` is the UTF-8 decoding of the bytes on disk (invalid sequences become U+FFFD, nothing is stripped:
    a BOM and CRLF line endings stay), except that each high-confidence secret token is replaced by
    `<redacted:KIND>` on the same line; `redactions` counts those replacements. `size` is the number of bytes
    read."""

    text: str
    redactions: int
    size: int


def read_source(f: SourceFile, settings: IndexerSettings) -> SourceText | Skip:
    """Read and vet `f`. Returns the text, or a Skip (binary, too large, minified/generated, secret, symlink,
    unreadable, vanished). Never raises for a problem with the file itself."""
    try:
        fd = open_beneath(root_of(f.abs_path, f.rel_path), f.rel_path, _OPEN_FLAGS)
    except LinkOnPath as exc:
        return Skip(
            f.rel_path, SkipReason.SYMLINK, f"the folder {exc.component} on its path is a symbolic link"
        )
    except OSError as exc:
        return _open_failure(f.rel_path, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return Skip(f.rel_path, SkipReason.UNREADABLE, f"not a regular file ({file_kind(st.st_mode)})")
        limit = settings.max_file_bytes
        if st.st_size > limit:
            return Skip(f.rel_path, SkipReason.TOO_LARGE, f"{st.st_size} bytes > {limit}")
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        return Skip(f.rel_path, SkipReason.UNREADABLE, f"read failed: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > limit:
        return Skip(f.rel_path, SkipReason.TOO_LARGE, f"grew past {limit} bytes while being read")

    rejected = content_skip(data, settings.max_line_length, settings.min_alnum_share)
    if rejected is not None:
        return Skip(f.rel_path, *rejected)
    text = data.decode("utf-8", errors="replace")
    if has_private_key(text):
        return Skip(f.rel_path, SkipReason.SECRET, "contains a PEM private key block")
    text, redactions = redact_tokens(text)
    return SourceText(text=text, redactions=redactions, size=len(data))


def _read_at_most(fd: int, n: int) -> bytes:
    parts: list[bytes] = []
    remaining = n
    while remaining > 0:
        part = os.read(fd, min(remaining, 1 << 20))
        if not part:
            break
        parts.append(part)
        remaining -= len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def _open_failure(rel_path: str, exc: OSError) -> Skip:
    code = exc.errno
    if code == errno.ENOENT:
        return Skip(rel_path, SkipReason.VANISHED, "deleted after it was listed")
    if code == errno.ENOTDIR:
        return Skip(rel_path, SkipReason.VANISHED, "a parent folder was replaced after it was listed")
    if code == errno.ELOOP:
        return Skip(rel_path, SkipReason.SYMLINK, "replaced by a symbolic link after it was listed")
    if code in (errno.EACCES, errno.EPERM):
        return Skip(rel_path, SkipReason.UNREADABLE, "permission denied")
    if code == errno.ENXIO:
        return Skip(rel_path, SkipReason.UNREADABLE, "not a regular file (socket or device)")
    return Skip(rel_path, SkipReason.UNREADABLE, f"cannot open: {exc.strerror or exc}")
