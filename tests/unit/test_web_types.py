"""The dashboard lists the generation types once, in ``TYPES`` of
web/dashboard/format.js, and in the backend's order: index.html spells no type,
its type options and per-type metric cards are made from that list at start-up.
"""

from __future__ import annotations

import re
from pathlib import Path

from generations_live.domain.lifecycle import GenerationType

DASHBOARD = Path(__file__).resolve().parents[2] / "web" / "dashboard"
# `export const TYPES = {` up to the `};` that closes it, at the start of a line.
TYPES_LITERAL = re.compile(r"^export const TYPES = \{\n(?P<body>.*?)^\};", re.MULTILINE | re.DOTALL)
# One entry of it: `  image: { label: "Image", card: "AI Images" },`
TYPE_KEY = re.compile(r"^\s*(?P<key>\w+)\s*:\s*\{", re.MULTILINE)


def dashboard_types() -> list[str]:
    """The keys of ``TYPES`` in format.js, in the order they are written."""
    match = TYPES_LITERAL.search((DASHBOARD / "format.js").read_text())
    assert match, "format.js has no `export const TYPES = { ... };`"
    return [entry["key"] for entry in TYPE_KEY.finditer(match["body"])]


def test_the_dashboard_lists_the_backend_types_in_order() -> None:
    assert dashboard_types() == [t.value for t in GenerationType]


def test_index_html_spells_no_type_option_or_card() -> None:
    page = (DASHBOARD / "index.html").read_text()
    for type_ in GenerationType:
        value = re.escape(type_.value)
        assert not re.search(rf"<option\b[^>]*\bvalue\s*=\s*[\"']?{value}\b", page), type_
        assert not re.search(rf"\bdata-metric\s*=\s*[\"']?{value}\b", page), type_
