"""The Dutch municipalities (gemeenten) a melding can be about: the CBS list shipped as data
(`contact/data/gemeenten.txt`), and how a typed name is recognised.

A melding goes to the Veilig Thuis region of its gemeente, so the name must be one that exists:
typed with other capitals, without accents ("Sudwest-Fryslan"), or by its everyday name ("Den
Haag", "Den Bosch", "Nuenen", "Bergen (NH)") it is recognised and stored in the CBS spelling;
anything else is refused. Plain module: no I/O after the first read."""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

# Everyday names people type for a gemeente whose CBS name is different.
ALIASES = {
    "den haag": "'s-Gravenhage",
    "the hague": "'s-Gravenhage",
    "s-gravenhage": "'s-Gravenhage",
    "den bosch": "'s-Hertogenbosch",
    "s-hertogenbosch": "'s-Hertogenbosch",
    "nuenen": "Nuenen, Gerwen en Nederwetten",
    "nuenen c.a.": "Nuenen, Gerwen en Nederwetten",
    "bergen (nh)": "Bergen (NH.)",
    "bergen nh": "Bergen (NH.)",
    "bergen (noord-holland)": "Bergen (NH.)",
    "bergen (l)": "Bergen (L.)",
    "bergen l": "Bergen (L.)",
    "bergen (limburg)": "Bergen (L.)",
}


def _key(name: str) -> str:
    """Case, accents, curly apostrophes and spacing do not matter."""
    folded = unicodedata.normalize("NFKD", name.replace("\u2019", "'")).encode("ascii", "ignore").decode()
    return " ".join(folded.lower().split())


@cache
def _load() -> tuple[str, tuple[str, ...]]:
    text = resources.files("contact").joinpath("data/gemeenten.txt").read_text(encoding="utf-8")
    as_of = ""
    names: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("# as_of:"):
            as_of = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            names.append(line)
    return as_of, tuple(names)


def all_gemeenten() -> tuple[str, ...]:
    """Every gemeente in the CBS spelling, in the order of the file (by province)."""
    return _load()[1]


def as_of() -> str:
    """The date of the municipal division the list follows (YYYY-MM-DD)."""
    return _load()[0]


@cache
def _index() -> dict[str, str]:
    index = {_key(n): n for n in all_gemeenten()}
    for alias, official in ALIASES.items():
        index.setdefault(_key(alias), official)
    return index


def official(name: str) -> str | None:
    """The CBS name of the gemeente `name` means, or None when it is not a Dutch gemeente."""
    return _index().get(_key(name))
