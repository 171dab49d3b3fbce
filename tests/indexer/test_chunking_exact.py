"""Exact chunk line ranges and symbol paths on small hand-written files, worked out by hand from the algorithm:
greedy merge of siblings within the budget, descent into nodes over it, boundaries at line starts, comments
kept with what follows them, a split node closed at its end."""

from __future__ import annotations

from indexer.chunking import parse_file

PYTHON = '''\
"""Billing helpers."""

import decimal

RATE = decimal.Decimal("0.2")


class Invoice:
    """A customer's invoice."""

    def __init__(self, lines):
        self.lines = list(lines)

    def subtotal(self):
        total = decimal.Decimal(0)
        for line in self.lines:
            total += line.price * line.quantity
        return total

    # Tax is charged on the subtotal only.
    def tax(self):
        return self.subtotal() * RATE


def total(invoice):
    return invoice.subtotal() + invoice.tax()


def fmt(amount):
    return f"{amount:.2f}"
'''

GO = """\
package shapes

import "math"

// Shape is anything with an area.
type Shape interface {
\tArea() float64
}

type Circle struct {
\tR float64
}

// Area of the circle.
func (c Circle) Area() float64 {
\treturn math.Pi * c.R * c.R
}

func Largest(shapes []Shape) Shape {
\tvar best Shape
\tfor _, s := range shapes {
\t\tif best == nil || s.Area() > best.Area() {
\t\t\tbest = s
\t\t}
\t}
\treturn best
}
"""


def layout(text: str, language: str, budget: int) -> list[tuple[int, int, str]]:
    parsed = parse_file(text, language, budget=budget)
    assert "".join(c.text for c in parsed.chunks) == text
    return [(c.start_line, c.end_line, c.symbol) for c in parsed.chunks]


def test_python_fits_in_one_chunk_at_the_default_budget():
    # Three top-level definitions in one chunk: the path is their enclosing one, the module ("").
    assert layout(PYTHON, "python", 1500) == [(1, 30, "")]


def test_python_budget_120_splits_the_class_between_methods():
    assert layout(PYTHON, "python", 120) == [
        (1, 7, ""),  # docstring, import, constant (61): the class (~250) does not fit and is split
        (8, 13, "class Invoice > def __init__"),  # the header stays with the first method
        (14, 19, "class Invoice > def subtotal"),  # 104 characters: the comment below would overflow it
        (20, 24, "class Invoice > def tax"),  # the comment opens the chunk of the method it describes
        (25, 30, ""),  # the class is closed; two small functions merge: no single definition
    ]


def test_python_budget_60_splits_inside_a_method_at_statements():
    assert layout(PYTHON, "python", 60) == [
        (1, 4, ""),
        (5, 7, ""),  # a constant is a symbol, not a path segment
        (8, 10, "class Invoice"),  # header and docstring
        (11, 13, "class Invoice > def __init__"),
        (14, 15, "class Invoice > def subtotal"),  # the signature stays with the first statement
        (16, 17, "class Invoice > def subtotal"),
        (18, 19, "class Invoice > def subtotal"),
        (20, 20, "class Invoice"),  # comment + tax would be 70 > 60
        (21, 24, "class Invoice > def tax"),
        (25, 28, "def total"),
        (29, 30, "def fmt"),
    ]


def test_python_chunk_text_starts_at_line_starts_with_indentation():
    chunks = parse_file(PYTHON, "python", budget=120).chunks
    assert chunks[2].text.startswith("    def subtotal(self):\n")
    assert chunks[3].text.startswith("    # Tax is charged")
    assert chunks[1].text.endswith("        self.lines = list(lines)\n\n")


def test_go_budget_70():
    assert layout(GO, "go", 70) == [
        (1, 4, ""),
        (5, 9, "type Shape"),  # the comment travels with the type
        (10, 13, "type Circle"),
        (14, 18, "func Area"),  # Go methods are top level: the path is lexical, without the receiver
        (19, 20, "func Largest"),
        (21, 25, "func Largest"),
        (26, 27, "func Largest"),
    ]


def test_python_symbols_exact():
    symbols = parse_file(PYTHON, "python").symbols
    assert [(s.name, s.kind, s.start_line, s.end_line, s.container) for s in symbols] == [
        ("RATE", "constant", 5, 5, ""),
        ("Invoice", "class", 8, 22, ""),
        ("__init__", "method", 11, 12, "class Invoice"),
        ("subtotal", "method", 14, 18, "class Invoice"),
        ("tax", "method", 21, 22, "class Invoice"),
        ("total", "function", 25, 26, ""),
        ("fmt", "function", 29, 30, ""),
    ]


def test_go_symbols_exact():
    symbols = parse_file(GO, "go").symbols
    assert [(s.name, s.kind, s.start_line, s.end_line, s.container) for s in symbols] == [
        ("Shape", "interface", 6, 8, ""),
        ("Circle", "struct", 10, 12, ""),
        ("Area", "method", 15, 17, ""),
        ("Largest", "function", 19, 27, ""),
    ]
