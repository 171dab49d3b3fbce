"""`codemoat index` / `codemoat search` / `codemoat repo` through the real CLI, on real repositories."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.service import CodeIndex

PY_MODULE = '''"""Session handling for the HTTP client."""


class Session:
    """Keeps cookies and connection pools across requests."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.cookies = {}

    def send(self, request, timeout=None):
        """Send a prepared request and return the response."""
        return self.adapter_for(request.url).send(request, timeout=timeout)

    def adapter_for(self, url):
        return HTTPAdapter(url)


def parse_content_type_header(header):
    """Split a Content-Type header into the media type and its parameters."""
    tokens = header.split(";")
    content_type, params = tokens[0].strip(), tokens[1:]
    return content_type, dict(p.strip().split("=", 1) for p in params if "=" in p)
'''

JS_MODULE = """export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

export class RetryQueue {
  constructor(limit) {
    this.limit = limit;
    this.items = [];
  }

  push(job) {
    if (this.items.length >= this.limit) throw new Error("queue full");
    this.items.push(job);
  }
}
"""


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "sessions.py").write_text(PY_MODULE)
    (root / "web").mkdir()
    (root / "web" / "util.js").write_text(JS_MODULE)
    (root / "README.md").write_text("# Demo\n\nA small repository used by the tests.\n")
    (root / "node_modules" / "left-pad").mkdir(parents=True)
    (root / "node_modules" / "left-pad" / "index.js").write_text("module.exports = 1;\n")
    (root / ".env").write_text("DATABASE_PASSWORD=hunter2\n")
    (root / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00" + bytes(range(256)))
    return root


def index_json(run_cli, *args) -> dict:
    res = run_cli("index", *args, "--json")
    assert res.code == 0, res.err
    lines = [ln for ln in res.out.splitlines() if ln.strip()]
    return json.loads(lines[-1])


def test_index_reports_counts_and_skips(tmp_path, codemoat_home, run_cli):
    repo = make_repo(tmp_path / "demo")
    report = index_json(run_cli, repo, "--name", "demo")
    assert report["repo"] == "demo"
    assert report["files"] == 3  # sessions.py, util.js, README.md
    assert report["chunks"] >= 3 and report["total_chunks"] == report["chunks"]
    assert report["skipped"] == sum(report["skip_reasons"].values()) >= 3
    assert {"vendored", "secret", "binary"} <= set(report["skip_reasons"])
    assert report["seconds"] > 0
    assert report["symbols"] >= 5  # Session, __init__, send, adapter_for, parse_content_type_header, ...

    # The secret never reaches the store.
    res = run_cli("search", "hunter2 DATABASE_PASSWORD", "--json", "-k", "20")
    assert res.code == 0, res.err
    assert all(".env" not in h["path"] and "hunter2" not in h["text"] for h in json.loads(res.out)["hits"])


def test_reindex_touches_only_what_changed(tmp_path, codemoat_home, run_cli):
    repo = make_repo(tmp_path / "demo")
    first = index_json(run_cli, repo, "--name", "demo")

    again = index_json(run_cli, repo, "--name", "demo")
    assert again["chunks"] == 0 and again["files_changed"] == 0
    assert again["total_chunks"] == first["total_chunks"]

    # Same bytes rewritten (new mtime): hashed, found unchanged, not re-embedded.
    (repo / "web" / "util.js").write_text(JS_MODULE)
    assert index_json(run_cli, repo, "--name", "demo")["files_changed"] == 0

    (repo / "web" / "util.js").write_text(JS_MODULE.replace("queue full", "queue is full"))
    changed = index_json(run_cli, repo, "--name", "demo")
    assert changed["files_changed"] == 1 and 1 <= changed["chunks"] <= 3

    (repo / "README.md").unlink()
    removed = index_json(run_cli, repo, "--name", "demo")
    assert removed["files_removed"] == 1 and removed["files"] == 2
    res = run_cli("search", "small repository used by the tests", "--json", "-k", "50")
    assert all(h["path"] != "README.md" for h in json.loads(res.out)["hits"])


def test_search_json_contract_and_filters(tmp_path, codemoat_home, run_cli):
    repo = make_repo(tmp_path / "demo")
    index_json(run_cli, repo, "--name", "demo")
    other = tmp_path / "other"
    other.mkdir()
    (other / "queue.py").write_text("def retry_queue_push(job):\n    return job\n")
    index_json(run_cli, other, "--name", "other")

    res = run_cli("search", "parse_content_type_header", "--json", "-k", "3")
    assert res.code == 0, res.err
    hits = json.loads(res.out)["hits"]
    top = hits[0]
    assert (top["repo"], top["path"]) == ("demo", "pkg/sessions.py")
    assert set(top) >= {"repo", "path", "start_line", "end_line", "score", "text"}
    lines = PY_MODULE.splitlines()
    assert "def parse_content_type_header" in "\n".join(lines[top["start_line"] - 1 : top["end_line"]])

    for mode in ("dense", "sparse"):
        res = run_cli("search", "RetryQueue push", "--mode", mode, "--json", "--repo", "other")
        assert {h["repo"] for h in json.loads(res.out)["hits"]} <= {"other"}
    res = run_cli("search", "queue", "--json", "--lang", "javascript", "-k", "20")
    assert {h["path"] for h in json.loads(res.out)["hits"]} == {"web/util.js"}
    res = run_cli("search", "queue", "--json", "--path", "pkg/", "-k", "20")
    assert {h["path"] for h in json.loads(res.out)["hits"]} <= {"pkg/sessions.py"}

    queries = tmp_path / "q.jsonl"
    queries.write_text(
        '{"id": "a", "query": "debounce timer"}\n\n{"id": 2, "query": "send a prepared request"}\n'
    )
    res = run_cli("search", "--queries", queries, "--json", "-k", "2")
    assert res.code == 0, res.err
    rows = [json.loads(ln) for ln in res.out.splitlines()]
    assert [r["id"] for r in rows] == ["a", 2]
    assert rows[0]["hits"][0]["path"] == "web/util.js"
    assert all(len(r["hits"]) <= 2 for r in rows)


def test_repo_list_and_remove(tmp_path, codemoat_home, run_cli):
    repo = make_repo(tmp_path / "demo")
    index_json(run_cli, repo, "--name", "demo")
    res = run_cli("repo", "list", "--json")
    [info] = json.loads(res.out)
    assert info["name"] == "demo" and info["files"] == 3 and not info["interrupted"]
    res = run_cli("repo", "remove", "demo")
    assert res.code == 0, res.err
    assert json.loads(run_cli("repo", "list", "--json").out) == []
    assert json.loads(run_cli("search", "Session", "--json").out)["hits"] == []
    res = run_cli("repo", "remove", "demo")
    assert res.code != 0 and "no indexed repository" in res.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["index", "/nonexistent/repo"], "no such directory"),
        (["search", "x", "--mode", "fuzzy"], "--mode must be one of"),
        (["search", "x", "-k", "0"], "-k must be between"),
        (["search"], "give either a QUERY or --queries"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(args, message, codemoat_home, run_cli):
    res = run_cli(*args)
    assert res.code != 0
    assert message in res.err
    assert "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1


def test_path_that_is_a_file(tmp_path, codemoat_home, run_cli):
    f = tmp_path / "file.py"
    f.write_text("x = 1\n")
    res = run_cli("index", f)
    assert res.code != 0 and "not a directory" in res.err


def test_unusable_data_directory(tmp_path, run_cli):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    repo = make_repo(tmp_path / "demo")
    res = run_cli("--home", blocker, "index", repo)
    assert res.code != 0 and "cannot create the index directory" in res.err
    assert "Traceback" not in res.err


def test_bad_queries_file(tmp_path, codemoat_home, run_cli):
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": 1, "query": "ok"}\nnot json\n')
    res = run_cli("search", "--queries", q, "--json")
    assert res.code != 0 and "q.jsonl:2: not JSON" in res.err


def test_corrupt_manifest_is_rebuilt_not_trusted(tmp_path, codemoat_home, run_cli):
    repo = make_repo(tmp_path / "demo")
    first = index_json(run_cli, repo, "--name", "demo")
    manifest = codemoat_home / "index" / "manifest.sqlite3"
    manifest.write_bytes(b"this is not a database" * 100)
    for extra in ("-wal", "-shm"):
        Path(str(manifest) + extra).unlink(missing_ok=True)

    res = run_cli("index", repo, "--name", "demo", "--json")
    assert res.code == 0, res.err
    assert "manifest was corrupt" in res.err
    report = json.loads(res.out.splitlines()[-1])
    assert report["recovered_manifest"] and Path(report["recovered_manifest"]).exists()
    assert report["total_chunks"] == first["total_chunks"]
    with CodeIndex.open(IndexerSettings(), codemoat_home) as index:
        assert index.store.count("demo") == first["total_chunks"]


# -- crash safety ------------------------------------------------------------------------------------------------


def _stdlib_sample(dest: Path, count: int) -> Path:
    import sysconfig

    src = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in src.glob("*.py"))[:count]
    dest.mkdir(parents=True)
    for p in files:
        shutil.copy(p, dest / p.name)
    return dest


def _state(home: Path, repo: str) -> tuple[set[str], dict[str, str]]:
    with CodeIndex.open(IndexerSettings(), home) as index:
        ids = set(index.store.point_ids(repo))
        files = {path: rec.content_hash for path, rec in index.manifest.files(repo).items()}
        assert index.manifest.all_point_ids(repo) == ids
        assert index.store.count(repo) == len(ids)
    return ids, files


def _run_started_at(home: Path) -> float | None:
    db = home / "index" / "manifest.sqlite3"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            row = conn.execute("SELECT run_started FROM repos").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _kill_during_run(cmd: list[str], env: dict[str, str], home: Path, delay: float) -> bool:
    """Start an index run, wait until it has begun writing (a new run_started), let it work `delay` seconds,
    then SIGKILL it. Returns whether it was killed (it may finish first on a fast machine)."""
    before = _run_started_at(home)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _run_started_at(home) == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay)
    killed = proc.poll() is None
    if killed:
        proc.kill()
    proc.wait()
    return killed


@pytest.mark.slow
def test_kill_mid_index_converges_to_clean_run(tmp_path):
    repo = _stdlib_sample(tmp_path / "corpus", 160)
    clean_home, crash_home = tmp_path / "clean", tmp_path / "crash"
    cmd = [sys.executable, "-m", "appliance.cli.main", "index", str(repo), "--name", "corpus", "--json"]

    subprocess.run(cmd, env={**os.environ, "CODEMOAT_HOME": str(clean_home)}, check=True, capture_output=True)
    clean = _state(clean_home, "corpus")

    env = {**os.environ, "CODEMOAT_HOME": str(crash_home)}
    # Kill at different moments of successive runs: right after the run begins, then later, each re-run
    # resuming from what the previous one left.
    kills = sum(_kill_during_run(cmd, env, crash_home, delay) for delay in (0.0, 0.4, 1.0))
    assert kills >= 1, "the indexer finished before it could be killed: grow the corpus"

    subprocess.run(cmd, env=env, check=True, capture_output=True)
    assert _state(crash_home, "corpus") == clean

    # Edits and deletions, killed mid-run, also converge to what a clean run of the edited tree gives.
    victims = sorted(repo.glob("*.py"))[::7]
    for p in victims[:5]:
        p.unlink()
    for p in victims[5:10]:
        p.write_text(p.read_text() + "\n\ndef added_after_crash():\n    return 42\n")
    _kill_during_run(cmd, env, crash_home, 0.3)
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    subprocess.run(cmd, env={**os.environ, "CODEMOAT_HOME": str(clean_home)}, check=True, capture_output=True)
    assert _state(crash_home, "corpus") == _state(clean_home, "corpus")


def test_a_tracked_folder_replaced_by_a_link_never_reads_outside(tmp_path, codemoat_home, run_cli):
    """git keeps listing files under a folder that was replaced by a link: `mv conf elsewhere; ln -s /etc conf`.
    Neither the first index nor a re-index reads through the link."""
    repo = make_repo(tmp_path / "demo")
    (repo / "conf").mkdir()
    (repo / "conf" / "passwd").write_text("placeholder_setting = 1\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    first = index_json(run_cli, repo, "--name", "demo")
    outside = tmp_path / "etc"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:OUTSIDE_SECRET_MARKER:/root:/bin/bash\n")
    shutil.move(repo / "conf", tmp_path / "elsewhere")
    (repo / "conf").symlink_to(outside)
    again = index_json(run_cli, repo, "--name", "demo")
    assert again["files"] == first["files"] - 1 and again["files_removed"] == 1
    assert again["skip_reasons"].get("symlink", 0) >= 1
    res = run_cli("search", "OUTSIDE_SECRET_MARKER root", "--json", "-k", "50")
    assert res.code == 0, res.err
    assert all("OUTSIDE_SECRET_MARKER" not in h["text"] for h in json.loads(res.out)["hits"])
