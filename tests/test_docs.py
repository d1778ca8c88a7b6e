"""The docs keep up with the menu: every init and activation option is documented."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path

import pytest

from initlab.config import GROUP_OPTIONS, TRUNCATED_STD_FACTOR

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "initializers.md"
README = ROOT / "README.md"
DOC_LINK = "(docs/initializers.md"


def _cells(line: str) -> list[str]:
    """The cells of a Markdown table row (escaped pipes, ``\\|``, stay inside their cell)."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Every table of a Markdown text, keyed by its header's first cell: its body rows."""
    tables: dict[str, list[list[str]]] = {}
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            block.append(line)
            continue
        if len(block) >= 2:
            tables[_cells(block[0])[0]] = [_cells(row) for row in block[2:]]
        block = []
    return tables


@pytest.fixture(scope="module")
def doc_tables() -> dict[str, list[list[str]]]:
    return _tables(DOC.read_text(encoding="utf-8"))


@pytest.mark.parametrize("group", ["init", "activation"])
def test_every_option_has_exactly_one_row(doc_tables, group):
    assert group in doc_tables, f"docs/initializers.md has no table headed '{group}'"
    names = [row[0] for row in doc_tables[group]]
    assert sorted(names) == sorted(f"`{option}`" for option in GROUP_OPTIONS[group])


@pytest.mark.parametrize("option", list(GROUP_OPTIONS["init"]))
def test_init_rows_state_the_defaults(doc_tables, option):
    """Each row names the option's parameters with their defaults, as conf/init/*.yaml has them."""
    row = " | ".join(next(r for r in doc_tables["init"] if r[0] == f"`{option}`"))
    node = GROUP_OPTIONS["init"][option]
    for key, value in vars(node).items():
        if key == "name":
            continue
        text = value.value if isinstance(value, Enum) else str(value)
        text = text.lower() if isinstance(value, bool) else text
        # mode and gain have their own columns; the other parameters read "`key` value".
        expected = text if key in ("mode", "gain") else f"`{key}` {text}"
        assert expected in row, f"{option}: expected {expected!r} in its row"


def test_truncated_normal_factor_is_the_codes():
    assert repr(TRUNCATED_STD_FACTOR)[:12] in DOC.read_text(encoding="utf-8")


def test_readme_lists_every_option_and_links_the_doc():
    readme = README.read_text(encoding="utf-8")
    for group in ("init", "activation"):
        missing = [o for o in GROUP_OPTIONS[group] if f"`{o}`" not in readme]
        assert not missing, f"README.md does not mention {group} options {missing}"
    assert DOC_LINK in readme
    assert DOC.is_file()
