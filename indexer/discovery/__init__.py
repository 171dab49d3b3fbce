"""Repository discovery: which files to index, and reading each one safely.

    discover(root, settings)   -> Iterator[SourceFile | Skip]   names and lstat only, sorted by rel_path
    read_source(file, settings) -> SourceText | Skip             content checks, UTF-8 decoding, redaction

Decisions (every file left out is a Skip with a SkipReason and a one-line detail):
- Listing: inside a git work tree, the files git knows (`git ls-files --cached --others --exclude-standard`,
  run from `root`, so a subfolder of a work tree works); tracked files deleted from disk are VANISHED.
  Elsewhere, a walk honouring `.gitignore` at every level (walk.py). VCS folders (.git, .hg, ...) are never
  listed nor counted. Submodules and nested repositories are not entered.
- VENDORED: a folder named in `settings.skip_dirs` (exact names, or globs such as `*.egg-info`) at any
  depth is one Skip for the folder (rel_path = the folder, detail "node_modules/ (folder)"), not one per file:
  counting files would mean walking them. An ignored folder is not reported at all, as git does not list it.
- SYMLINK: no symbolic link is ever followed, whatever it points to; the detail says whether it points
  outside the repository, dangles, loops, or points inside (then the target is indexed at its own path).
- SECRET: secret file names (names.py); a PEM private-key block in the content. High-confidence tokens in
  ordinary files are replaced by `<redacted:KIND>` instead (secrets.py) and counted in SourceText.redactions.
- BINARY: binary file types by extension; a NUL byte in the first 8 KiB.
- MINIFIED: lockfiles, *.min.js/*.min.css/*.map, generated protobuf code (by name); generator markers in
  the first 5 lines; average line length > max_line_length; a line > 10x max_line_length in a file of at
  most 50 lines; word-character share of non-whitespace bytes < min_alnum_share (files of >= 1 KiB).
- TOO_LARGE: size > max_file_bytes by stat, and again on the bytes actually read.
- UNREADABLE: not a regular file (FIFO, socket, device: never opened in a blocking way), permission denied,
  I/O error. VANISHED: deleted (or a parent folder replaced) between listing and reading.
"""

from indexer.discovery.listing import discover
from indexer.discovery.reading import SourceText, read_source

__all__ = ["discover", "read_source", "SourceText"]
