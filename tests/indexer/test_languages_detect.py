"""`detect_language`: by extension, by file name, by shebang for extensionless scripts."""

from __future__ import annotations

import pytest

from indexer.chunking import parse_file
from indexer.languages import GRAMMAR_LANGUAGES, detect_language, get_parser


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("src/app/session.py", "python"),
        ("typings/stub.pyi", "python"),
        ("web/router.js", "javascript"),
        ("web/esm.mjs", "javascript"),
        ("web/App.jsx", "javascript"),
        ("web/cache.ts", "typescript"),
        ("web/TodoList.tsx", "tsx"),
        ("cmd/main.go", "go"),
        ("src/main/java/Inventory.java", "java"),
        ("src/lib.rs", "rust"),
        ("src/ring.c", "c"),
        ("include/ring.h", "c"),
        ("src/matrix.cpp", "cpp"),
        ("include/matrix.hpp", "cpp"),
        ("src/kernel.cc", "cpp"),
        ("Orders/OrderProcessor.cs", "csharp"),
        ("lib/bank.rb", "ruby"),
        ("Rakefile", "ruby"),
        ("Gemfile", "ruby"),
        ("src/Repo.php", "php"),
        ("app/EventBus.kt", "kotlin"),
        ("build.gradle.kts", "kotlin"),
        ("scripts/deploy.sh", "bash"),
        ("home/.bashrc", "bash"),
        ("README.md", "markdown"),
        ("package.json", "json"),
        (".github/workflows/ci.yml", "yaml"),
        ("pyproject.toml", "toml"),
        ("site/index.html", "html"),
        ("site/style.css", "css"),
        ("db/schema.sql", "sql"),
        ("notes.txt", "text"),
        ("Makefile", "make"),
        ("Dockerfile", "dockerfile"),
        ("SRC\\Windows\\Path.PY", "python"),
        ("UPPER.RS", "rust"),
    ],
)
def test_by_name(path, language):
    assert detect_language(path) == language


@pytest.mark.parametrize(
    ("head", "language"),
    [
        ("#!/usr/bin/env python3\nimport sys\n", "python"),
        ("#!/usr/bin/python3.11 -u\n", "python"),
        ("#!/bin/bash\nset -e\n", "bash"),
        ("#!/bin/sh\n", "bash"),
        ("#! /usr/bin/env -S node --enable-source-maps\n", "javascript"),
        ("#!/usr/bin/env ruby\n", "ruby"),
        ("#!/usr/bin/env php\n", "php"),
        ("#!/usr/bin/env zsh\n", "bash"),
        ("\ufeff#!/usr/bin/env python\n", "python"),
        ("#!/usr/bin/env FOO=1 python3\n", "python"),
    ],
)
def test_extensionless_script_by_shebang(head, language):
    assert detect_language("bin/tool", head) == language


@pytest.mark.parametrize(
    ("path", "head"),
    [
        ("bin/tool", None),
        ("bin/tool", "just some text\n"),
        ("bin/tool", "#!/usr/bin/env\n"),
        ("bin/tool", "#!/opt/unknown-interpreter\n"),
        ("data/blob.bin", None),
        ("archive.tar.gz", None),
        (".eslintrc", None),
    ],
)
def test_unknown(path, head):
    assert detect_language(path, head) is None


def test_extension_wins_over_shebang():
    assert detect_language("tool.py", "#!/bin/bash\n") == "python"


def test_grammar_languages_are_the_fourteen_and_load_offline():
    assert set(GRAMMAR_LANGUAGES) == {
        "python",
        "javascript",
        "typescript",
        "tsx",
        "go",
        "java",
        "rust",
        "c",
        "cpp",
        "csharp",
        "ruby",
        "php",
        "kotlin",
        "bash",
    }
    for language in GRAMMAR_LANGUAGES:
        tree = get_parser(language).parse(b"x\n")
        assert tree.root_node is not None


@pytest.mark.parametrize("language", ["markdown", "json", "yaml", "toml", "html", "css", "sql", "text"])
def test_text_languages_keep_their_name_and_split_by_lines(language):
    parsed = parse_file("a\nb\n", language)
    assert (parsed.language, parsed.parser) == (language, "lines")
