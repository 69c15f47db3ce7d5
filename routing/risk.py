"""Detect danger (acute danger, abuse, threats, self-harm, neglect) in Dutch visitor chat messages.

Words are reduced to their lemma (simplemma's Dutch dictionary: "sloeg", "geslagen" -> "slaan") and their
Snowball stem, and matched against concepts (`risk/concepts.toml`: violence, weapon, threat, victim, ...).
Rules in the same file combine concepts ("weapon + person -> acuut"). Fixed phrases (`risk/phrases.txt`,
`level<TAB>phrase`) add what is easier written out whole. Supervisors extend both files without code; a broken
file is refused at load with the line that is wrong. Detection itself is pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import simplemma
import Stemmer

# Highest first: the result level is the first of these that any signal hit.
LEVELS = ("acuut", "hoog", "zorg")
_RANK = {level: rank for rank, level in enumerate(LEVELS)}

DATA = Path(__file__).with_name("risk")
DEFAULT_CONCEPTS = DATA / "concepts.toml"
DEFAULT_PHRASES = DATA / "phrases.txt"
DEFAULT_MODEL = DATA / "model.tsv"

# Chat language and common misspellings, mapped to the word the lemmatizer knows.
# Applied to whole tokens, after lowercasing and accent stripping.
CHAT_WORDS: dict[str, str] = {
    "k": "ik",
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
    "mijzelf": "mijzelf",
    "z'n": "zijn",
    "zn": "zijn",
    "d'r": "haar",
    "dr": "haar",
    "ye": "je",
    "jy": "jij",
    "ie": "hij",
    "hy": "hij",
    "hem": "hem",
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
    "nooi": "nooit",
    "wiel": "wil",
    "wl": "wil",
    "wrm": "waarom",
    "da": "dat",
    "wa": "wat",
    "nx": "niks",
    "gwn": "gewoon",
    "egt": "echt",
    "tog": "toch",
    "hep": "heb",
    "hlp": "help",
    "pls": "alsjeblieft",
    "plz": "alsjeblieft",
    "aub": "alsjeblieft",
    "wort": "wordt",
    "wrd": "word",
    "slaad": "slaat",
    "schopd": "schopt",
    "dreigd": "dreigt",
    "vermoort": "vermoordt",
    "sloech": "sloeg",
    "zelfmoort": "zelfmoord",
}

_CHAT_SPLIT = {word: tuple(mapped.split()) for word, mapped in CHAT_WORDS.items()}
# Letters from other scripts that look like Latin ones ("mеs" with a Cyrillic е): read as the Latin letter.
_CONFUSABLES = str.maketrans("аеорсхуіјкмнтвѕ" + "αεορτυικνχ", "aeopcxyijkmhtbs" + "aeoptuikvx")
# Laughing faces make a message a joke as much as "haha" does.
_LAUGH_FACES = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f61c\U0001f61d\U0001f92a\U0001f648]")
# Emoji written in place of a word ("hij heeft een 🔪", "ik heb de 💊 al"): read as that word. One look-up per emoji
# found, and only in a message that is not plain ASCII.
_EMOJI_WORDS = {
    "\U0001f52a": "mes",  # kitchen knife
    "\U0001f5e1": "mes",  # dagger
    "\U0001f52b": "pistool",
    "\U0001f48a": "pillen",
    "\U0001fa78": "bloed",  # drop of blood
    "\U0001f525": "vuur",
}
_EMOJI = re.compile("[" + "".join(_EMOJI_WORDS) + "]")
_LOOKALIKE = re.compile("[\u0370-\u03ff\u0400-\u04ff]")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\u034f\u180e]")
_APOSTROPHES = re.compile("[\u2019\u2018`\u00b4]")
_COMBINING = re.compile("[\u0300-\u036f]")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_DOUBLES = re.compile(r"([a-z])(?=\1)")
# Words, and the marks that end a clause (negation and the gap between words of a phrase stop there).
_TOKENS = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*|'[a-z]+|[.!?;:\n]+")
_ENTRY_WORD = re.compile(r"^[a-z0-9_']+\*?$")
_MAX_GAP = 4  # words allowed between the words of a multi-word entry ("sluit mij vaak op")
# A concept may allow more (`gap`), for separable verbs whose parts stand far apart ("sluiten mijn broertje elke avond
# na het eten in de kelder op"); only that concept's entries are looked for further.
_LONGEST_GAP = 8
_NEGATION_REACH = 4  # words before a match in which "niet/nooit/geen" negates it
_NEGATION_GAP = 1  # words allowed after a negation inside an entry ("mag niet (meer) werken")
_MAX_ATTEMPTS = 3  # misses of one multi-word entry in a message before it is no longer looked for
_MIN_COMPOUND = 4  # an entry this long also matches at the start or end of a longer word
_WORD_CACHE_SIZE = 50_000
# Words too common to anchor a multi-word entry: it is looked for where its rarest-looking word is.
_COMMON_LINES = (
    "ik mij me mijn mijzelf je jij jou hij zij ze het de een is ben bent was dat die deze in op aan van met te en",
    "niet wil heb heeft hebben zit zat zijn haar hem er naar om als voor uit bij dan nu wel ook maar geen nog meer",
    "kan moet gaat ga gaan we wij ons onze dit wat hoe zo al of door over tegen na doen doet wordt word worden",
    "laat laten zal zullen mag mogen komt komen staat hier daar iets alles niemand iemand zich",
)
_COMMON = frozenset(" ".join(_COMMON_LINES).split())
# One bit per common word: what a multi-word entry needs is tested on one int per message (`_Analysis` [4]).
_COMMON_BIT = {word: 1 << rank for rank, word in enumerate(sorted(_COMMON))}
# Above those, one bit per bucket of places of rarer words in multi-word entries (`RiskDetector._place_bit`): an entry
# whose other words no word of the message can be is skipped without looking around its anchor. Shared buckets
# only let an entry through that is then looked for as before, so results are the same; 512 keeps the message's
# mask sparse (about 50 such places are filled in a median message, of some 2,800).
_PLACE_BUCKETS = 512


def _bits(words: Iterable[str]) -> int:
    """The bit mask of common words."""
    mask = 0
    for word in words:
        mask |= _COMMON_BIT[word]
    return mask

# Frequent content words (and their forms): a multi-word entry is not anchored on them if it has a rarer word.
_FREQUENT_LINES = (
    "zeggen zegt zei gezegd willen wil gedaan doen maken maakt maak thuis weg heel alleen dagen dag laatste weet",
    "weten kinderen kind familie gezien gekomen elke vorig oudere dood bel keer lang steeds altijd zo",
    "kunnen moeten zitten",
)
_FREQUENT = frozenset(" ".join(_FREQUENT_LINES).split())
# The model does not weigh words that are in almost every message, nor who is spoken of, only what happens:
# "hij is lief voor mij" must not look dangerous because danger is so often told as "hij ... mij".
_MODEL_SKIP_LINE = ". zijn hebben worden kunnen moeten willen gaan komen zullen mogen laten staan zeggen mijn hun"
_MODEL_SKIP = _COMMON | frozenset(_MODEL_SKIP_LINE.split(" ")) | {"ook", "heel", "echt", "gewoon", "dan"}
_PERSONS = frozenset({"dader", "slachtoffer", "kind", "zelf"})
NEGATIONS = frozenset({"niet", "nooit", "geen", "niemand", "nergens"})


_Analysis = tuple[
    tuple[int, ...],  # concepts of one-word entries
    tuple[int, ...],  # ... of negatable concepts
    # multi-word entries anchored on this word: (concept, entry, position, its common words, its length, key,
    # for a two-word entry the place of its other word, the words allowed after its first word)
    # (key and place are `_place` numbers: one small int hashes and compares cheaper than a tuple of three)
    tuple[tuple[int, int, int, int, int, int, int, int], ...],
    frozenset[int],  # every place in a multi-word entry this word can take, as `_place(concept, entry, position)`
    int,  # the common words it is, as written or squeezed, and the buckets of the places of rarer words it can take,
    # as a bit mask (`_COMMON_BIT`, `RiskDetector._place_bit`: what an entry needs)
    str,  # its lemma
    tuple[int, ...],  # all one-word concepts
    float,  # the model's weight of the lemma
    dict[str, float] | None,  # the model's weighted pairs that start with the lemma: second lemma -> weight
    bool,  # the matcher must stop at it: a clause mark, or a word that starts a concept or anchors an entry
    float,  # the most a pair starting with the lemma can add to the model's score (0 or more)
    float,  # the most it can take away (0 or less)
    str,  # the word itself ("" for `_SPLIT`)
]


# The token-cache record of a chat word written out in several words ("kb" -> "ik heb"): no word of its own.
_SPLIT: _Analysis = ((), (), (), frozenset(), 0, "", (), 0.0, None, False, 0.0, 0.0, "")


class RiskDataError(ValueError):
    """A concepts or phrases file that cannot be used; the message names the file's line."""


