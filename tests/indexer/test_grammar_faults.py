"""Files that crash a grammar's own native scanner must still index: a segfault there would kill the indexer (and
the server indexing through it), not raise an error anyone could catch."""

from __future__ import annotations

import subprocess
import sys

from indexer.chunking import parse_file

# tree-sitter-bash's brace-range scanner reads C's ctype table at the code point after `{`: above U+00FF that
# is out of bounds, and whether the read faults depends on where the process's libraries were mapped. Each run
# below is a fresh process (a new layout); unguarded, about half of them die.
_CRASHERS = r"""
from indexer.chunking import parse_file
for cp in range(0x80000, 0x110000, 0x800):
    for text in ("echo x{%s}\n" % chr(cp), "x{1..%s\n" % chr(cp), "{%s" % chr(cp)):
        parsed = parse_file(text, "bash")
        assert "".join(c.text for c in parsed.chunks) == text
print("parsed")
"""


def test_bash_brace_after_a_high_code_point_does_not_crash_the_process():
    for _ in range(6):
        run = subprocess.run([sys.executable, "-c", _CRASHERS], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
        assert run.stdout.strip() == "parsed"


def test_bash_definitions_keep_their_names_beyond_latin1():
    text = '函数_über() {\n  echo "{\U000f0000}"\n}\n\nplain() { echo ok; }\n'
    parsed = parse_file(text, "bash")
    assert parsed.parser == "tree-sitter"
    assert [s.name for s in parsed.symbols] == ["函数_über", "plain"]
    assert "".join(c.text for c in parsed.chunks) == text
