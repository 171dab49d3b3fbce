"""When the prefix is cut, the open file's imports and the headers enclosing the cursor stay, in file order,
above the nearest lines (exact strings)."""

from __future__ import annotations

from appliance.prompts.languages import get_language
from appliance.prompts.outline import keep_outline
from tests.appliance.prompts.conftest import chars_div_4

PY = get_language("python")
BODY = "".join(f"        step_{i} = work({i})\n" for i in range(40))
FILE = (
    "import os\n"
    "from shop.pricing import (\n"
    "    apply_discount,\n"
    "    tax_for,\n"
    ")\n"
    "\n"
    "LIMIT = 3\n"
    "\n"
    "\n"
    "class Checkout:\n"
    '    """Pays orders."""\n'
    "\n"
    "    def pay(self, order, prices):\n" + BODY + "        total = "
)


NEAREST = "".join(f"        step_{i} = work({i})\n" for i in range(29, 40)) + "        total = "


def test_imports_and_enclosing_headers_are_kept_above_the_nearest_lines() -> None:
    kept, tokens = keep_outline(FILE, 120, chars_div_4, PY)
    assert kept == (
        "import os\n"
        "from shop.pricing import (\n"
        "    apply_discount,\n"
        "    tax_for,\n"
        ")\n"
        "class Checkout:\n"
        "    def pay(self, order, prices):\n"
        "# ...\n" + NEAREST
    )
    assert tokens == sum(chars_div_4(line) for line in kept.splitlines(keepends=True)) <= 120


def test_a_prefix_that_fits_is_kept_whole() -> None:
    assert keep_outline(FILE, 10_000, chars_div_4, PY)[0] == FILE


def test_headers_come_first_and_a_statement_is_kept_whole_or_not_at_all() -> None:
    kept, _ = keep_outline(FILE, 60, chars_div_4, PY, outline_share=0.2)
    # The parenthesised import does not fit whole in 20% of 60: it is left out, never cut mid-statement.
    assert kept == "    def pay(self, order, prices):\n# ...\n" + NEAREST.split("\n", 5)[5]


def test_a_language_without_import_rules_keeps_its_enclosing_headers() -> None:
    lua = get_language("lua")
    body = "".join(f"  y{i} = x + {i}\n" for i in range(30))
    kept, _ = keep_outline("local M = {}\n\nfunction M.run(x)\n" + body + "  return ", 40, chars_div_4, lua)
    assert kept == "function M.run(x)\n-- ...\n" + body.split("\n", 23)[23] + "  return "