def _plain(text: str) -> str:
    """Lowercase ASCII-folded text with one kind of apostrophe and no invisible characters."""
    if text.isascii():
        return text.replace("`", "'").lower()
    text = _INVISIBLE.sub("", _APOSTROPHES.sub("'", text))
    # str.translate is slow on long non-ASCII text: only where a laughing face or a look-alike letter is.
    if _LAUGH_FACES.search(text):
        text = _LAUGH_FACES.sub(" haha ", text)
    if _EMOJI.search(text):
        text = _EMOJI.sub(lambda found: f" {_EMOJI_WORDS[found.group()]} ", text)
    text = text.casefold()
    if _LOOKALIKE.search(text):
        text = text.translate(_CONFUSABLES)
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).casefold()


def tokens(text: str) -> list[str]:
    """Normalised tokens of a message: words (chat words mapped, repeats capped at two) and clause marks as '.'."""
    out: list[str] = []
    cache = _TOKEN_CACHE
    for token in _TOKENS.findall(_plain(text)):
        words = cache.get(token)
        if words is None:
            words = _token(token)
            if len(cache) >= _WORD_CACHE_SIZE:
                cache.clear()
            cache[token] = words
        if words == _CLAUSE:
            if out and out[-1] != ".":
                out.append(".")
        else:
            out.extend(words)
    return out


_CLAUSE = (".",)
# Raw token -> its words; chats repeat their words, and this is cheaper than a regex over every message.
_TOKEN_CACHE: dict[str, tuple[str, ...]] = {}


def _token(token: str) -> tuple[str, ...]:
    """The words of one raw token: a clause mark, or the word with repeats capped and chat language written out."""
    if not token[0].isalnum() and token[0] != "'":
        return _CLAUSE
    token = _REPEATS.sub(r"\1\1", token)
    mapped = _CHAT_SPLIT.get(token)
    if mapped is not None:
        return mapped
    return (token.replace("'", ""),)


def normalise(text: str) -> str:
    """Lowercase, strip accents, cap repeated letters at two, map chat words; words joined by one space."""
    return " ".join(word for word in tokens(text) if word != ".")


def _squeeze(word: str) -> str:
    # Vowel length and doubled consonants are the commonest misspellings ("slat", "heelp").
    return _DOUBLES.sub("", word)


@dataclass(frozen=True)
class RiskResult:
    level: str | None
    signals: tuple[str, ...]
    # (concept name, level, matched words) per signal; level is None for a concept that only fed a rule.
    concepts: tuple[tuple[str, str | None, tuple[str, ...]], ...] = ()


_NOTHING = RiskResult(None, ())  # frozen: one answer for every quiet message


@dataclass(frozen=True)
class Phrase:
    level: str
    text: str


@dataclass
class Concept:
    name: str
    level: str | None
    entries: list[list[str]]  # each entry: its words; a word ending in * matches any continuation
    exclude: frozenset[str]
    negatable: bool | str  # True: "niet", "nooit", "geen" near it undo it; "geen": only "geen" just before it
    unless: tuple[str, ...]
    label: str
    line: int = 0
    compounds: bool = True  # entry words of 4+ letters also match inside longer words
    gap: int = 4  # words allowed between the words of a multi-word entry
    # Words a multi-word entry is looked for by when it has one (`anchor`): the rarest in messages, which the
    # longest word need not be ("schopt hond" is looked for at the dog, as most messages with "schopt" have none).
    anchors: frozenset[str] = frozenset()


@dataclass
class Rule:
    name: str
    level: str
    when: tuple[tuple[str, ...], ...]  # all groups must hold; a group holds when any of its concepts matched
    unless: tuple[str, ...]
    line: int = 0


@dataclass
class _Match:
    concept: int
    words: list[str] = field(default_factory=list)


