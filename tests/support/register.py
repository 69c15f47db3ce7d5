"""The register of processing in docs/privacy.md, read the way the tests need it."""

from __future__ import annotations

from pathlib import Path

PRIVACY = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
PERSONAL_VALUES = ("yes", "hash", "staff", "no")


def register() -> dict[tuple[str, str], dict[str, str]]:
    """(table, column) → the row, from the Markdown table between the register markers."""
    text = PRIVACY.read_text(encoding="utf-8")
    block = text.split("<!-- register:start -->", 1)[1].split("<!-- register:end -->", 1)[0]
    lines = [line.strip() for line in block.strip().splitlines()]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        row = dict(zip(header, cells, strict=True))
        key = (row["table"], row["column"])
        if key in rows:
            raise AssertionError(f"{key} is in the register twice")
        rows[key] = row
    return rows


def personal_columns() -> dict[str, list[str]]:
    """Table → its columns marked `yes` (emptied by the purge of their contact)."""
    out: dict[str, list[str]] = {}
    for (table, column), row in register().items():
        if row["personal"] == "yes":
            out.setdefault(table, []).append(column)
    return out
