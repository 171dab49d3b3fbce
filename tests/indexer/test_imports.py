"""Reading an open file's imports (`indexer.imports.parse_imports`), on buffers as an editor holds them: mid-edit,
not necessarily parseable."""

from __future__ import annotations

from indexer.imports import ImportRef, parse_imports


def _by_stem(refs: list[ImportRef]) -> dict[str, ImportRef]:
    return {r.stem: r for r in refs}


def test_python_absolute_relative_aliased_and_parenthesised_imports() -> None:
    text = (
        "import os, xml.etree.ElementTree as ET\n"
        "from .core import Session, helpers as h\n"
        "from ..billing.ledger import (\n"
        "    post,  # the one we use\n"
        "    balance as bal,\n"
        ")\n"
        "from json import loads\n"
        "def half_written(x):\n"
        "    return ledger.\n"  # the buffer does not parse: imports are still read
    )
    refs = _by_stem(parse_imports(text, "python", "shop/orders/views.py"))
    assert refs["os"].alias == "os" and not refs["os"].exact
    assert refs["xml/etree/ElementTree"].alias == "ET"
    core = refs["shop/orders/core"]
    assert core.exact and core.names == (("Session", "Session"), ("h", "helpers"))
    assert refs["shop/orders/core/helpers"].alias == "h"  # `helpers` may be a module of its own
    assert refs["shop/billing/ledger"].names == (("post", "post"), ("bal", "balance"))
    assert refs["json"].names == (("loads", "loads"),)


def test_a_relative_import_above_the_repository_is_dropped() -> None:
    assert parse_imports("from ...outside import x\n", "python", "a/b.py") == []


def test_javascript_and_typescript_imports_and_requires() -> None:
    text = (
        "import React, { useState as useLocal, type Props } from 'react';\n"
        'import * as util from "./util/index.js"\n'
        "export { total } from '../cart'\n"
        "const { post, balance: bal } = require('../lib/ledger')\n"
        "import './polyfill'\n"
    )
    refs = _by_stem(parse_imports(text, "typescript", "src/app/main.ts"))
    assert refs["react"].alias == "React" and refs["react"].names == (
        ("useLocal", "useState"),
        ("Props", "Props"),
    )
    assert refs["src/app/util/index"].exact and refs["src/app/util/index"].alias == "util"
    assert refs["src/cart"].names == (("total", "total"),)
    assert refs["src/lib/ledger"].names == (("post", "post"), ("bal", "balance"))
    assert "src/app/polyfill" in refs


def test_go_java_rust_and_c_imports() -> None:
    go = _by_stem(
        parse_imports('import (\n  "fmt"\n  led "github.com/acme/pay/ledger"\n)\n', "go", "cmd/main.go")
    )
    assert go["acme/pay/ledger"].folder and go["acme/pay/ledger"].alias == "led"
    java = _by_stem(
        parse_imports(
            "import com.acme.pay.Ledger;\nimport static com.acme.Util.helper;\nimport com.acme.io.*;\n",
            "java",
            "",
        )
    )
    assert java["com/acme/pay/Ledger"].alias == "Ledger"
    assert java["com/acme/Util"].names == (("helper", "helper"),)
    assert java["com/acme/io"].folder
    rust = _by_stem(parse_imports("use crate::ledger::{Entry, post};\nuse std::io;\n", "rust", "src/main.rs"))
    assert rust["ledger"].names == (("Entry", "Entry"), ("post", "post"))
    c = parse_imports('#include "util/strings.h"\n#include <stdio.h>\n', "c", "src/main.c")
    assert [r.stem for r in c] == ["src/util/strings", "util/strings"]


def test_languages_without_a_reader_and_duplicates() -> None:
    assert parse_imports("import x\n", "markdown", "README.md") == []
    assert len(parse_imports("import os\nimport os\n", "python", "a.py")) == 1
