"""The phrase matcher that routing/risk.py was before concepts (kept here only as the bench's cost baseline).

A verbatim copy of routing/risk.py and routing/risk_phrases.txt as of commit 02a6a3f."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

# Highest first: the result level is the first of these that any phrase hit.
LEVELS = ("acuut", "hoog", "zorg")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

DEFAULT_PHRASES = Path(__file__).with_name("risk_baseline_phrases.txt")

# Chat language and common misspellings, mapped to the word an advisor would write in the phrase file.
# Applied to whole tokens only, after lowercasing and accent stripping, before letters are squeezed.
CHAT_WORDS: dict[str, str] = {
    "k": "ik",
    "'k": "ik",
    "ikke": "ik",
    "kb": "ik heb",
    "kheb": "ik heb",
    "kben": "ik ben",
    "kwil": "ik wil",
    "kga": "ik ga",
    "kzit": "ik zit",
    "kmoet": "ik moet",
    "kan't": "kan niet",
    "ff": "even",
    "m'n": "mijn",
    "mn": "mijn",
    "mijne": "mijn",
    "me": "mij",
    "mezelf": "mijzelf",
    "mzelf": "mijzelf",
    "z'n": "zijn",
    "zn": "zijn",
    "d'r": "haar",
    "dr": "haar",
    "ye": "je",
    "jy": "jij",
    "ie": "hij",
    "hy": "hij",
    "n": "een",
    "'n": "een",
    "'t": "het",
    "t": "het",
    "ma": "mama",
    "mam": "mama",
    "mamma": "mama",
    "mams": "mama",
    "pa": "papa",
    "pap": "papa",
    "pappa": "papa",
    "nie": "niet",
    "ni": "niet",
    "nt": "niet",
    "wiel": "wil",
    "wl": "wil",
    "wrm": "waarom",
    "da": "dat",
    "wa": "wat",
    "nx": "niks",
    "niets": "niks",
    "gwn": "gewoon",
    "egt": "echt",
    "tog": "toch",
    "hep": "heb",
    "hlp": "help",
    "hulp": "help",
    "pls": "alsjeblieft",
    "plz": "alsjeblieft",
    "aub": "alsjeblieft",
    "wordt": "word",
    "wort": "word",
    "wrd": "word",
    "snijd": "snij",
    "vermoordt": "vermoord",
    "dreigd": "dreigt",
    "slaad": "slaat",
    "schopd": "schopt",
}

_SQUEEZED_CHAT_WORDS = {re.sub(r"([a-z])(?=\1)", "", k): re.sub(r"([a-z])(?=\1)", "", v) for k, v in CHAT_WORDS.items()}
_APOSTROPHES = re.compile("[\u2019\u2018`\u00b4]")
_COMBINING = re.compile("[\u0300-\u036f]")
_REPEATS = re.compile(r"([a-z])\1{2,}")
# Deletes each letter that the same letter follows: "aa" -> "a"; a literal replacement keeps `sub` fast.
_DOUBLES = re.compile(r"([a-z])(?=\1)")
_WORDS = re.compile(r"[a-z0-9']+")
_PHRASE_TOKEN = re.compile(r"'?[a-z0-9]+(?:'[a-z0-9]+)*\*?")
_WORD = "[a-z0-9]"
# One word may sit between the words of a multi-word phrase ("slaat mij weer"), but not a negation:
# "ik wil niet dood" must not read as "ik wil dood".
_FILLER = rf"(?:(?!(?:niet|geen|nooit|nooi)\b){_WORD}+ )?"


def normalise(text: str) -> str:
    """Lowercase, strip accents, cap repeated letters at two, map chat words; words joined by one space."""
    text = _REPEATS.sub(r"\1\1", _plain(text))
    return " ".join([CHAT_WORDS.get(word) or word.replace("'", "") for word in _WORDS.findall(text)])


def _plain(text: str) -> str:
    """Lowercase ASCII-folded text with one kind of apostrophe."""
    text = _APOSTROPHES.sub("'", text)
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.casefold()


def _match_form(text: str) -> str:
    """What phrases and messages are compared in: like `normalise`, but every doubled letter squeezed first.

    Squeezing before the chat table is faster (no separate cap on repeats); "mee" then reads as "me", which is
    harmless because phrases go through the same steps."""
    text = _squeeze(_plain(text))
    return " ".join([_SQUEEZED_CHAT_WORDS.get(word) or word.replace("'", "") for word in _WORDS.findall(text)])


def _squeeze(text: str) -> str:
    # Vowel length and doubled consonants are the commonest misspellings ("slat", "heelp"): match on single letters.
    return _DOUBLES.sub("", text)


@dataclass(frozen=True)
class RiskResult:
    level: str | None
    signals: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    level: str
    text: str


def _phrase_words(phrase: str) -> list[tuple[str, bool]]:
    """The squeezed words of a phrase as written in the file, each with its wildcard flag."""
    lowered = _plain(phrase)
    if "*" in _PHRASE_TOKEN.sub("", lowered):
        raise ValueError("wildcard * only at the end of a word")
    words: list[tuple[str, bool]] = []
    for raw in _PHRASE_TOKEN.findall(lowered):
        tokens = _match_form(raw.rstrip("*")).split()
        words.extend((token, False) for token in tokens)
        if tokens and raw.endswith("*"):
            words[-1] = (tokens[-1], True)
    if not words:
        raise ValueError("no words in phrase")
    return words


def _word_pattern(word: str, wildcard: bool) -> str:
    return re.escape(word) + (f"{_WORD}*" if wildcard else "")


def _trie_pattern(words: set[tuple[str, bool]]) -> str:
    """One regex for many words that branches letter by letter: far faster in `re` than a flat alternation."""
    if ("", True) in words:
        return ""  # a wildcard ends here: any continuation matches
    branches = [f"(?!{_WORD})"] if ("", False) in words else []
    for letter in sorted({word[0] for word, _ in words if word}):
        rest = {(word[1:], wildcard) for word, wildcard in words if word[:1] == letter}
        branches.append(re.escape(letter) + _trie_pattern(rest))
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


_Group = tuple[re.Pattern[str], list[tuple[Phrase, re.Pattern[str]]]]
_WORD_CACHE_SIZE = 20_000


class RiskDetector:
    def __init__(self, phrases: list[Phrase]) -> None:
        # The same phrase twice counts at its highest level.
        best: dict[str, str] = {}
        for phrase in phrases:
            if phrase.text not in best or _RANK[phrase.level] < _RANK[best[phrase.text]]:
                best[phrase.text] = phrase.level
        self.phrases = tuple(Phrase(level, text) for text, level in best.items())
        # Phrases are grouped by their first word. A trie regex over all first words finds where a phrase can
        # start; only there the group's combined regex runs, and only if that hits, each phrase's own regex.
        groups: dict[tuple[str, bool], list[tuple[Phrase, str]]] = {}
        for phrase in self.phrases:
            words = _phrase_words(phrase.text)
            body = (" " + _FILLER).join(_word_pattern(word, wildcard) for word, wildcard in words)
            groups.setdefault(words[0], []).append((phrase, f"{body}(?!{_WORD})"))
        self._word_cache: dict[str, list[_Group]] = {}
        self._groups: dict[tuple[str, bool], _Group] = {
            first: (
                re.compile("|".join(f"(?:{body})" for _, body in members)),
                [(phrase, re.compile(body)) for phrase, body in members],
            )
            for first, members in groups.items()
        }
        self._prefix_lengths = sorted({len(word) for word, wildcard in groups if wildcard})
        self._starts = re.compile(f"(?<!{_WORD})" + _trie_pattern(set(groups))) if groups else None

    def _groups_for(self, word: str) -> list[_Group]:
        """The phrase groups whose first word (exact or wildcard prefix) is this word; cached, chats repeat words."""
        found = self._word_cache.get(word)
        if found is None:
            keys = [(word, False)] + [(word[:n], True) for n in self._prefix_lengths if n <= len(word)]
            found = [self._groups[key] for key in keys if key in self._groups]
            if len(self._word_cache) >= _WORD_CACHE_SIZE:
                self._word_cache.clear()
            self._word_cache[word] = found
        return found

    @classmethod
    def from_file(cls, path: str | Path) -> RiskDetector:
        return cls(parse_phrases(Path(path).read_text(encoding="utf-8")))

    def detect(self, text: str) -> RiskResult:
        if self._starts is None:
            return RiskResult(None, ())
        text = _match_form(text)
        hits: set[Phrase] = set()
        for start in self._starts.finditer(text):
            position = start.start()
            end = text.find(" ", position)
            word = text[position:end] if end >= 0 else text[position:]
            for group in self._groups_for(word):
                if group[0].match(text, position):
                    hits.update(phrase for phrase, regex in group[1] if regex.match(text, position))
        if not hits:
            return RiskResult(None, ())
        level = min((hit.level for hit in hits), key=_RANK.__getitem__)
        return RiskResult(level, tuple(sorted({hit.text for hit in hits})))


def parse_phrases(content: str) -> list[Phrase]:
    """`level<TAB>phrase` lines; `#` comments and blank lines are skipped. ValueError names the broken line."""
    phrases: list[Phrase] = []
    for number, line in enumerate(content.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        level, tab, phrase = line.partition("\t")
        level, phrase = level.strip(), phrase.strip()
        if not tab:
            raise ValueError(f"risk phrases line {number}: expected 'level<TAB>phrase', got {stripped!r}")
        if level not in _RANK:
            raise ValueError(
                f"risk phrases line {number}: unknown level {level!r} (expected one of {', '.join(LEVELS)})"
            )
        if not phrase:
            raise ValueError(f"risk phrases line {number}: empty phrase")
        try:
            _phrase_words(phrase)
        except ValueError as error:
            raise ValueError(f"risk phrases line {number}: {error}: {phrase!r}") from None
        phrases.append(Phrase(level, phrase))
    return phrases


@functools.cache
def default_detector() -> RiskDetector:
    return RiskDetector.from_file(DEFAULT_PHRASES)