class _Lexicon:
    """Word forms -> which entry words they can be. Every key form of a message word is looked up here."""

    def __init__(self) -> None:
        self.exact: dict[str, list[tuple[int, int, int]]] = {}
        self.prefix: dict[str, list[tuple[int, int, int]]] = {}  # wildcard entries and compound heads
        self.suffix: dict[str, list[tuple[int, int, int]]] = {}  # compound tails
        self.prefix_lengths: set[int] = set()
        self.wild: dict[str, list[tuple[int, int, int]]] = {}  # entries ending in *
        self.wild_lengths: set[int] = set()
        self.suffix_lengths: set[int] = set()
        # Lemmas of entry words that are not their own lemma ("sloten" -> "sluiten"), for inflected message words.
        self.inflected: dict[str, list[tuple[int, int, int]]] = {}

    def add(self, word: str, ref: tuple[int, int, int], stem: str, lemma: str, compounds: bool) -> None:
        if word.endswith("*"):
            for head in {word[:-1], _squeeze(word[:-1])}:
                self.wild.setdefault(head, []).append(ref)
                self.wild_lengths.add(len(head))
            return
        # Squeezed short words collide ("eer" -> "er"): only longer words are also matched squeezed.
        forms = {word, _squeeze(word)} if len(word) >= 5 else {word}
        for form in forms:
            self.exact.setdefault(form, []).append(ref)
        # An entry also matches the other forms of its lemma: "sluit op" finds "sloten me op". Only inflected message
        # words: "vroeger" (lemma "vroeg") must not find "ik vroeg hem", nor "laatst" find "laat".
        if len(word) >= 4 and word not in _COMMON and lemma != word:
            self.inflected.setdefault(lemma, []).append(ref)
        if compounds and len(word) >= _MIN_COMPOUND:
            for form in {word, stem}:
                if len(form) >= _MIN_COMPOUND:
                    self.prefix.setdefault(form, []).append(ref)
                    self.prefix_lengths.add(len(form))
                    self.suffix.setdefault(form, []).append(ref)
                    self.suffix_lengths.add(len(form))


@dataclass(frozen=True)
class Model:
    """A logistic regression over a message's lemmas and concepts, for what no rule names.

    Trained by `python -m routing.risk_model` on the labelled data the project ships (deterministic). It only
    speaks when no concept or rule did, and names the words that weighed most."""

    bias: float
    threshold: float  # on the log-odds: a signal of the rules below it is quieted (never acuut)
    weights: dict[str, float]
    level: str = "zorg"
    add: float | None = None  # a message no rule flagged is flagged at or above it (None: at `threshold`)
    # A signal of the rules below acuut in a message where a concept that explains counts (CONTEXT: a question, a
    # game, ordinary use, a figure of speech, ...) is quieted below it (None: at `threshold`): the rule fired
    # although the message also says what explains it, so the model must find more danger to keep it.
    context: float | None = None
    # The weighted pairs by their first lemma: {"sla": {"mij": 0.4}}; after any other lemma no pair is looked up.
    pairs: dict[str, dict[str, float]] = field(init=False)

    def __post_init__(self) -> None:
        pairs: dict[str, dict[str, float]] = {}
        for feature, weight in self.weights.items():
            if " " in feature and feature[0] not in "@-+":
                first, second = feature.split(" ", 1)
                pairs.setdefault(first, {})[second] = weight
        object.__setattr__(self, "pairs", pairs)

    def judge(
        self,
        words: list[str],
        analysed: list[_Analysis],
        names: Iterable[str],
        ruled: bool,
        context: bool = False,
        named: Iterable[float] = (),
    ) -> tuple[str, ...] | None:
        """The words that carried a flagged message, most weight first (none when a rule spoke: its signals name
        their words); None below the threshold (`add` when no rule spoke)."""
        # Every message below acuut goes through here: the score is summed first, cheaply; the words that carried
        # it are only looked for when the message is flagged.
        # One weight per lemma, however often it is written (the model was trained on the set of lemmas).
        weighed = {analysis[5]: analysis[7] for analysis in analysed if analysis[7]}
        score = self.bias + sum(weighed.values())
        weights = self.weights
        for name in names:
            score += weights.get(name, 0.0)
        # The same, looked up when the detector was built (`RiskDetector._name_weights`): no string per message.
        for name_weight in named:
            score += name_weight
        if ruled:
            floor = self.context if context and self.context is not None else self.threshold
            # A rule's signal is quieted only on evidence against it: never where the message's own features weigh
            # for danger (its score at or above the bias), however high the threshold (routing/risk_model.standing).
            floor = min(floor, self.bias)
        else:
            floor = self.threshold if self.add is None else self.add
        # The pairs are looked up only where they can change the answer: most messages score far from the floor
        # whatever their pairs weigh (each pair's most and least are known per first lemma), and a look-up in a
        # table no other message has touched lately is most of the model's cost.
        if score + sum(analysis[10] for analysis in analysed) < floor:
            return None
        if score + sum(analysis[11] for analysis in analysed) < floor:
            # Each pair of lemmas once ("." is never the second of a weighted pair: pairs stop at a clause mark).
            found_pairs: dict[tuple[str, str], float] = {}
            for analysis, following in zip(analysed, analysed[1:], strict=False):
                seconds = analysis[8]
                if seconds is not None:
                    weight = seconds.get(following[5])
                    if weight is not None:
                        found_pairs[analysis[5], following[5]] = weight
            if score + sum(found_pairs.values()) < floor:
                return None
        if ruled:
            return ()  # the rules' signals stand and name their own words
        # The message's own words that weighed most (pairs and concepts count, but only words are shown).
        top: dict[str, tuple[float, str]] = {}
        for word, analysis in zip(words, analysed, strict=True):
            if analysis[7] > 0 and analysis[5] not in top:
                top[analysis[5]] = (analysis[7], word)
        return tuple(word for _, word in sorted(top.values(), reverse=True)[:4])


MODEL_KEYS = ("bias", "threshold", "add", "context", "level")
# Concepts that explain a signal (the model's `context` threshold applies where one of them counts).
CONTEXT = (
    "vraag", "fictie", "media", "grap", "figuurlijk", "onschuldig_wapen", "gewoon_middel", "ongeluk", "beroep", "dier",
    "opvoeding", "geen_suicide", "verleden", "voorbij", "gerust", "beeldspraak", "gesprek_erover",
)


