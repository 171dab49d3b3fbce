"""Which language a file is written in, from its name and, for extensionless scripts, its shebang line.

Names are the grammar languages (`python`, `javascript`, `typescript`, `tsx`, `go`, `java`, `rust`, `c`,
`cpp`, `csharp`, `ruby`, `php`, `kotlin`, `bash`) and text languages that are split by lines (`markdown`,
`json`, `yaml`, `toml`, `html`, `css`, `sql`, `text`, ...). A `.h` header is `c`: the C grammar reads C
headers exactly and C++ headers well enough, while the C++ grammar misreads C that uses C++ keywords as
identifiers.
"""

from __future__ import annotations

import posixpath
import re

__all__ = ["EXTENSIONS", "FILENAMES", "INTERPRETERS", "detect_language"]


def _invert(table: dict[str, str]) -> dict[str, str]:
    return {key: language for language, keys in table.items() for key in keys.split()}


# language -> file extensions (lower case). Grammar languages first, then text languages split by lines.
EXTENSIONS: dict[str, str] = _invert(
    {
        "python": ".py .pyi .pyw",
        "javascript": ".js .mjs .cjs .jsx",
        "typescript": ".ts .mts .cts",
        "tsx": ".tsx",
        "go": ".go",
        "java": ".java",
        "rust": ".rs",
        "c": ".c .h",
        "cpp": ".cc .cpp .cxx .c++ .hh .hpp .hxx .h++ .ipp .tpp .inl .ino .cu .cuh",
        "csharp": ".cs .csx",
        "ruby": ".rb .rake .gemspec .ru .erb",
        "php": ".php .phtml .php7 .php8",
        "kotlin": ".kt .kts",
        "bash": ".sh .bash .zsh .ksh .bats .command",
        "markdown": ".md .markdown .mdx",
        "rst": ".rst",
        "asciidoc": ".adoc",
        "text": ".txt .text",
        "json": ".json .jsonc .json5 .jsonl .ipynb",
        "yaml": ".yaml .yml",
        "toml": ".toml",
        "ini": ".ini .cfg .conf",
        "properties": ".properties",
        "xml": ".xml .xsd .xsl .svg .plist .csproj .pom",
        "html": ".html .htm .xhtml",
        "vue": ".vue",
        "svelte": ".svelte",
        "css": ".css",
        "scss": ".scss .sass",
        "less": ".less",
        "sql": ".sql",
        "graphql": ".graphql .gql",
        "protobuf": ".proto",
        "lua": ".lua",
        "perl": ".pl .pm",
        "r": ".r",
        "scala": ".scala .sc",
        "swift": ".swift",
        "dart": ".dart",
        "elixir": ".ex .exs",
        "erlang": ".erl",
        "haskell": ".hs",
        "ocaml": ".ml",
        "clojure": ".clj",
        "groovy": ".groovy .gradle",
        "powershell": ".ps1 .psm1",
        "batch": ".bat .cmd",
        "zig": ".zig",
        "nim": ".nim",
        "julia": ".jl",
        "hcl": ".tf .hcl",
        "objc": ".m .mm",
        "fsharp": ".fs",
        "vbnet": ".vb",
        "fortran": ".f90",
        "asm": ".asm .s",
        "cmake": ".cmake",
        "make": ".mk",
        "latex": ".tex",
        "csv": ".csv .tsv",
    }
)

# language -> whole file names (lower case) that say the language without an extension.
FILENAMES: dict[str, str] = _invert(
    {
        "make": "makefile gnumakefile justfile",
        "dockerfile": "dockerfile containerfile",
        "cmake": "cmakelists.txt",
        "ruby": "rakefile gemfile podfile vagrantfile brewfile guardfile",
        "groovy": "jenkinsfile",
        "bash": ".bashrc .bash_profile .bash_logout .profile .zshrc .zprofile pkgbuild apkbuild",
        "text": "readme license copying authors changelog .gitignore .gitattributes .dockerignore go.mod go.sum",
        "ini": ".editorconfig",
        "toml": "pipfile cargo.lock",
    }
)

# language -> interpreters named in a shebang line. Versions are stripped first: python3.12 -> python.
INTERPRETERS: dict[str, str] = _invert(
    {
        "python": "python pypy",
        "javascript": "node nodejs bun",
        "typescript": "deno ts-node tsx",
        "ruby": "ruby jruby",
        "php": "php",
        "kotlin": "kotlin",
        "bash": "sh bash dash zsh ksh ash mksh",
        "perl": "perl",
        "lua": "lua",
        "r": "rscript",
        "make": "make gmake",
    }
)

_VERSION_SUFFIX = re.compile(r"[\d.]+$")


def detect_language(rel_path: str, head: str | None = None) -> str | None:
    """The language of a file, or None when neither its name nor its shebang says.

    `rel_path` is the repository-relative path (POSIX or Windows separators); `head` is the start of the
    file's text, consulted only when the name is not enough (extensionless scripts)."""
    name = posixpath.basename(rel_path.replace("\\", "/")).lower()
    if name in FILENAMES:
        return FILENAMES[name]
    root, dot, extension = name.rpartition(".")
    if dot and root:  # a leading dot alone (`.eslintrc`) is a hidden file, not an extension
        language = EXTENSIONS.get("." + extension)
        if language is not None:
            return language
    if head:
        return _from_shebang(head)
    return None


def _from_shebang(head: str) -> str | None:
    first_line = head.lstrip("\ufeff").split("\n", 1)[0].strip()
    if not first_line.startswith("#!"):
        return None
    words = first_line[2:].split()
    if not words:
        return None
    program = posixpath.basename(words[0])
    if program == "env":
        # `#!/usr/bin/env -S node --harmony`, `#!/usr/bin/env VAR=1 python3`: the first plain word.
        rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not rest:
            return None
        program = posixpath.basename(rest[0])
    return INTERPRETERS.get(_VERSION_SUFFIX.sub("", program.lower()) or program.lower())
