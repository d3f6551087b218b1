"""The README quotes real files: every ``<!-- snippet: PATH -->`` marker is
followed by a fenced code block equal to that file, so a documented example is
code that a test runs (``web/live-feed.js`` is run by tests/e2e/test_listener.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# The marker, then (after blank lines at most) a fence of 3+ backticks or
# tildes with an optional info string, the body, and the same fence closing it.
SNIPPET = re.compile(
    r"^<!--\s*snippet:\s*(?P<path>\S+)\s*-->[ \t]*\n"
    r"(?:[ \t]*\n)*"
    r"(?P<fence>`{3,}|~{3,})[^\n]*\n"
    r"(?P<body>.*?)"
    r"^(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"<!--\s*snippet:", re.MULTILINE)


def normalized(text: str) -> str:
    """The text without trailing whitespace, on each line and at the end."""
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


def snippets(readme: str) -> list[tuple[str, str]]:
    return [(match["path"], match["body"]) for match in SNIPPET.finditer(readme)]


def test_the_readme_quotes_files_verbatim() -> None:
    assert README.is_file(), "README.md is missing"
    readme = README.read_text()
    found = snippets(readme)
    assert found, "README.md has no <!-- snippet: PATH --> marker"
    assert len(found) == len(MARKER.findall(readme)), (
        "a snippet marker is not followed by a fenced code block"
    )
    for path, body in found:
        source = (ROOT / path).resolve()
        assert source.is_relative_to(ROOT), f"{path} is outside the repository"
        assert source.is_file(), f"{path} is not a file"
        assert normalized(body) == normalized(source.read_text()), (
            f"the README's copy of {path} differs from the file: paste it again"
        )


@pytest.mark.parametrize(
    ("readme", "expected"),
    [
        ("<!-- snippet: web/a.js -->\n```js\nlet a;\n```\n", [("web/a.js", "let a;\n")]),
        ("<!-- snippet: a.py -->\n\n````python\n```\n````\n", [("a.py", "```\n")]),
        ("<!-- snippet: a.js -->\n```js\n```\n", [("a.js", "")]),
        ("<!-- snippet: a.js -->\ntext\n```js\nx\n```\n", []),
        ("```js\nx\n```\n", []),
    ],
)
def test_snippet_markers_are_parsed(readme: str, expected: list[tuple[str, str]]) -> None:
    assert snippets(readme) == expected


def test_normalized_ignores_only_trailing_whitespace() -> None:
    assert normalized("a  \n\tb\n\n") == normalized("a\n\tb")
    assert normalized(" a") != normalized("a")