def parse_model(content: str, source: str = "model.tsv") -> Model:
    """`name<TAB>number` lines: `bias`, `threshold`, `add`, `context` (optional), `level`, then one line per
    feature (a feature named like one of those keys is written `=level`). Errors name the line."""
    values: dict[str, float] = {}
    weights: dict[str, float] = {}
    level = "zorg"
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        name, tab, value = line.partition("\t")
        if not tab:
            raise RiskDataError(f"{source} line {number}: expected 'feature<TAB>weight'")
        if name == "level":
            if value not in _RANK:
                raise RiskDataError(f"{source} line {number}: level must be one of {', '.join(LEVELS)}")
            level = value
            continue
        try:
            number_value = float(value)
        except ValueError:
            raise RiskDataError(f"{source} line {number}: {value!r} is not a number") from None
        if name in ("bias", "threshold", "add", "context"):
            values[name] = number_value
        else:
            # A word spelled like a key ("level" in a game) is written with a leading "=".
            weights[name.removeprefix("=")] = number_value
    for name in ("bias", "threshold"):
        if name not in values:
            raise RiskDataError(f"{source}: no {name!r} line")
    return Model(values["bias"], values["threshold"], weights, level, values.get("add"), values.get("context"))


_PLACES = 64  # positions in an entry, and entries in a concept (times _PLACES), a `_place` number leaves room for


def _place(concept: int, entry: int, position: int) -> int:
    """One int for a word's place in a multi-word entry."""
    return (concept * 65536 + entry) * _PLACES + position


def _anchor(entry: list[str], preferred: frozenset[str] = frozenset()) -> int:
    """The position of the word a multi-word entry is looked for by: the first of the concept's `anchor` words in
    it, else the longest of its least common words."""
    for p, word in enumerate(entry):
        if word in preferred:
            return p
    return max(
        range(len(entry)),
        key=lambda p: (entry[p] not in _COMMON, entry[p] not in _FREQUENT, len(entry[p].rstrip("*")), -p),
    )


