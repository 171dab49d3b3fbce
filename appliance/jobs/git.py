"""Shallow clone and pull with the `git` command line: no shell, no prompts (a missing credential fails at
once instead of hanging), `ext::` transports refused, and credentials in URLs kept out of messages."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from appliance.jobs.errors import SourceError, SyncError

_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$")
_SCHEMES = ("https://", "http://", "ssh://", "git://", "file://")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact_url(url: str) -> str:
    """`https://user:secret@host/x` -> `https://***@host/x`."""
    return _CREDENTIALS.sub("***@", url)


def check_git_url(url: str) -> str:
    url = url.strip()
    if not url or len(url) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise SourceError(
            "location: a git URL is one line without spaces, at most 2048 characters", param="location"
        )
    if url.startswith("-") or "::" in url.split("/", 1)[0]:
        raise SourceError("location: this kind of git URL is not allowed", param="location")
    if not (url.startswith(_SCHEMES) or _SCP_LIKE.match(url)):
        raise SourceError(
            "location: a git URL starts with https://, http://, ssh://, git:// or file://, or is "
            "user@host:path",
            param="location",
        )
    return url


def local_git_path(url: str) -> str | None:
    """The folder a `file://` URL names on this machine (None for a remote URL)."""
    if not url.startswith("file://"):
        return None
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise SourceError(
            "location: a file:// URL names a folder on this appliance (no host)", param="location"
        )
    return unquote(parsed.path)


def check_branch(branch: str | None) -> str | None:
    if branch is None or not branch.strip():
        return None
    branch = branch.strip()
    if (
        branch.startswith("-")
        or len(branch) > 256
        or ".." in branch
        or not re.fullmatch(r"[A-Za-z0-9._/+-]+", branch)
    ):
        raise SourceError("branch: not a valid branch name", param="branch")
    return branch


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    author: str
    date: str  # ISO 8601, the author's
    subject: str
    paths: tuple[str, ...]  # relative to the folder asked about


class Git:
    def __init__(self, *, timeout_s: float, executable: str = "git") -> None:
        self.timeout_s = timeout_s
        self.executable = executable

    def _run(self, args: list[str], *, cwd: Path | None = None, what: str, url: str = "") -> str:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",
            "SSH_ASKPASS": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
            "LC_ALL": "C",
        }
        command = [self.executable, "-c", "protocol.ext.allow=never", *args]
        try:
            done = subprocess.run(
                command, cwd=cwd, env=env, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError:
            raise SyncError("git is not installed on the appliance") from None
        except subprocess.TimeoutExpired:
            raise SyncError(f"{what} took longer than {self.timeout_s:.0f} s") from None
        if done.returncode != 0:
            lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"exit code {done.returncode}"
            if url:
                reason = reason.replace(url, redact_url(url))
            raise SyncError(f"{what} failed: {redact_url(reason)}")
        return done.stdout.strip()

    def sync(self, url: str, dest: Path, branch: str | None) -> str:
        """Clone `url` into `dest`, or bring an existing clone up to date; returns the checked-out commit."""
        ref = branch or "HEAD"
        if not (dest / ".git").is_dir():
            dest.parent.mkdir(parents=True, exist_ok=True)
            args = ["clone", "--quiet", "--depth", "1", "--no-tags"]
            if branch:
                args += ["--branch", branch]
            self._run([*args, "--", url, str(dest)], what=f"cloning {redact_url(url)}", url=url)
        else:
            self._run(
                ["fetch", "--quiet", "--depth", "1", "--no-tags", "origin", ref],
                cwd=dest,
                what=f"pulling {redact_url(url)}",
                url=url,
            )
            self._run(
                ["reset", "--quiet", "--hard", "FETCH_HEAD"], cwd=dest, what="checking out the new commit"
            )
        return self.head(dest)

    def head(self, root: Path) -> str:
        return self._run(["rev-parse", "HEAD"], cwd=root, what="reading the checked-out commit")

    def recent_commits(self, root: Path, limit: int) -> list[Commit]:
        """The last `limit` commits that touched `root` (a work tree or a folder inside one), newest first; a
        shallow clone has only the commits it fetched. SyncError when `root` is not in a git work tree."""
        if not 1 <= limit <= 10_000:
            raise ValueError(f"limit must be between 1 and 10000, got {limit}")
        out = self._run(
            [
                "-c",
                "core.quotePath=false",  # names as they are (UTF-8), not C-quoted octal escapes
                "log",
                f"-n{limit}",
                "--no-color",
                "--relative",
                "--name-only",
                "--format=%x1e%H%x1f%an%x1f%aI%x1f%s",
                "--",
                ".",
            ],
            cwd=root,
            what=f"reading the history of {root}",
        )
        commits = []
        for record in out.split("\x1e"):
            if not record.strip():
                continue
            header, _, names = record.partition("\n")
            sha, author, date, subject = (header.split("\x1f") + ["", "", "", ""])[:4]
            paths = tuple(line for line in names.splitlines() if line.strip())
            commits.append(Commit(sha, author, date, subject, paths))
        return commits
