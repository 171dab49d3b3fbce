"""Symbols per language: the definitions (name, kind, container) found in each realistic fixture, read off the
fixture by hand, and chunk symbol paths that agree with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunking import parse_file
from indexer.languages import GRAMMAR_LANGUAGES, detect_language

FIXTURES = Path(__file__).parent.parent / "fixtures" / "languages"

EXPECTED: dict[str, list[tuple[str, str, str]]] = {
    "session.py": [
        ("DEFAULT_TIMEOUT", "constant", ""),
        ("MAX_RETRIES", "constant", ""),
        ("TransportError", "class", ""),
        ("Response", "class", ""),
        ("ok", "method", "class Response"),
        ("text", "method", "class Response"),
        ("Session", "class", ""),
        ("__init__", "method", "class Session"),
        ("send", "method", "class Session"),
        ("get", "method", "class Session"),
        ("_backoff", "method", "class Session"),
        ("Stats", "class", "class Session"),
        ("__init__", "method", "class Session > class Stats"),
        ("bump", "method", "class Session > class Stats"),
        ("paginate", "function", ""),
        ("page_url", "function", "def paginate"),
        ("fetch_all", "function", ""),
    ],
    "router.js": [
        ("splitPath", "function", ""),
        ("Route", "class", ""),
        ("constructor", "method", "class Route"),
        ("match", "method", "class Route"),
        ("Router", "class", ""),
        ("constructor", "method", "class Router"),
        ("use", "method", "class Router"),
        ("add", "method", "class Router"),
        ("handle", "method", "class Router"),
        ("runChain", "function", ""),  # const runChain = async (...) => {...}
        ("routeNames", "function", ""),  # generator function
    ],
    "cache.ts": [
        ("CacheOptions", "interface", ""),
        ("Listener", "type", ""),
        ("EvictionReason", "enum", ""),
        ("Entry", "interface", ""),
        ("Clock", "class", ""),
        ("now", "method", "class Clock"),  # abstract method signature
        ("SystemClock", "class", ""),
        ("now", "method", "class SystemClock"),
        ("LruCache", "class", ""),
        ("constructor", "method", "class LruCache"),
        ("size", "method", "class LruCache"),  # getter
        ("get", "method", "class LruCache"),
        ("set", "method", "class LruCache"),
        ("onEvict", "method", "class LruCache"),
        ("evict", "method", "class LruCache"),
        ("Caches", "module", ""),
        ("create", "function", "namespace Caches"),
        ("memoize", "function", ""),
    ],
    "TodoList.tsx": [
        ("Todo", "interface", ""),
        ("Filter", "type", ""),
        ("TodoItemProps", "interface", ""),
        ("TodoItem", "function", ""),
        ("FilterBar", "function", ""),
        ("TodoStore", "class", ""),
        ("constructor", "method", "class TodoStore"),
        ("add", "method", "class TodoStore"),
        ("toggle", "method", "class TodoStore"),
        ("TodoList", "function", ""),
        ("submit", "function", "function TodoList"),
    ],
    "ratelimit.go": [
        ("defaultBurst", "constant", ""),
        ("Clock", "interface", ""),
        ("realClock", "struct", ""),
        ("Now", "method", ""),  # Go methods are top level: the container is lexical
        ("Bucket", "struct", ""),
        ("Take", "method", ""),
        ("Limiter", "struct", ""),
        ("New", "function", ""),
        ("Allow", "method", ""),
        ("Sweep", "method", ""),
        ("min", "function", ""),
    ],
    "InventoryService.java": [
        ("InventoryService", "class", ""),
        ("MovementKind", "enum", "class InventoryService"),
        ("Movement", "record", "class InventoryService"),
        ("Listener", "interface", "class InventoryService"),
        ("onLowStock", "method", "class InventoryService > interface Listener"),
        ("InventoryService", "constructor", "class InventoryService"),
        ("InventoryService", "constructor", "class InventoryService"),
        ("receive", "method", "class InventoryService"),
        ("ship", "method", "class InventoryService"),
        ("level", "method", "class InventoryService"),
        ("history", "method", "class InventoryService"),
        ("requirePositive", "method", "class InventoryService"),
        ("OutOfStockException", "class", "class InventoryService"),
        ("OutOfStockException", "constructor", "class InventoryService > class OutOfStockException"),
    ],
    "parser.rs": [
        ("ParseError", "struct", ""),
        ("fmt", "method", "impl ParseError"),
        ("Section", "type", ""),
        ("LineKind", "enum", ""),
        ("Source", "trait", ""),
        ("name", "method", "trait Source"),
        ("Document", "struct", ""),
        ("parse", "method", "impl Document"),
        ("get", "method", "impl Document"),
        ("classify", "function", ""),
        ("section", "macro", ""),
        ("tests_support", "module", ""),
        ("SAMPLE", "constant", "mod tests_support"),
        ("sample_port", "function", "mod tests_support"),
    ],
    "ringbuf.c": [
        ("RING_MIN_CAPACITY", "macro", ""),
        ("ring_t", "type", ""),
        ("ring", "struct", "typedef ring_t"),
        ("ring_status", "enum", ""),
        ("word", "union", ""),
        ("ring_new", "function", ""),  # returns a pointer: the name sits under a pointer declarator
        ("ring_free", "function", ""),
        ("ring_push", "function", ""),
        ("ring_pop", "function", ""),
        ("ring_read_line", "function", ""),
        ("ring_each", "function", ""),
        ("next_pow2", "function", ""),  # the prototype on line 30 is not a definition
    ],
    "matrix.cpp": [
        ("linalg", "module", ""),
        ("Shape", "struct", "namespace linalg"),
        ("operator==", "method", "namespace linalg > struct Shape"),
        ("Norm", "enum", "namespace linalg"),
        ("Matrix", "class", "namespace linalg"),
        ("Matrix", "method", "namespace linalg > class Matrix"),
        ("identity", "method", "namespace linalg > class Matrix"),
        ("operator()", "method", "namespace linalg > class Matrix"),
        ("operator()", "method", "namespace linalg > class Matrix"),
        ("shape", "method", "namespace linalg > class Matrix"),
        ("multiply", "method", "namespace linalg"),  # Matrix::multiply, defined out of the class
        ("norm", "method", "namespace linalg"),
        ("clamp", "function", "namespace linalg"),
        ("nearly_equal", "function", "namespace linalg"),
    ],
    "OrderProcessor.cs": [
        ("Shop.Orders", "module", ""),
        ("OrderState", "enum", "namespace Shop.Orders"),
        ("OrderLine", "record", "namespace Shop.Orders"),
        ("IPaymentGateway", "interface", "namespace Shop.Orders"),
        ("ChargeAsync", "method", "namespace Shop.Orders > interface IPaymentGateway"),
        ("Money", "struct", "namespace Shop.Orders"),
        ("Amount", "property", "namespace Shop.Orders > struct Money"),
        ("Currency", "property", "namespace Shop.Orders > struct Money"),
        ("Money", "constructor", "namespace Shop.Orders > struct Money"),
        ("ToString", "method", "namespace Shop.Orders > struct Money"),
        ("Order", "class", "namespace Shop.Orders"),
        ("Id", "property", "namespace Shop.Orders > class Order"),
        ("CustomerId", "property", "namespace Shop.Orders > class Order"),
        ("Lines", "property", "namespace Shop.Orders > class Order"),
        ("State", "property", "namespace Shop.Orders > class Order"),
        ("Total", "property", "namespace Shop.Orders > class Order"),
        ("OrderProcessor", "class", "namespace Shop.Orders"),
        ("OrderProcessor", "constructor", "namespace Shop.Orders > class OrderProcessor"),
        ("Place", "method", "namespace Shop.Orders > class OrderProcessor"),
        ("PayAsync", "method", "namespace Shop.Orders > class OrderProcessor"),
        ("Ship", "method", "namespace Shop.Orders > class OrderProcessor"),
        ("Find", "method", "namespace Shop.Orders > class OrderProcessor"),
    ],
    "bank_account.rb": [
        ("Banking", "module", ""),
        ("InsufficientFunds", "class", "module Banking"),
        ("initialize", "method", "module Banking > class InsufficientFunds"),
        ("Auditable", "module", "module Banking"),
        ("audit_log", "method", "module Banking > module Auditable"),
        ("record", "method", "module Banking > module Auditable"),
        ("Account", "class", "module Banking"),
        ("open", "method", "module Banking > class Account"),  # def self.open
        ("initialize", "method", "module Banking > class Account"),
        ("deposit", "method", "module Banking > class Account"),
        ("withdraw", "method", "module Banking > class Account"),
        ("statement", "method", "module Banking > class Account"),
        ("<=>", "method", "module Banking > class Account"),
        ("registry", "method", "module Banking > class Account > class << self"),
        ("to_s", "method", "module Banking > class Account"),  # alias to_s owner
        ("overdrawn?", "method", "module Banking > class Account"),
        ("transfer", "method", "module Banking"),
    ],
    "UserRepository.php": [
        ("App\\Repository", "module", ""),
        ("DEFAULT_PAGE_SIZE", "constant", ""),
        ("UserFinder", "interface", ""),
        ("findById", "method", "interface UserFinder"),
        ("Timestamps", "trait", ""),
        ("createdAt", "field", "trait Timestamps"),
        ("touch", "method", "trait Timestamps"),
        ("UserRepository", "class", ""),
        ("pdo", "field", "class UserRepository"),
        ("cache", "field", "class UserRepository"),
        ("__construct", "method", "class UserRepository"),
        ("findById", "method", "class UserRepository"),
        ("page", "method", "class UserRepository"),
        ("save", "method", "class UserRepository"),
        ("hydrate", "method", "class UserRepository"),
        ("normalize_email", "function", ""),
    ],
    "EventBus.kt": [
        ("MAX_HANDLERS", "constant", ""),
        ("Handler", "type", ""),
        ("Event", "class", ""),
        ("UserCreated", "class", "class Event"),
        ("UserDeleted", "class", "class Event"),
        ("Delivery", "enum", ""),
        ("Subscription", "interface", ""),
        ("cancel", "method", "interface Subscription"),
        ("EventBus", "class", ""),
        ("subscribe", "method", "class EventBus"),
        ("cancel", "function", "class EventBus > fun subscribe"),  # in an object expression
        ("publish", "method", "class EventBus"),
        ("default", "method", "class EventBus > companion object"),
        ("describe", "method", "class EventBus > companion object"),
        ("GlobalBus", "object", ""),
        ("publish", "method", "object GlobalBus"),
        ("publishAll", "function", ""),  # extension functions
        ("on", "function", ""),
    ],
    "deploy.sh": [
        ("log", "function", ""),
        ("die", "function", ""),
        ("usage", "function", ""),
        ("run", "function", ""),
        ("build", "function", ""),
        ("upload", "function", ""),  # the `function upload {` form
        ("activate", "function", ""),
        ("prune", "function", ""),
        ("main", "function", ""),
    ],
}


def parse_fixture(name: str, budget: int = 1500):
    text = (FIXTURES / name).read_text(encoding="utf-8")
    language = detect_language(name, text[:256])
    return text, parse_file(text, language, budget=budget)


def test_fixtures_cover_every_grammar_language():
    languages = {detect_language(name) for name in EXPECTED}
    assert languages == set(GRAMMAR_LANGUAGES)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_symbols(name: str):
    _, parsed = parse_fixture(name)
    assert parsed.parser == "tree-sitter"
    assert [(s.name, s.kind, s.container) for s in parsed.symbols] == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_symbol_lines_lie_in_the_file_and_name_the_definition(name: str):
    text, parsed = parse_fixture(name)
    lines = text.split("\n")
    for symbol in parsed.symbols:
        assert 1 <= symbol.start_line <= symbol.end_line <= len(lines)
        span = "\n".join(lines[symbol.start_line - 1 : symbol.end_line])
        assert symbol.name.split("\\")[-1].split(".")[-1] in span


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("budget", [150, 400, 1500])
def test_chunk_paths_name_definitions_inside_the_chunk(name: str, budget: int):
    """A chunk's symbol path ends with a definition (or container) that overlaps the chunk's lines."""
    _, parsed = parse_fixture(name, budget)
    containers = {s.container for s in parsed.symbols}
    for chunk in parsed.chunks:
        if not chunk.symbol:
            continue
        *outer, last = chunk.symbol.split(" > ")
        defs = [
            s
            for s in parsed.symbols
            if s.container == " > ".join(outer) and (last == s.name or last.endswith(" " + s.name))
        ]
        if defs:
            assert any(s.start_line <= chunk.end_line and s.end_line >= chunk.start_line for s in defs), chunk
        else:  # a path-only container (impl, companion object, class << self)
            assert chunk.symbol in containers, chunk


def test_python_paths_use_class_and_def():
    _, parsed = parse_fixture("session.py", budget=300)
    assert "class Session > def send" in {c.symbol for c in parsed.chunks}


def test_rust_paths_use_impl_and_fn():
    _, parsed = parse_fixture("parser.rs", budget=300)
    assert "impl Document > fn parse" in {c.symbol for c in parsed.chunks}


def test_kotlin_methods_in_a_companion_object():
    _, parsed = parse_fixture("EventBus.kt", budget=60)
    paths = {c.symbol for c in parsed.chunks}
    assert "class EventBus > companion object > fun describe" in paths
