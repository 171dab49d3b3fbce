"""What prompt building needs to know about a programming language: how to write a comment (context for models
without a repository format), how blocks end (post-processing), which words are keywords (identifier lookup
skips them) and which line starts mean "a new top-level definition" (multi-line stop sequences).

Top-level keywords follow Tabby's `crates/tabby-common/assets/languages.toml`; names follow the indexer's
language names, with the usual aliases."""

from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass
from typing import Literal

from indexer.languages.detect import detect_language

BlockStyle = Literal["indent", "braces"]


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    name: str
    line_comment: str | None = "//"
    block_comment: tuple[str, str] | None = None
    block_style: BlockStyle = "braces"
    # A line ending with one of these opens a block: the next line is its body (multi-line completion).
    block_openers: tuple[str, ...] = ("{", "(", "[")
    keywords: frozenset[str] = frozenset()
    top_level_keywords: tuple[str, ...] = ()

    def comment(self, text: str) -> str:
        """One line of `text` as a comment of this language (`text` must not contain a newline)."""
        if self.line_comment is not None:
            return f"{self.line_comment} {text}" if text else self.line_comment
        if self.block_comment is not None:
            start, end = self.block_comment
            return f"{start} {text} {end}" if text else f"{start} {end}"
        return f"# {text}" if text else "#"

    def multiline_stops(self) -> tuple[str, ...]:
        """Stop sequences for multi-line completion: a new top-level definition starts at column 0."""
        return tuple(f"\n{kw} " for kw in self.top_level_keywords)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_C_KEYWORDS = _words("""auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef union unsigned void
    volatile while bool true false NULL nullptr include define ifdef ifndef endif pragma""")
_CPP_EXTRA = _words("""class namespace template typename public private protected virtual override final new delete
    this throw try catch using operator friend explicit constexpr noexcept mutable std auto decltype""")
_JS_KEYWORDS = _words("""await break case catch class const continue debugger default delete do else export extends
    false finally for function if import in instanceof let new null return super switch this throw true try typeof
    undefined var void while with yield async of static get set from as console document window require module
    exports""")
_TS_EXTRA = _words("""interface type enum implements namespace declare readonly private public protected abstract
    any unknown never string number boolean symbol object keyof infer is""")
_GO_KEYWORDS = _words("""break case chan const continue default defer else fallthrough for func go goto if import
    interface map package range return select struct switch type var nil true false iota bool byte rune string int
    int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 uintptr float32 float64 error any append cap close copy
    delete len make new panic print println recover""")
_JAVA_KEYWORDS = _words("""abstract assert boolean break byte case catch char class const continue default do double
    else enum extends final finally float for goto if implements import instanceof int interface long native new
    package private protected public return short static strictfp super switch synchronized this throw throws
    transient try void volatile while true false null var String Object Override""")
_RUST_KEYWORDS = _words("""as async await break const continue crate dyn else enum extern false fn for if impl in
    let loop match mod move mut pub ref return self Self static struct super trait true type unsafe use where while
    i8 i16 i32 i64 i128 isize u8 u16 u32 u64 u128 usize f32 f64 bool char str String Vec Option Some None Result Ok
    Err Box println format""")
_CSHARP_KEYWORDS = _words("""abstract as base bool break byte case catch char checked class const continue decimal
    default delegate do double else enum event explicit extern false finally fixed float for foreach goto if
    implicit in int interface internal is lock long namespace new null object operator out override params private
    protected public readonly ref return sbyte sealed short sizeof static string struct switch this throw true try
    typeof uint ulong unchecked unsafe ushort using var virtual void volatile while async await get set""")
_RUBY_KEYWORDS = _words("""alias and begin break case class def defined do else elsif end ensure false for if in
    module next nil not or redo rescue retry return self super then true undef unless until when while yield
    require require_relative attr_accessor attr_reader puts""")
_PHP_KEYWORDS = _words("""abstract and array as break callable case catch class clone const continue declare
    default do echo else elseif empty enddeclare endfor endforeach endif endswitch endwhile extends final finally
    fn for foreach function global goto if implements include instanceof insteadof interface isset list match
    namespace new or print private protected public readonly require return static switch throw trait try unset
    use var while yield null true false this self""")
_KOTLIN_KEYWORDS = _words("""as break class continue do else false for fun if in interface is null object package
    return super this throw true try typealias typeof val var when while by catch constructor companion data enum
    finally get import init internal lateinit open override private protected public sealed set suspend""")
_BASH_KEYWORDS = _words("""if then else elif fi case esac for select while until do done in function time local
    export readonly return exit echo printf set unset shift source true false""")
_LUA_KEYWORDS = _words("""and break do else elseif end false for function goto if in local nil not or repeat
    return then true until while""")


# Builtins are never defined in the repository: looking them up only wastes the symbol stage's time.
_PYTHON_KEYWORDS = (
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins)) | {"self", "cls"}
)


_SPECS: dict[str, LanguageSpec] = {}


def _register(spec: LanguageSpec, *aliases: str) -> None:
    for key in (spec.name, *aliases):
        _SPECS[key] = spec