class RiskDetector:
    def __init__(
        self, concepts: list[Concept], rules: list[Rule], phrases: Iterable[Phrase] = (), model: Model | None = None
    ) -> None:
        self.model = model
        # The same phrase twice counts at its highest level.
        best: dict[str, str] = {}
        for phrase in phrases:
            if phrase.text not in best or _RANK[phrase.level] < _RANK[best[phrase.text]]:
                best[phrase.text] = phrase.level
        self.phrases = tuple(Phrase(level, text) for text, level in best.items())
        self.concepts = list(concepts)
        for phrase in self.phrases:
            words = _phrase_words(phrase.text)
            self.concepts.append(
                Concept(
                    "zin", phrase.level, [words], frozenset(), False, (), "vaste zin: " + phrase.text, compounds=False
                )
            )
        self.rules = list(rules)
        self._index = {concept.name: i for i, concept in enumerate(self.concepts)}
        self._stemmer = Stemmer.Stemmer("dutch")
        self._lexicon = _Lexicon()
        for c, concept in enumerate(self.concepts):
            if len(concept.entries) >= 65536 or any(len(entry) >= _PLACES for entry in concept.entries):
                raise RiskDataError(f"{concept.name}: too many entries, or an entry of {_PLACES} words or more")
            for e, entry in enumerate(concept.entries):
                for p, word in enumerate(entry):
                    lemma = simplemma.lemmatize(word, lang="nl").replace("_", "") if not word.endswith("*") else word
                    self._lexicon.add(word, (c, e, p), self._stemmer.stemWord(word), lemma, concept.compounds)
        self._prefix_lengths = sorted(self._lexicon.prefix_lengths)
        self._suffix_lengths = sorted(self._lexicon.suffix_lengths)
        self._wild_lengths = sorted(self._lexicon.wild_lengths)
        self._cache: dict[str, _Analysis] = {}
        # Raw token -> the analysis of its word (one object per token: what a message touches is most of its cost),
        # or `_SPLIT` for a chat word written out in several words (`_split_tokens`: their analyses).
        self._token_cache: dict[str, _Analysis] = {}
        self._split_tokens: dict[str, tuple[_Analysis, ...]] = {}
        self._anchor = [[_anchor(entry, c.anchors) for entry in c.entries] for c in self.concepts]
        # Common words match only as written (they are not lemmatised): an entry whose common words are not all in
        # the message cannot be there, which is cheaper to know than to look around its anchor.
        # As a bit mask over the common words (`_COMMON_BIT`): one int per entry, tested against the message's mask.
        # The places of its other words that are not common, by bucket, in the same int: all must be in the message.
        self._place_bit: dict[int, int] = {}
        for c, concept in enumerate(self.concepts):
            for e, entry in enumerate(concept.entries):
                if len(entry) > 1:
                    for q, word in enumerate(entry):
                        if word not in _COMMON:
                            bucket = len(self._place_bit) % _PLACE_BUCKETS
                            self._place_bit[_place(c, e, q)] = 1 << (len(_COMMON_BIT) + bucket)
        self._all_bits = (1 << (len(_COMMON_BIT) + _PLACE_BUCKETS)) - 1
        self._needs = [
            [
                _bits(w for w in entry if w in _COMMON)
                | functools.reduce(
                    int.__or__,
                    (self._place_bit.get(_place(c, e, q), 0) for q in range(len(entry)) if q != self._anchor[c][e]),
                    0,
                )
                for e, entry in enumerate(concept.entries)
            ]
            for c, concept in enumerate(self.concepts)
        ]
        self._compiled_rules = [
            (
                rule,
                [frozenset(self._index[name] for name in group if name in self._index) for group in rule.when],
                frozenset(self._index[n] for n in rule.unless if n in self._index),
            )
            for rule in self.rules
        ]
        self._concept_unless = [frozenset(self._index[n] for n in c.unless if n in self._index) for c in self.concepts]
        # The rules a concept can start: those with it in their first group.
        self._rules_of: list[list[int]] = [[] for _ in self.concepts]
        for r, (_, groups, _) in enumerate(self._compiled_rules):
            for c in groups[0]:
                self._rules_of[c].append(r)
        self._negatable = [c.negatable for c in self.concepts]
        self._gaps = [c.gap for c in self.concepts]
        # The gap allowed after each word of an entry: a negation in an entry holds only the word right after it
        # (at most one word between): "nooit alleen" is not "er is nooit geweld geweest, alleen discussies".
        self._gap_after = [
            [tuple(min(c.gap, _NEGATION_GAP) if w in NEGATIONS else c.gap for w in entry) for entry in c.entries]
            for c in self.concepts
        ]
        self._present_names = ["" if c.name in _PERSONS else "@" + c.name for c in self.concepts]
        # The model's weights of what `_model_names` names, looked up once: `@concept`, `-concept` and `+signal`.
        model_weights = model.weights if model is not None else {}
        self._present_weight = [model_weights.get(name, 0.0) for name in self._present_names]
        self._negated_weight = [model_weights.get("-" + c.name, 0.0) for c in self.concepts]
        self._label_weight = {
            label: model_weights.get("+" + label, 0.0)
            for label in [c.label for c in self.concepts] + [rule.name for rule in self.rules]
        }
        self._lengths = [[len(entry) for entry in c.entries] for c in self.concepts]
        self._leveled = frozenset(i for i, c in enumerate(self.concepts) if c.level is not None)
        self._context = frozenset(self._index[name] for name in CONTEXT if name in self._index)
        # simplemma loads its dictionary on first use: do it now, so detecting never reads a file.
        simplemma.lemmatize("slaan", lang="nl")
        self._dot = self._analyse(".")

    @classmethod
    def from_file(
        cls,
        phrases: str | Path | None = None,
        concepts: str | Path | None = None,
        model: str | Path | None | bool = True,
    ) -> RiskDetector:
        """The concepts file (default `risk/concepts.toml`) plus a phrases file (default `risk/phrases.txt`) and
        the model (default `risk/model.tsv` if it is there; False: none)."""
        concepts_path = Path(concepts) if concepts is not None else DEFAULT_CONCEPTS
        phrases_path = Path(phrases) if phrases is not None else DEFAULT_PHRASES
        found, rules = parse_concepts(concepts_path.read_text(encoding="utf-8"), source=concepts_path.name)
        loaded = None
        if model is True:
            model = DEFAULT_MODEL if DEFAULT_MODEL.exists() else None
        if model:
            model_path = Path(model)
            loaded = parse_model(model_path.read_text(encoding="utf-8"), source=model_path.name)
        return cls(found, rules, parse_phrases(phrases_path.read_text(encoding="utf-8")), loaded)

    def _lemma(self, word: str) -> str:
        """simplemma's Dutch lemma, or for a word it does not know, that of its d/t spelling ("vermoort")."""
        lemma = simplemma.lemmatize(word, lang="nl").replace("_", "")
        if lemma == word and len(word) > 3:
            # Unknown to the dictionary: try the usual misspellings of a verb ending (d/t, dt) once more.
            for variant in (word[:-1] + "d" if word.endswith("t") else word[:-1] + "t" if word.endswith("d") else "",):
                if variant:
                    other = simplemma.lemmatize(variant, lang="nl").replace("_", "")
                    if other != variant:
                        lemma = other
        return lemma

    def _analyse(self, word: str) -> _Analysis:
        """What a word can be, cached: plain concepts, negatable concepts, the multi-word entries it anchors,
        and every (concept, entry, position) of a multi-word entry it can stand in."""
        found = self._cache.get(word)
        if found is not None:
            return found
        lexicon = self._lexicon
        refs: set[tuple[int, int, int]] = set()
        lemma = self._lemma(word)
        if lemma != word:
            refs.update(lexicon.inflected.get(lemma, ()))
        for form in {word, _squeeze(word), lemma, self._stemmer.stemWord(word)}:
            refs.update(lexicon.exact.get(form, ()))
            for n in self._prefix_lengths:
                if n >= len(form):
                    break
                if len(form) - n >= 3 or form[n:] in ("s", "en", "e"):
                    refs.update(lexicon.prefix.get(form[:n], ()))
            for n in self._suffix_lengths:
                if n > len(form) - 3:
                    break
                refs.update(lexicon.suffix.get(form[-n:], ()))
            for n in self._wild_lengths:
                if n > len(form):
                    break
                refs.update(lexicon.wild.get(form[:n], ()))
        # A concept's exclusions ("moordend", "doodmoe") win over any match of that concept.
        refs = {ref for ref in refs if word not in self.concepts[ref[0]].exclude}
        entries = self.concepts
        plain = tuple(sorted({c for c, e, _ in refs if len(entries[c].entries[e]) == 1 and not self._negatable[c]}))
        negatable = tuple(sorted({c for c, e, _ in refs if len(entries[c].entries[e]) == 1 and self._negatable[c]}))
        # A multi-word entry is looked for only where its anchor (its longest word) is, then checked around it.
        gaps = self._gap_after
        anchors = tuple(
            (c, e, p, self._needs[c][e], self._lengths[c][e], _place(c, e, 0), _place(c, e, 1 - p), gaps[c][e][0])
            for c, e, p in sorted(refs)
            if len(entries[c].entries[e]) > 1 and self._anchor[c][e] == p
        )
        multi = frozenset(_place(*ref) for ref in refs if len(entries[ref[0]].entries[ref[1]]) > 1)
        weight, first = 0.0, None
        if self.model is not None and lemma not in _MODEL_SKIP:
            weight = self.model.weights.get(lemma, 0.0)
        if self.model is not None:
            first = self.model.pairs.get(lemma)
        stop = word == "." or bool(plain or negatable or anchors)
        most = max(0.0, *first.values()) if first else 0.0
        least = min(0.0, *first.values()) if first else 0.0
        common = _COMMON_BIT.get(word, 0) | _COMMON_BIT.get(_squeeze(word), 0)
        for place in multi:
            common |= self._place_bit.get(place, 0)
        result = (
            plain, negatable, anchors, multi, common, lemma, plain + negatable, weight, first, stop, most, least, word
        )
        if len(self._cache) >= _WORD_CACHE_SIZE:
            self._cache.clear()
        self._cache[word] = result
        return result

    def detect(self, text: str) -> RiskResult:
        words, analysed, matched, negated = self._match(text)
        present, signals = self._signals(matched)
        if self.model is not None and not any(s[1] == "acuut" or s[0] == "zin" for s in signals):
            # Below acuut (and but for fixed phrases) the model has the last word: it weighs the message's lemmas
            # with the concepts and rules found, so it both adds what no rule names and quiets what the data
            # showed to be harmless.
            found = self.model.judge(
                words,
                analysed,
                (),
                bool(signals),
                not self._context.isdisjoint(present),
                self._name_weights(present, negated, signals),
            )
            if found is None:
                signals = []
            elif not signals:
                signals.append(("model", self.model.level, found, "lijkt op eerdere meldingen"))
        if not signals:
            return _NOTHING
        level = min((s[1] for s in signals if s[1] is not None), key=_RANK.__getitem__)
        shown = sorted({f"{label}: {' '.join(words_)}" for _, _, words_, label in signals})
        return RiskResult(level, tuple(shown), tuple((name, lvl, w) for name, lvl, w, _ in signals))

    def _signals(
        self, matched: dict[int, list[str]]
    ) -> tuple[set[int], list[tuple[str, str | None, tuple[str, ...], str]]]:
        """The concepts that count, and the signals of concepts and rules: (name, level, words, label)."""
        # A concept whose `unless` concepts count does not count ("vroeger", but "nog steeds"). A quieting concept
        # that is itself undone quiets nothing: "al maanden clean, vandaag weer gedaan" is self-harm ("weer" undoes
        # the past of "clean").
        keys = matched.keys()
        unless_of = self._concept_unless
        present = {c for c in keys if unless_of[c].isdisjoint(keys)}
        if len(present) < len(keys):
            present = _counting(keys, unless_of)
        signals: list[tuple[str, str | None, tuple[str, ...], str]] = []
        for c in sorted(present & self._leveled):
            concept = self.concepts[c]
            signals.append((concept.name, concept.level, tuple(matched[c]), concept.label))
        candidates = set()
        for c in present:
            candidates.update(self._rules_of[c])
        for r in sorted(candidates):
            rule, groups, unless = self._compiled_rules[r]
            for group in groups:
                if group.isdisjoint(present):
                    break
            else:
                if not unless.isdisjoint(present):
                    continue
                chosen = [min(group & present) for group in groups]
                words_of = tuple(dict.fromkeys(w for c in chosen for w in matched[c]))
                names = " + ".join(self.concepts[c].name for c in chosen)
                signals.append((names, rule.level, words_of, rule.name))
        return present, signals

    def features(self, text: str) -> set[str]:
        """What the statistical model sees of a message: its lemmas, the concepts found (as `@name`) and the
        signals of concepts and rules (as `+label`)."""
        words, analysed, matched, negated = self._match(text)
        present, signals = self._signals(matched)
        lemmas = [a[5] for a in analysed]
        pairs = {
            f"{a} {b}"
            for a, b in zip(lemmas, lemmas[1:], strict=False)
            if a != "." and b != "." and not (a in _MODEL_SKIP and b in _MODEL_SKIP)
        }
        unigrams = {lemma for lemma in lemmas if lemma not in _MODEL_SKIP}
        return (unigrams | pairs | set(self._model_names(present, negated, signals))) - {""}

    def _name_weights(
        self, present: set[int], negated: set[int], signals: list[tuple[str, str | None, tuple[str, ...], str]]
    ) -> list[float]:
        """The model's weights of `_model_names`, in the same order, from tables built with the detector."""
        weights = [self._present_weight[c] for c in present]
        if negated:
            weights.extend(self._negated_weight[c] for c in negated - present)
        label_weight = self._label_weight
        weights.extend(label_weight.get(signal[3], 0.0) for signal in signals)
        return weights

    def _model_names(
        self, present: set[int], negated: set[int], signals: list[tuple[str, str | None, tuple[str, ...], str]]
    ) -> list[str]:
        """The model's features beyond lemmas: `@concept` found, `-concept` found only negated, `+signal`."""
        names = [self._present_names[c] for c in present]
        if negated:
            names.extend("-" + self.concepts[c].name for c in negated - present)
        names.extend("+" + signal[3] for signal in signals)
        return names

    def _match(self, text: str) -> tuple[list[str], list[_Analysis], dict[int, list[str]], set[int]]:
        """The message's words, what each can be, the concepts found with the words that matched, and the
        concepts found only negated ("hij heeft me nooit geslagen")."""
        words, analysed, stops = self._words(text)
        matched: dict[int, list[str]] = {}
        negated: set[int] = set()
        clause_start = 0
        attempts: dict[int, int] = {}
        # The common words the message lacks (words and squeezed forms, as a bit mask), once an entry needs them.
        missing: int | None = None
        # Without "niet", "nooit", "geen" in the message, no match needs the negation check.
        negation = not NEGATIONS.isdisjoint(words)
        # Most words are none of the concepts: only the words that can be are visited (and clause marks).
        for i in stops:
            word = words[i]
            if word == ".":
                clause_start = i + 1
                continue
            analysis = analysed[i]
            plain, negatable, anchors = analysis[0], analysis[1], analysis[2]
            if not negation:
                plain, negatable = analysis[6], ()
            for c in plain:
                found = matched.get(c)
                if found is None:
                    matched[c] = [word]
                elif word not in found:
                    found.append(word)
            for c in negatable:
                self._hit(matched, c, [word], words, i, i, clause_start, negated)
            if not anchors:
                continue
            if missing is None:
                # Entries need only common words: the message's words, and their squeezed forms that are common.
                mask = 0
                for a in analysed:
                    mask |= a[4]
                # Positive (not ~mask): `&` on a negative int of this size is several times slower.
                missing = self._all_bits ^ mask
            for c, e, p, needs, length, key, other, gap in anchors:
                if needs & missing:
                    continue
                # Each entry is found once and given up after a few misses: a long message of the same few
                # words ("niet niet niet ...") cannot make this quadratic.
                tried = attempts.get(key, 0)
                if tried < 0 or tried >= _MAX_ATTEMPTS:
                    continue
                if length == 2:
                    # Most entries have two words: the other one is looked for here, as `_around` would.
                    span = None
                    if p:
                        for j in range(i - 1, max(-1, i - gap - 2), -1):
                            if other in analysed[j][3]:
                                span = [j, i]
                                break
                            if words[j] == "." or words[j] in NEGATIONS:
                                break
                    else:
                        for j in range(i + 1, min(len(words), i + gap + 2)):
                            if other in analysed[j][3]:
                                span = [i, j]
                                break
                            if words[j] == "." or words[j] in NEGATIONS:
                                break
                else:
                    span = self._around(words, analysed, i, c, e, p, length)
                attempts[key] = -1 if span is not None else tried + 1
                if span is not None:
                    self._hit(matched, c, [words[k] for k in span], words, span[0], span[-1], clause_start, negated)
        return words, analysed, matched, negated

    def _words(self, text: str) -> tuple[list[str], list[_Analysis], list[int]]:
        """`tokens(text)`, the analysis of each word and the indexes of the words the matcher must visit (clause
        marks and words that can be a concept), in one pass: a raw token is looked up once for all three (chats
        repeat their words, and this is most of the cost of a message)."""
        words: list[str] = []
        analysed: list[_Analysis] = []
        stops: list[int] = []
        cache = self._token_cache
        dot = self._dot
        for token in _TOKENS.findall(_plain(text)):
            got = cache.get(token)
            if got is None:
                got = self._record(token)
            if got is dot:
                if words and words[-1] != ".":
                    stops.append(len(words))
                    words.append(".")
                    analysed.append(got)
            elif got[12]:
                if got[9]:
                    stops.append(len(words))
                words.append(got[12])
                analysed.append(got)
            else:
                for part in self._split_tokens[token]:
                    if part[9]:
                        stops.append(len(words))
                    words.append(part[12])
                    analysed.append(part)
        return words, analysed, stops

    def _record(self, token: str) -> _Analysis:
        """What `_token_cache` keeps for a raw token: the analysis of its word, or `_SPLIT` (see `_split_tokens`)."""
        parts = _token(token)
        if len(self._token_cache) >= _WORD_CACHE_SIZE:
            self._token_cache.clear()
            self._split_tokens.clear()
        if parts is _CLAUSE:
            got = self._dot
        elif len(parts) == 1:
            got = self._analyse(parts[0])
        else:
            self._split_tokens[token] = tuple(self._analyse(part) for part in parts)
            got = _SPLIT
        self._token_cache[token] = got
        return got

    def _around(
        self, words: list[str], analysed: list[_Analysis], i: int, c: int, e: int, p: int, length: int
    ) -> list[int] | None:
        """Token indexes of the whole entry around its anchor at i, in order, gaps of at most the concept's `gap`
        words, one clause, no negation in a gap; None if it is not there."""
        gaps = self._gap_after[c][e]
        base = _place(c, e, 0)
        span = [i]
        k = i
        for q in range(p - 1, -1, -1):
            for j in range(k - 1, max(-1, k - gaps[q] - 2), -1):
                if base + q in analysed[j][3]:
                    k = j
                    break
                if words[j] == "." or words[j] in NEGATIONS:  # "ik wil niet dood" is not "ik wil dood"
                    return None
            else:
                return None
            span.insert(0, k)
        k = i
        for q in range(p + 1, length):
            for j in range(k + 1, min(len(words), k + gaps[q - 1] + 2)):
                if base + q in analysed[j][3]:
                    k = j
                    break
                if words[j] == "." or words[j] in NEGATIONS:
                    return None
            else:
                return None
            span.append(k)
        return span

    def _hit(
        self,
        matched: dict[int, list[str]],
        c: int,
        got: list[str],
        words: list[str],
        start: int,
        end: int,
        clause_start: int,
        negated: set[int],
    ) -> None:
        mode = self.concepts[c].negatable
        if mode == "geen":
            # A thing denied: "hij heeft geen wapen", "de baby heeft geen letsel" ("geen" at most one word before).
            for k in range(max(clause_start, start - 2), start):
                if words[k] == "geen":
                    negated.add(c)
                    return
        elif mode:
            # "hij heeft me nooit geslagen", "mijn papa slaat mij nooit": a negation just before or after. An entry
            # that holds a negation itself ("mag niet werken") is not undone by one after it ("mag niet werken, niet
            # bellen"): that is a list, not a denial.
            after = end + 1 if not NEGATIONS.isdisjoint(got) else end + 3
            for k in range(max(clause_start, start - _NEGATION_REACH), min(len(words), after)):
                if words[k] == ".":
                    if k > end:
                        break
                    continue
                if words[k] in NEGATIONS and not start <= k <= end:
                    # "maar" turns the clause: a negation before it does not reach past it ("hij bedoelt het niet zo
                    # maar hij slaat me"), nor one after it back ("hij slaat me, maar niet elke dag"). Looked for only
                    # when a negation is found: most words are none.
                    if "maar" in (words[k:start] if k < start else words[end + 1 : k]):
                        continue
                    negated.add(c)
                    return
        found = matched.setdefault(c, [])
        for word in got:
            if word not in found:
                found.append(word)


