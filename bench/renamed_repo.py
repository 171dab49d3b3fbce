"""A real Python repository whose own names are consistently renamed, so that a model cannot know them from
its training data: only the repository's other files can tell it what `bexo_tralim` is.

    make_renamed(source_package_dir, out_dir, seed=7) -> Renamed(root, package, mapping, defined_in)

What is renamed: every module, and every class, function, method, module-level name, class attribute and
`self.` attribute the repository defines, in code (and, when identifier-shaped, in comments and strings: whole
words only). What is kept: local variables and parameters, names of the standard library and of its objects'
attributes (`re.Pattern.match`), builtins and their methods (`items`, `write`), dunders, and names the
repository imports from elsewhere, since renaming those would rename the standard library's calls too. New names keep the shape of the old ones (snake_case, CamelCase, UPPER_CASE, leading
underscores) and are made of pseudo-words from a seeded generator, the same for every run."""

from __future__ import annotations

import ast
import builtins
import io
import json
import keyword
import random
import re
import subprocess
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

_SYLLABLES = (
    "ba",
    "be",
    "bo",
    "da",
    "de",
    "dri",
    "fa",
    "fe",
    "ga",
    "go",
    "ka",
    "ke",
    "ko",
    "la",
    "le",
    "lo",
    "ma",
    "me",
    "mo",
    "na",
    "ne",
    "no",
    "pa",
    "pe",
    "po",
    "ra",
    "re",
    "ro",
    "sa",
    "se",
    "so",
    "ta",
    "te",
    "to",
    "va",
    "ve",
    "vo",
    "za",
    "ze",
    "zo",
    "tri",
    "plu",
    "qua",
    "xe",
    "ny",
    "gry",
)
_TEXT_TOKENS = {tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
_ENDINGS = ("", "n", "r", "m", "s", "x", "l", "t", "k")


@dataclass(frozen=True)
class Renamed:
    root: Path  # the repository root (holds the renamed package directory)
    package: str  # the renamed package's name
    mapping: dict[str, str]  # old name -> new name
    defined_in: dict[str, set[str]]  # new name -> repository paths (relative to root) that define it


def _external_names() -> set[str]:
    names = set(dir(builtins)) | set(keyword.kwlist) | set(sys.stdlib_module_names)
    for kind in (
        str,
        bytes,
        dict,
        list,
        set,
        frozenset,
        tuple,
        int,
        float,
        complex,
        object,
        BaseException,
        io.TextIOBase,
        io.BufferedIOBase,
        type,
    ):
        names.update(dir(kind))
    return names


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)) + rng.choice(_ENDINGS)


def _new_name(old: str, rng: random.Random, taken: set[str]) -> str:
    lead = len(old) - len(old.lstrip("_"))
    core = old[lead:]
    while True:
        if core.isupper():
            parts = max(1, core.count("_") + 1)
            new = "_".join(_word(rng, 2).upper() for _ in range(parts))
        elif "_" in core or core.islower():
            parts = max(1, core.count("_") + 1)
            new = "_".join(_word(rng, 2) for _ in range(parts))
        else:  # CamelCase
            humps = max(1, len(re.findall(r"[A-Z]", core)))
            new = "".join(_word(rng, 2).capitalize() for _ in range(humps))
        new = "_" * lead + new
        if new not in taken and not keyword.iskeyword(new):
            taken.add(new)
            return new


def _definitions(tree: ast.Module) -> set[str]:
    """What the module defines for others: its top-level names, its classes' methods and attributes, and the
    `self.` attributes its methods set. Local variables and parameters stay as they are."""
    names: set[str] = set()

    def targets(node: ast.stmt) -> list[ast.expr]:
        if isinstance(node, ast.Assign):
            return node.targets
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            return [node.target]
        return []

    def scope(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
                if isinstance(node, ast.ClassDef):
                    scope(node.body)
            elif isinstance(node, (ast.If, ast.Try)):
                scope(node.body)
                scope(getattr(node, "orelse", []))
            for target in targets(node):
                names.update(sub.id for sub in ast.walk(target) if isinstance(sub, ast.Name))

    scope(tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                names.add(node.attr)
    return names


def _stdlib_attributes(trees: list[ast.Module]) -> set[str]:
    """Attribute names of what the repository takes from the standard library (`re.Pattern.match`, ...)."""
    modules = {"re", "io", "os", "sys", "typing", "collections", "pathlib", "enum", "abc", "dataclasses"}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    # In a fresh interpreter: what `dir()` shows depends on which submodules happen to be imported already.
    script = (
        "import importlib, json, re, sys\n"
        "names = set(dir(re.compile(''))) | set(dir(re.match('', '')))\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    try:\n"
        "        module = importlib.import_module(name)\n"
        "    except Exception:\n"
        "        continue\n"
        "    for attr in dir(module):\n"
        "        names.add(attr)\n"
        "        names.update(dir(getattr(module, attr, None)))\n"
        "print(json.dumps(sorted(names)))\n"
    )
    chosen = json.dumps(sorted(modules & set(sys.stdlib_module_names)))
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, chosen], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def _imported_from_outside(tree: ast.AST, package: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and not (node.module or "").startswith(package)
        ):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if not alias.name.startswith(package):
                    names.add((alias.asname or alias.name).split(".")[0])
    return names


def make_renamed(source: Path, out: Path, *, seed: int = 7) -> Renamed:
    package = source.name
    files = sorted(p for p in source.rglob("*.py") if "__pycache__" not in p.parts)
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in files}
    keep = _external_names() | _stdlib_attributes(list(trees.values()))
    for tree in trees.values():
        keep |= _imported_from_outside(tree, package)
    defined: dict[str, set[Path]] = {}
    for path, tree in trees.items():
        for name in _definitions(tree):
            if (
                len(name.strip("_")) >= 4
                and not (name.startswith("__") and name.endswith("__"))
                and name not in keep
            ):
                defined.setdefault(name, set()).add(path)
    modules = {p.stem for p in files if p.stem != "__init__"} | {
        d.name for d in source.rglob("*") if d.is_dir()
    }
    modules = {m for m in modules if m not in keep and not m.startswith("__")}
    rng = random.Random(seed)
    taken: set[str] = set()
    mapping = {old: _new_name(old, rng, taken) for old in sorted(set(defined) | modules | {package})}
    # In prose (docstrings, comments) only identifier-shaped names are replaced: `Console`, `render_lines`,
    # not a method called `render` in a sentence.
    shaped = [k for k in mapping if "_" in k.strip("_") or k[:1].isupper()]
    word = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(shaped, key=len, reverse=True)) + r")\b")
    new_package = mapping[package]
    root = out
    defined_in: dict[str, set[str]] = {}
    for path in files:
        rel = path.relative_to(source)
        parts = [mapping.get(part, part) for part in rel.with_suffix("").parts]
        new_rel = Path(new_package, *parts).with_suffix(".py")
        target = root / new_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_rewrite(path.read_text(encoding="utf-8"), mapping, word), encoding="utf-8")
        for old, where in defined.items():
            if path in where:
                defined_in.setdefault(mapping[old], set()).add(str(new_rel))
    return Renamed(root, new_package, mapping, defined_in)


def _rewrite(text: str, mapping: dict[str, str], word: re.Pattern[str]) -> str:
    out: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string in mapping:
            token = token._replace(string=mapping[token.string])
        elif token.type in _TEXT_TOKENS:
            token = token._replace(string=word.sub(lambda m: mapping[m.group(1)], token.string))
        out.append(token)
    return tokenize.untokenize(out)
