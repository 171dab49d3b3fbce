"""Which files discovery lists: inside git (tracked + untracked-not-ignored), outside git (nested .gitignore),
skipped folders, ordering, and bad roots. Real `git` repositories and real files in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from indexer.config import IndexerSettings
from indexer.discovery import discover
from indexer.errors import RepositoryPathError
from indexer.types import Skip, SkipReason, SourceFile

SETTINGS = IndexerSettings()


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commits need an identity; the user's global excludes file must not change what git lists."""
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("")
    for var in ("GIT_AUTHOR_NAME", "GIT_COMMITTER_NAME"):
        monkeypatch.setenv(var, "Test")
    for var in ("GIT_AUTHOR_EMAIL", "GIT_COMMITTER_EMAIL"):
        monkeypatch.setenv(var, "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("HOME", str(home))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def init_repo(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    return root


def write(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def listed(root: Path, settings: IndexerSettings = SETTINGS) -> list[SourceFile | Skip]:
    return list(discover(root, settings))


def files(results: list[SourceFile | Skip]) -> list[str]:
    return [r.rel_path for r in results if isinstance(r, SourceFile)]


def skips(results: list[SourceFile | Skip]) -> dict[str, tuple[SkipReason, str]]:
    return {r.rel_path: (r.reason, r.detail) for r in results if isinstance(r, Skip)}


# --- inside git ---------------------------------------------------------------------------------------------


def test_git_lists_tracked_and_untracked_but_not_ignored(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, ".gitignore", "*.log\ngenerated/\n")
    write(repo, "tracked.py")
    write(repo, "forced.log", "tracked although ignored\n")
    git(repo, "add", ".gitignore", "tracked.py")
    git(repo, "add", "-f", "forced.log")
    git(repo, "commit", "-q", "-m", "init")
    write(repo, "untracked.py")
    write(repo, "ignored.log")
    write(repo, "generated/out.py")
    write(repo, "pkg/new_module.py")

    results = listed(repo)

    assert files(results) == [".gitignore", "forced.log", "pkg/new_module.py", "tracked.py", "untracked.py"]
    assert skips(results) == {}
    source = next(r for r in results if isinstance(r, SourceFile) and r.rel_path == "pkg/new_module.py")
    assert source.abs_path == (repo / "pkg" / "new_module.py").resolve()
    assert source.size == len("x = 1\n")


def test_git_subdirectory_as_root_lists_paths_relative_to_it(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, "top.py")
    write(repo, "pkg/a.py")
    write(repo, "pkg/sub/b.py")
    write(repo, "pkg/.gitignore", "skipme.py\n")
    write(repo, "pkg/skipme.py")
    git(repo, "add", "top.py", "pkg/a.py")
    git(repo, "commit", "-q", "-m", "init")

    assert files(listed(repo / "pkg")) == [".gitignore", "a.py", "sub/b.py"]


def test_git_tracked_file_deleted_from_disk_is_vanished(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, "kept.py")
    write(repo, "gone.py")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")
    (repo / "gone.py").unlink()

    results = listed(repo)

    assert files(results) == ["kept.py"]
    assert skips(results)["gone.py"][0] is SkipReason.VANISHED


def test_git_committed_vendored_folders_are_one_skip_each(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, "node_modules/left-pad/index.js")
    write(repo, "node_modules/left-pad/package.json", "{}\n")
    write(repo, "node_modules/other.js")
    write(repo, "services/api/vendor/github.com/x/y.go", "package y\n")
    write(repo, "services/api/main.go", "package main\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "init")

    results = listed(repo)

    assert files(results) == ["services/api/main.go"]
    assert skips(results) == {
        "node_modules": (SkipReason.VENDORED, "node_modules/ (folder)"),
        "services/api/vendor": (SkipReason.VENDORED, "vendor/ (folder)"),
    }


def test_folder_ignored_by_its_work_tree_is_indexed_as_a_plain_folder(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, ".gitignore", "/installed/\n")
    write(repo, "installed/lib/mod.py")
    write(repo, "installed/lib/.gitignore", "*.tmp\n")
    write(repo, "installed/lib/scratch.tmp")

    assert files(listed(repo)) == [".gitignore"]
    assert files(listed(repo / "installed")) == ["lib/.gitignore", "lib/mod.py"]


def test_git_environment_variables_do_not_redirect_discovery(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = init_repo(tmp_path / "other")
    write(other, "elsewhere.py")
    git(other, "add", ".")
    repo = init_repo(tmp_path / "repo")
    write(repo, "here.py")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other))

    assert files(listed(repo)) == ["here.py"]


def test_nested_repository_is_not_entered(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, "main.py")
    nested = init_repo(repo / "libs" / "nested")
    write(nested, "inner.py")
    git(nested, "add", ".")
    git(nested, "commit", "-q", "-m", "nested")

    assert listed(repo) == [SourceFile("main.py", (repo / "main.py").resolve(), len("x = 1\n"))]


def test_empty_git_repository_and_empty_folder_list_nothing(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "repo")
    empty = tmp_path / "empty"
    empty.mkdir()

    assert listed(repo) == []
    assert listed(empty) == []


# --- outside git --------------------------------------------------------------------------------------------


def test_nested_gitignore_outside_git(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, ".gitignore", "*.log\nbuild/\n/top_only.txt\nlogs/\n")
    write(root, "a.py")
    write(root, "x.log")
    write(root, "z.tmp")  # *.tmp is ignored only below sub/
    write(root, "top_only.txt")
    write(root, "build/out.py")  # directory pattern
    write(root, "other/build", "a file named build is not a build/ folder\n")
    write(root, "logs/.gitignore", "!important.txt\n")
    write(root, "logs/important.txt")  # cannot be re-included: its parent folder is ignored
    write(root, "sub/.gitignore", "!keep.log\n*.tmp\n")
    write(root, "sub/keep.log")  # negation in a deeper file overrides the parent's *.log
    write(root, "sub/y.log")
    write(root, "sub/z.tmp")
    write(root, "sub/top_only.txt")  # the parent's pattern is anchored to the parent's folder
    write(root, "sub/build/o.py")  # build/ matches at any depth
    write(root, "sub/deeper/keep.log")  # !keep.log applies below sub/ too

    assert files(listed(root)) == [
        ".gitignore",
        "a.py",
        "other/build",
        "sub/.gitignore",
        "sub/deeper/keep.log",
        "sub/keep.log",
        "sub/top_only.txt",
        "z.tmp",
    ]


def test_malformed_gitignore_lines_are_skipped_like_git_does(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, ".gitignore", "!\n[z-a]\ntrailing\\\n*.log\n")
    write(root, "a.py")
    write(root, "b.log")

    assert files(listed(root)) == [".gitignore", "a.py"]


def test_vendored_folders_outside_git_are_one_skip_unless_ignored(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, "app.js", "module.exports = 1;\n")
    write(root, "node_modules/a/index.js")
    write(root, "node_modules/b/index.js")
    write(root, "web/dist/bundle.js")
    write(root, "web/.gitignore", "dist/\n")  # an ignored folder is not reported: git would not list it
    write(root, "tools/.venv/lib/site.py")
    write(root, ".git/HEAD", "ref: refs/heads/main\n")  # VCS metadata: never listed, never counted

    results = listed(root)

    assert files(results) == ["app.js", "web/.gitignore"]
    assert skips(results) == {
        "node_modules": (SkipReason.VENDORED, "node_modules/ (folder)"),
        "tools/.venv": (SkipReason.VENDORED, ".venv/ (folder)"),
    }


def test_virtual_environment_under_any_name_is_vendored_but_a_venv_package_is_not(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, "env/pyvenv.cfg", "home = /usr/bin\n")
    write(root, "env/lib/python3.11/site-packages/six.py")
    write(root, "venv/__init__.py", "def create(env_dir):\n    pass\n")  # like the standard library's venv

    results = listed(root)

    assert files(results) == ["venv/__init__.py"]
    assert skips(results) == {"env": (SkipReason.VENDORED, "env/ (virtual environment)")}


def test_skip_dirs_setting_accepts_names_and_globs(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, "src/mypkg.egg-info/PKG-INFO", "Name: mypkg\n")
    write(root, "src/generated_api/client.py")
    write(root, "src/mypkg/core.py")
    settings = IndexerSettings(skip_dirs=["*.egg-info", "generated_api"])

    results = listed(root, settings)

    assert files(results) == ["src/mypkg/core.py"]
    assert {k: v[0] for k, v in skips(results).items()} == {
        "src/generated_api": SkipReason.VENDORED,
        "src/mypkg.egg-info": SkipReason.VENDORED,
    }


def test_order_is_sorted_and_identical_in_and_out_of_git(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    for rel in ("a.txt", "a/b.py", "a-b.py", "A.py", "z/y/x.py", "node_modules/m.js", "b.min.js"):
        write(root, rel)
    outside = listed(root)
    init_repo(root)
    inside = listed(root)

    assert [r.rel_path for r in outside] == sorted(r.rel_path for r in outside)
    assert outside == inside
    assert skips(inside) == {
        "b.min.js": (SkipReason.MINIFIED, "minified or source-map name (b.min.js)"),
        "node_modules": (SkipReason.VENDORED, "node_modules/ (folder)"),
    }


# --- bad roots ----------------------------------------------------------------------------------------------


def test_missing_root_raises_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(RepositoryPathError) as caught:
        discover(missing, SETTINGS)  # raised at the call, before any iteration
    message = str(caught.value)
    assert message == f"{missing}: no such directory"
    assert "\n" not in message


def test_file_as_root_raises_one_line_error(tmp_path: Path) -> None:
    a_file = write(tmp_path, "file.py")
    with pytest.raises(RepositoryPathError, match=r"file\.py: not a directory$"):
        discover(a_file, SETTINGS)


def test_symlinked_root_is_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real, "m.py")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)

    (only,) = listed(link)
    assert isinstance(only, SourceFile)
    assert only.abs_path == real.resolve() / "m.py"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_work_tree_without_git_binary_falls_back_to_walking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = init_repo(tmp_path / "repo")
    write(repo, ".gitignore", "*.log\n")
    write(repo, "a.py")
    write(repo, "b.log")
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))

    assert os.environ["PATH"].endswith("no-binaries-here")
    assert files(listed(repo)) == [".gitignore", "a.py"]
