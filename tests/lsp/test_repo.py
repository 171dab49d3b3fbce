"""Repository names from git remotes (what the appliance indexes them as)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lsp.repo import repo_name_from_remote, repository_of


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@git.corp:team/payments.git", "payments"),
        ("https://git.corp/team/payments.git/", "payments"),
        ("ssh://git@git.corp:2222/team/payments", "payments"),
        ("/srv/git/payments.git", "payments"),
        ("", None),
    ],
)
def test_names_from_remotes(url: str, name: str | None) -> None:
    assert repo_name_from_remote(url) == name


def test_repository_of_a_file(tmp_path: Path) -> None:
    repo = tmp_path / "checkout"
    (repo / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "remote", "add", "origin", "git@git.corp:team/billing.git"], check=True
    )
    assert repository_of(str(repo / "src" / "a.py"), str(repo)) == "billing"
    plain = tmp_path / "scratch"
    plain.mkdir()
    assert repository_of(str(plain / "b.py"), str(plain)) == "scratch"
    assert repository_of(None, None) is None