def _counting(keys: Iterable[int], unless_of: list[frozenset[int]]) -> set[int]:
    """The concepts found that count: those none of whose `unless` concepts count, followed down the chain
    ("weer goed" undoes "weer", which would undo "destijds", which quiets a "huisverbod"). A cycle counts as quiet."""
    found = set(keys)
    state: dict[int, bool] = {}

    def counts(c: int) -> bool:
        if c not in state:
            state[c] = False  # while it is being decided: a cycle quiets
            state[c] = all(not counts(u) for u in unless_of[c] if u in found)
        return state[c]

    return {c for c in found if counts(c)}


def _phrase_words(phrase: str) -> list[str]:
    words = [w for w in tokens(phrase) if w != "."]
    raw = phrase.split()
    if any("*" in w[:-1] or w == "*" for w in raw):
        raise ValueError("wildcard * only at the end of a word")
    starred = {_plain(w[:-1]) for w in raw if w.endswith("*")}
    words = [w + "*" if w in starred else w for w in words]
    if not words:
        raise ValueError("no words in phrase")
    return words


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
            raise RiskDataError(f"risk phrases line {number}: expected 'level<TAB>phrase', got {stripped!r}")
        if level not in _RANK:
            raise RiskDataError(
                f"risk phrases line {number}: unknown level {level!r} (expected one of {', '.join(LEVELS)})"
            )
        if not phrase:
            raise RiskDataError(f"risk phrases line {number}: empty phrase")
        try:
            _phrase_words(phrase)
        except ValueError as error:
            raise RiskDataError(f"risk phrases line {number}: {error}: {phrase!r}") from None
        phrases.append(Phrase(level, phrase))
    return phrases