_register(
    LanguageSpec(
        "python",
        "#",
        None,
        "indent",
        (":", "(", "[", "{"),
        _PYTHON_KEYWORDS,
        ("def", "class", "from", "import", "if __name__", "async def", "@"),
    ),
    "py",
    "python3",
)
_register(
    LanguageSpec(
        "javascript",
        keywords=_JS_KEYWORDS,
        top_level_keywords=(
            "function",
            "class",
            "const",
            "let",
            "var",
            "export",
            "import",
            "async function",
            "module.exports",
        ),
    ),
    "js",
    "jsx",
    "javascriptreact",
)
_register(
    LanguageSpec(
        "typescript",
        keywords=_JS_KEYWORDS | _TS_EXTRA,
        top_level_keywords=(
            "function",
            "class",
            "const",
            "let",
            "var",
            "export",
            "import",
            "interface",
            "type",
            "enum",
            "abstract",
            "async function",
        ),
    ),
    "ts",
    "tsx",
    "typescriptreact",
)
_register(
    LanguageSpec(
        "go", keywords=_GO_KEYWORDS, top_level_keywords=("func", "type", "var", "const", "import", "package")
    ),
    "golang",
)
_register(
    LanguageSpec(
        "java",
        keywords=_JAVA_KEYWORDS,
        top_level_keywords=(
            "public class",
            "class",
            "interface",
            "enum",
            "import",
            "package",
            "abstract class",
            "final class",
            "record",
        ),
    )
)
_register(
    LanguageSpec(
        "kotlin",
        keywords=_KOTLIN_KEYWORDS,
        top_level_keywords=(
            "fun",
            "class",
            "data class",
            "object",
            "interface",
            "import",
            "package",
            "val",
            "var",
            "enum class",
            "sealed class",
        ),
    ),
    "kt",
    "kts",
)
_register(
    LanguageSpec(
        "rust",
        keywords=_RUST_KEYWORDS,
        top_level_keywords=(
            "fn",
            "pub fn",
            "struct",
            "pub struct",
            "enum",
            "pub enum",
            "impl",
            "trait",
            "pub trait",
            "mod",
            "pub mod",
            "use",
            "const",
            "static",
            "#[",
        ),
    ),
    "rs",
)
_register(
    LanguageSpec(
        "c",
        keywords=_C_KEYWORDS,
        top_level_keywords=(
            "static",
            "struct",
            "typedef",
            "enum",
            "union",
            "extern",
            "#include",
            "#define",
            "int",
            "void",
            "char",
        ),
    ),
    "h",
)
_register(
    LanguageSpec(
        "cpp",
        keywords=_C_KEYWORDS | _CPP_EXTRA,
        top_level_keywords=(
            "static",
            "struct",
            "class",
            "typedef",
            "enum",
            "union",
            "extern",
            "namespace",
            "template",
            "#include",
            "#define",
            "int",
            "void",
        ),
    ),
    "c++",
    "cc",
    "cxx",
    "hpp",
)
_register(
    LanguageSpec(
        "csharp",
        keywords=_CSHARP_KEYWORDS,
        top_level_keywords=(
            "using",
            "namespace",
            "public class",
            "class",
            "interface",
            "internal class",
            "public static class",
        ),
    ),
    "c_sharp",
    "c#",
    "cs",
)
_register(
    LanguageSpec(
        "php",
        keywords=_PHP_KEYWORDS,
        top_level_keywords=(
            "function",
            "class",
            "interface",
            "trait",
            "namespace",
            "use",
            "abstract class",
            "final class",
        ),
    )
)
_register(
    LanguageSpec(
        "ruby",
        "#",
        None,
        "indent",
        ("do", "then", "|", "{", "(", "["),
        _RUBY_KEYWORDS,
        ("def", "class", "module", "require", "require_relative"),
    ),
    "rb",
)
_register(
    LanguageSpec(
        "lua",
        "--",
        None,
        "indent",
        ("do", "then", "{", "(", "function()"),
        _LUA_KEYWORDS,
        ("function", "local function", "local"),
    )
)
_register(
    LanguageSpec("bash", "#", None, "indent", ("then", "do", "{", "in"), _BASH_KEYWORDS, ("function",)),
    "sh",
    "shell",
    "shellscript",
    "zsh",
)
_register(LanguageSpec("css", None, ("/*", "*/"), "braces", ("{",), frozenset(), ()), "scss", "less")
_register(
    LanguageSpec("html", None, ("<!--", "-->"), "indent", (">",), frozenset(), ()), "xml", "vue", "svelte"
)
_register(LanguageSpec("sql", "--", None, "indent", ("(",), frozenset(), ()))
_register(LanguageSpec("yaml", "#", None, "indent", (":",), frozenset(), ()), "yml", "toml")
_register(LanguageSpec("markdown", None, ("<!--", "-->"), "indent", (), frozenset(), ()), "md")
_TEXT = LanguageSpec("text", "#", None, "indent", (":", "{", "(", "["), frozenset(), ())
_register(_TEXT, "plaintext", "txt")


def get_language(language: str | None, path: str = "") -> LanguageSpec:
    """The spec for a language name (or alias), else the one the path's extension suggests, else plain text."""
    if language:
        spec = _SPECS.get(language.strip().lower())
        if spec is not None:
            return spec
    detected = detect_language(path) if path else None
    return _SPECS.get(detected, _TEXT) if detected else _TEXT


__all__ = ["BlockStyle", "LanguageSpec", "get_language"]
