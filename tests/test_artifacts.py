"""Static checks of infra/openapi.yaml and infra/seed/books.json (no stack needed)."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest
import yaml
from jsonschema import Draft202012Validator

from support import (
    SPEC_PATH,
    bad_checksum,
    fold,
    hyphenate,
    isbn13,
    isbn13_check_digit,
    isbn13_valid,
    load_seed,
)


@pytest.fixture(scope="module")
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def test_openapi_document_is_valid(spec):
    from openapi_spec_validator import validate

    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_openapi_describes_every_catalog_route(spec):
    ops = {(p, m) for p, item in spec["paths"].items() for m in item if m != "parameters"}
    assert ops == {
        ("/v1/books", "get"), ("/v1/books", "post"),
        ("/v1/books/{id}", "get"), ("/v1/books/{id}", "put"), ("/v1/books/{id}", "delete"),
    }
    for path, method in ops:
        op = spec["paths"][path][method]
        if method == "get":
            assert op["security"] == [] and "304" in op["responses"]
        else:
            assert op["security"] == [{"cognitoJwt": []}]
            assert {"401", "403"} <= set(op["responses"])


def _bookinput_schema(spec: dict) -> dict:
    schemas = copy.deepcopy(spec["components"]["schemas"])
    s = schemas["BookInput"]
    s["properties"]["price"] = schemas["Money"]
    return s


def test_seed_has_enough_real_looking_books():
    books = load_seed()
    assert len(books) >= 55
    authors = Counter(b["author"] for b in books)
    assert len(authors) >= 12
    assert sum(1 for n in authors.values() if n >= 3) >= 5
    assert len({g for b in books for g in b["genres"]}) >= 6
    for name in ("George Orwell", "F. Scott Fitzgerald", "Jane Austen", "Gabriel García Márquez"):
        assert name in authors
    titles = {b["title"]: b for b in books}
    assert titles["1984"]["isbn"] == "9780451524935"
    assert titles["The Great Gatsby"]["isbn"] == "9780743273565"
    assert any(fold(t) != t.casefold() for t in titles), "need an accented title"


def test_seed_isbns_valid_and_distinct():
    books = load_seed()
    isbns = [b["isbn"] for b in books]
    assert len(set(isbns)) == len(isbns)
    bad = [b["title"] for b in books if not isbn13_valid(b["isbn"])]
    assert not bad, f"invalid ISBN-13: {bad}"


def test_seed_books_conform_to_bookinput_schema(spec):
    validator = Draft202012Validator(_bookinput_schema(spec))
    for b in load_seed():
        errors = [e.message for e in validator.iter_errors(b)]
        assert not errors, (b["title"], errors)
        assert b["price"]["currency"] == "USD"
        assert b["description"] and len(b["description"]) < 400


def test_seed_titles_and_folded_titles_unique():
    titles = [b["title"] for b in load_seed()]
    assert len({fold(t) for t in titles}) == len(titles)


def test_isbn_helpers():
    assert isbn13_check_digit("978045152493") == "5"
    assert isbn13_valid("9780451524935")
    assert not isbn13_valid(bad_checksum("9780451524935"))
    assert not isbn13_valid("9770451524935")
    for _ in range(50):
        i = isbn13()
        assert isbn13_valid(i) and i.startswith("979")
    assert re.fullmatch(r"\d{3}-\d-\d{3}-\d{5}-\d", hyphenate("9780451524935"))