_CONCEPT_KEYS = {"level", "words", "except", "negatable", "unless", "label", "compounds", "gap", "anchor"}
_RULE_KEYS = {"name", "level", "when", "unless"}


class _Lines:
    """Finds the line of a table or key in a TOML text, so errors found after parsing can still name it."""

    def __init__(self, content: str, source: str) -> None:
        self.lines = content.splitlines()
        self.source = source

    def of(self, header: str, key: str | None = None, nth: int = 0) -> int:
        seen = -1
        start = 0
        for number, line in enumerate(self.lines, start=1):
            if line.strip().replace(" ", "") == header:
                seen += 1
                if seen == nth:
                    start = number
                    break
        if not start or key is None:
            return start
        for number in range(start, len(self.lines)):
            line = self.lines[number].strip()
            if line.startswith("["):
                break
            if line.split("=", 1)[0].strip() == key:
                return number + 1
        return start

    def error(self, line: int, message: str) -> RiskDataError:
        return RiskDataError(f"{self.source} line {line}: {message}")


def _entry_words(entry: Any) -> list[str]:
    if not isinstance(entry, str) or not entry.strip():
        raise ValueError(f"expected a word or words in quotes, got {entry!r}")
    if re.search(r"[^\w\s'*\u2019-]", entry):
        raise ValueError(f"{entry!r}: use letters, digits and a * at the end of a word only")
    return _phrase_words(entry)


