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

__all__ = ["detect_language", "EXTENSIONS", "FILENAMES", "INTERPRETERS"]

EXTENSIONS: dict[str, str] = {
    # grammar languages
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".java": "java",
    ".rs": "rust",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hh": "cpp", ".hpp": "cpp", ".hxx": "cpp",
    ".h++": "cpp", ".ipp": "cpp", ".tpp": "cpp", ".inl": "cpp", ".ino": "cpp", ".cu": "cpp", ".cuh": "cpp",
    ".cs": "csharp", ".csx": "csharp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby", ".ru": "ruby", ".erb": "ruby",
    ".php": "php", ".phtml": "php", ".php8": "php", ".php7": "php",
    ".kt": "kotlin", ".kts": "kotlin",
    ".sh": "bash", ".bash": "bash", ".zsh": "bash", ".ksh": "bash", ".bats": "bash", ".command": "bash",
    # text languages, split by lines
    ".md": "markdown", ".markdown": "markdown", ".mdx": "markdown", ".rst": "rst", ".adoc": "asciidoc",
    ".txt": "text", ".text": "text",
    ".json": "json", ".jsonc": "json", ".json5": "json", ".jsonl": "json", ".ipynb": "json",
    ".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".ini": "ini", ".cfg": "ini", ".conf": "ini",
    ".properties": "properties",
    ".xml": "xml", ".xsd": "xml", ".xsl": "xml", ".svg": "xml", ".plist": "xml", ".csproj": "xml",
    ".pom": "xml",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".vue": "vue", ".svelte": "svelte",
    ".css": "css", ".scss": "scss", ".sass": "scss", ".less": "less",
    ".sql": "sql", ".graphql": "graphql", ".gql": "graphql", ".proto": "protobuf",
    ".lua": "lua", ".pl": "perl", ".pm": "perl", ".r": "r", ".scala": "scala", ".sc": "scala",
    ".swift": "swift",
    ".dart": "dart", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell", ".ml": "ocaml",
    ".clj": "clojure", ".groovy": "groovy", ".gradle": "groovy", ".ps1": "powershell", ".psm1": "powershell",
    ".bat": "batch", ".cmd": "batch", ".zig": "zig", ".nim": "nim", ".jl": "julia", ".tf": "hcl",
    ".hcl": "hcl", ".m": "objc", ".mm": "objc", ".fs": "fsharp", ".vb": "vbnet", ".f90": "fortran",
    ".asm": "asm", ".s": "asm",
    ".cmake": "cmake", ".mk": "make", ".tex": "latex", ".csv": "csv", ".tsv": "csv",
}

FILENAMES: dict[str, str] = {
    "makefile": "make", "gnumakefile": "make", "dockerfile": "dockerfile", "containerfile": "dockerfile",
    "cmakelists.txt": "cmake", "rakefile": "ruby", "gemfile": "ruby", "podfile": "ruby",
    "vagrantfile": "ruby",
    "brewfile": "ruby", "guardfile": "ruby", "jenkinsfile": "groovy", "justfile": "make",
    ".bashrc": "bash", ".bash_profile": "bash", ".bash_logout": "bash", ".profile": "bash", ".zshrc": "bash",
    ".zprofile": "bash", "pkgbuild": "bash", "apkbuild": "bash",
    "readme": "text", "license": "text", "copying": "text", "authors": "text", "changelog": "text",
    ".gitignore": "text", ".gitattributes": "text", ".dockerignore": "text", ".editorconfig": "ini",
    "pipfile": "toml", "cargo.lock": "toml", "go.mod": "text", "go.sum": "text",
}

# Interpreter in a shebang line -> language. Versions are stripped first: python3.12 -> python.
INTERPRETERS: dict[str, str] = {
    "python": "python", "pypy": "python",
    "node": "javascript", "nodejs": "javascript", "bun": "javascript",
    "deno": "typescript", "ts-node": "typescript", "tsx": "typescript",
    "ruby": "ruby", "jruby": "ruby", "php": "php", "kotlin": "kotlin",
    "sh": "bash", "bash": "bash", "dash": "bash", "zsh": "bash", "ksh": "bash", "ash": "bash", "mksh": "bash",
    "perl": "perl", "lua": "lua", "rscript": "r", "make": "make", "gmake": "make",
}

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