def parse_concepts(content: str, source: str = "concepts.toml") -> tuple[list[Concept], list[Rule]]:
    """Concepts and rules from TOML; RiskDataError names the line of any mistake."""
    lines = _Lines(content, source)
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        at = int(match.group(1)) if match else max(1, len(lines.lines)) if "end of document" in str(error) else 1
        raise lines.error(at, str(error)) from None
    unknown = set(data) - {"concepts", "rules"}
    if unknown:
        key = sorted(unknown)[0]
        raise lines.error(lines.of(f"[{key}]") or lines.of(f"[[{key}]]") or 1, f"unknown table {key!r}")
    concepts: list[Concept] = []
    table = data.get("concepts", {})
    if not isinstance(table, dict):
        raise lines.error(1, "'concepts' must be a table of [concepts.NAME]")
    for name, body in table.items():
        header = f"[concepts.{name}]"
        if not isinstance(body, dict):
            raise lines.error(lines.of(header), f"concept {name!r} must be a table")
        for key in body:
            if key not in _CONCEPT_KEYS:
                raise lines.error(
                    lines.of(header, key), f"concept {name!r}: unknown key {key!r} ({', '.join(sorted(_CONCEPT_KEYS))})"
                )
        level = body.get("level")
        if level is not None and level not in _RANK:
            raise lines.error(lines.of(header, "level"), f"concept {name!r}: level must be one of {', '.join(LEVELS)}")
        raw_words = body.get("words")
        if not isinstance(raw_words, list) or not raw_words:
            raise lines.error(lines.of(header, "words"), f"concept {name!r}: 'words' must be a non-empty list")
        entries = []
        for entry in raw_words:
            try:
                entries.append(_entry_words(entry))
            except ValueError as error:
                raise lines.error(_line_with(lines, header, entry), f"concept {name!r}: {error}") from None
        exclude = body.get("except", [])
        if not isinstance(exclude, list) or not all(isinstance(w, str) for w in exclude):
            raise lines.error(lines.of(header, "except"), f"concept {name!r}: 'except' must be a list of words")
        negatable = body.get("negatable", False)
        if not isinstance(negatable, bool) and negatable != "geen":
            raise lines.error(
                lines.of(header, "negatable"), f"concept {name!r}: 'negatable' must be true, false or \"geen\""
            )
        unless = body.get("unless", [])
        if not isinstance(unless, list) or not all(isinstance(w, str) for w in unless):
            raise lines.error(lines.of(header, "unless"), f"concept {name!r}: 'unless' must be a list of concepts")
        label = body.get("label", name)
        if not isinstance(label, str):
            raise lines.error(lines.of(header, "label"), f"concept {name!r}: 'label' must be text")
        compounds = body.get("compounds", True)
        if not isinstance(compounds, bool):
            raise lines.error(lines.of(header, "compounds"), f"concept {name!r}: 'compounds' must be true or false")
        gap = body.get("gap", _MAX_GAP)
        if not isinstance(gap, int) or isinstance(gap, bool) or not 0 <= gap <= _LONGEST_GAP:
            raise lines.error(
                lines.of(header, "gap"), f"concept {name!r}: 'gap' must be a whole number 0 to {_LONGEST_GAP}"
            )
        anchor = body.get("anchor", [])
        if not isinstance(anchor, list) or not all(isinstance(w, str) for w in anchor):
            raise lines.error(lines.of(header, "anchor"), f"concept {name!r}: 'anchor' must be a list of words")
        anchor = [word for w in anchor for word in _phrase_words(w)]
        in_entries = {w for entry in entries if len(entry) > 1 for w in entry}
        stray = [w for w in anchor if w not in in_entries]
        if stray:
            raise lines.error(
                lines.of(header, "anchor"), f"concept {name!r}: anchor {stray[0]!r} is in no entry of two words or more"
            )
        concepts.append(
            Concept(
                name,
                level,
                entries,
                frozenset(_plain(w) for w in exclude),
                negatable,
                tuple(unless),
                label,
                lines.of(header),
                compounds,
                gap,
                frozenset(anchor),
            )
        )
    names = {c.name for c in concepts}
    for concept in concepts:
        for other in concept.unless:
            if other not in names:
                raise lines.error(
                    lines.of(f"[concepts.{concept.name}]", "unless"),
                    f"concept {concept.name!r}: unknown concept {other!r}",
                )
    rules: list[Rule] = []
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise lines.error(1, "'rules' must be written as [[rules]] tables")
    for n, body in enumerate(raw_rules):
        line = lines.of("[[rules]]", nth=n)
        for key in body:
            if key not in _RULE_KEYS:
                raise lines.error(
                    _key_line(lines, line, key), f"rule: unknown key {key!r} ({', '.join(sorted(_RULE_KEYS))})"
                )
        level = body.get("level")
        if level not in _RANK:
            raise lines.error(_key_line(lines, line, "level"), f"rule: level must be one of {', '.join(LEVELS)}")
        when = body.get("when")
        if not isinstance(when, list) or not when or not all(isinstance(g, str) for g in when):
            raise lines.error(
                _key_line(lines, line, "when"), 'rule: \'when\' must be a list like ["wapen", "dader|slachtoffer"]'
            )
        groups = tuple(tuple(part.strip() for part in group.split("|")) for group in when)
        unless = body.get("unless", [])
        if not isinstance(unless, list) or not all(isinstance(w, str) for w in unless):
            raise lines.error(_key_line(lines, line, "unless"), "rule: 'unless' must be a list of concepts")
        for name in [*(n for g in groups for n in g), *unless]:
            if name not in names:
                key = "when" if any(name in g for g in groups) else "unless"
                raise lines.error(_key_line(lines, line, key), f"rule: unknown concept {name!r}")
        rule_name = body.get("name", " + ".join("|".join(g) for g in groups))
        if not isinstance(rule_name, str):
            raise lines.error(_key_line(lines, line, "name"), "rule: 'name' must be text")
        rules.append(Rule(rule_name, level, groups, tuple(unless), line))
    return concepts, rules


def _key_line(lines: _Lines, start: int, key: str) -> int:
    for number in range(start, len(lines.lines)):
        line = lines.lines[number].strip()
        if line.startswith("["):
            break
        if line.split("=", 1)[0].strip() == key:
            return number + 1
    return start


def _line_with(lines: _Lines, header: str, entry: Any) -> int:
    start = lines.of(header)
    needle = f'"{entry}"' if isinstance(entry, str) else None
    for number in range(start, len(lines.lines)):
        line = lines.lines[number]
        if number > start and line.strip().startswith("["):
            break
        if needle is not None and needle in line:
            return number + 1
    return lines.of(header, "words")


@functools.cache
def default_detector() -> RiskDetector:
    return RiskDetector.from_file()
