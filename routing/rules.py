"""Configurable routing: which team serves a new conversation, with what priority and expertise.

The rules live in a TOML file a team lead can read and edit (`routing.toml` beside this module by default)."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_RULES = Path(__file__).with_name("routing.toml")

CALLER_TYPES = ("kind", "jongere", "volwassene", "professional")
INTENTS = ("advies", "melding", "weet_niet")
DEFAULT_OVERFLOW_AFTER_S = 120
DEFAULT_CALLER_PRIORITY = {"kind": 20, "jongere": 20, "volwassene": 10, "professional": 10}
DEFAULT_DANGER_PRIORITY = 100

_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = ("default_team", "crisis_team", "teams", "expertise", "priority", "rule")
_TEAM_KEYS = ("name", "overflow_after_s", "push")
_RULE_KEYS = ("name", "caller_type", "intent", "topic", "keywords", "team", "expertise")


class RoutingConfigError(ValueError):
    """The routing file cannot be used; the message names the file, the line when known, and the key."""

    def __init__(self, source: str, message: str, *, line: int | None = None, key: str | None = None) -> None:
        self.source = source
        self.line = line
        self.key = key
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass(frozen=True)
class Team:
    slug: str
    name: str
    overflow_after_s: int = DEFAULT_OVERFLOW_AFTER_S
    push: bool = False


@dataclass(frozen=True)
class Rule:
    """One `[[rule]]`; an empty condition matches anything."""

    index: int
    team: str
    name: str | None = None
    caller_types: frozenset[str] = frozenset()
    intents: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    keywords: tuple[str, ...] = ()
    expertise: tuple[str, ...] = ()

    @property
    def unconditional(self) -> bool:
        return not (self.caller_types or self.intents or self.topics or self.keywords)

    @property
    def label(self) -> str:
        return f"rule[{self.index}]" + (f" ({self.name})" if self.name else "")

    def matches(self, caller_type: str, intent: str, topic_text: str, topic_slug: str) -> bool:
        if self.caller_types and caller_type not in self.caller_types:
            return False
        if self.intents and intent not in self.intents:
            return False
        if self.topics or self.keywords:
            return topic_slug in self.topics or any(_starts_a_word(topic_text, k) for k in self.keywords)
        return True


@dataclass(frozen=True)
class Route:
    team: str
    priority: int
    expertise: tuple[str, ...]
    overflow_after_s: int


def normalise_topic(text: str) -> str:
    """Lowercase, without accents, words separated by single spaces: what keywords are matched against."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _starts_a_word(text: str, keyword: str) -> bool:
    # Start of a word, not anywhere: "eer" (eerwraak) must not match "meer" or "keer".
    return re.search(r"(?<![a-z0-9])" + re.escape(keyword), text) is not None


@dataclass(frozen=True)
class RoutingRules:
    source: str
    teams: Mapping[str, Team]
    expertise: Mapping[str, str]
    rules: tuple[Rule, ...]
    default_team: str
    crisis_team: str
    caller_priority: Mapping[str, int]
    danger_priority: int

    @classmethod
    def load(cls, path: str | Path = DEFAULT_RULES) -> RoutingRules:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RoutingConfigError(str(path), f"cannot read the routing file ({exc.__class__.__name__})") from exc
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, source: str = "<routing>") -> RoutingRules:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RoutingConfigError(source, f"not valid TOML: {exc}", line=_toml_error_line(exc)) from exc
        return _Parser(text, source).build(data)

    def route(self, caller_type: str, intent: str, topic: str | None, danger_now: bool) -> Route:
        """The team, priority and expertise of a new conversation; the first matching rule wins."""
        if caller_type not in CALLER_TYPES:
            raise ValueError(f"unknown caller_type {caller_type!r}")
        if intent not in INTENTS:
            raise ValueError(f"unknown intent {intent!r}")
        topic_text = normalise_topic(topic or "")
        topic_slug = topic_text.replace(" ", "_")
        team: str = self.default_team
        expertise: tuple[str, ...] = ()
        for rule in self.rules:
            if rule.matches(caller_type, intent, topic_text, topic_slug):
                team, expertise = rule.team, rule.expertise
                break
        if danger_now:
            # Acute danger always goes to the crisis team on top; the expertise found still tells them the subject.
            team, priority = self.crisis_team, self.danger_priority
        else:
            priority = self.caller_priority[caller_type]
        return Route(team, priority, expertise, self.teams[team].overflow_after_s)

    def overflow_after_s(self, team: str) -> int | None:
        found = self.teams.get(team)
        return found.overflow_after_s if found else None


def _toml_error_line(exc: tomllib.TOMLDecodeError) -> int | None:
    line = getattr(exc, "lineno", None)  # Python 3.14+
    if isinstance(line, int):
        return line
    found = re.search(r"at line (\d+)", str(exc))
    return int(found.group(1)) if found else None


_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]\]?\s*(?:#.*)?$")


class _Locator:
    """Finds the line of a table or key in the source text, so semantic errors point where to look."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        # (line index, table name, is array-of-tables) of every header.
        self.headers: list[tuple[int, str, bool]] = []
        for i, line in enumerate(self.lines):
            found = _HEADER.match(line)
            if found:
                self.headers.append((i, re.sub(r"[\s\"']", "", found.group(2)), found.group(1) == "[["))

    def line(self, table: str | None, key: str | None = None, index: int | None = None) -> int | None:
        if table is None:
            start, end = 0, self.headers[0][0] if self.headers else len(self.lines)
        else:
            matches = [h for h in self.headers if h[1] == table and h[2] == (index is not None)]
            if index is not None:
                matches = matches[index : index + 1]
            if not matches:
                return self._key_anywhere(table.rsplit(".", 1)[-1])
            start = matches[0][0]
            later = [h[0] for h in self.headers if h[0] > start]
            end = later[0] if later else len(self.lines)
            if key is None:
                return start + 1
        if key is not None:
            pattern = re.compile(r"^\s*[\"']?" + re.escape(key) + r"[\"']?\s*[=.]")
            for i in range(start, end):
                if pattern.match(self.lines[i]):
                    return i + 1
            if table is None:
                # A top-level key written as its own table, such as `[priority]`.
                return next((h[0] + 1 for h in self.headers if h[1] == key), None)
        return start + 1 if table is not None else None

    def _key_anywhere(self, key: str) -> int | None:
        # Inline or dotted tables (`jeugd = {...}`, `teams.jeugd.push = true`) have no header of their own.
        pattern = re.compile(r"^\s*(?:[\w\"'.]+\.)?[\"']?" + re.escape(key) + r"[\"']?\s*[=.]")
        for i, line in enumerate(self.lines):
            if pattern.match(line):
                return i + 1
        return None


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.locate = _Locator(text)

    def fail(
        self, message: str, key: str, *, table: str | None = None, name: str | None = None, index: int | None = None
    ) -> RoutingConfigError:
        return RoutingConfigError(self.source, message, line=self.locate.line(table, name, index), key=key)

    def build(self, data: dict[str, Any]) -> RoutingRules:
        for key in data:
            if key not in _TOP_KEYS:
                raise self.fail(f"unknown setting (known: {', '.join(_TOP_KEYS)})", key, name=key)
        teams = self.teams(data.get("teams"))
        expertise = self.expertise(data.get("expertise", {}))
        default_team = self.team_ref(data, "default_team", teams, default=None)
        crisis_team = self.team_ref(data, "crisis_team", teams, default="crisis")
        caller_priority, danger_priority = self.priority(data.get("priority", {}))
        rules = self.rules(data.get("rule", []), teams, expertise)
        return RoutingRules(
            source=self.source,
            teams=MappingProxyType(teams),
            expertise=MappingProxyType(expertise),
            rules=rules,
            default_team=default_team,
            crisis_team=crisis_team,
            caller_priority=MappingProxyType(caller_priority),
            danger_priority=danger_priority,
        )

    def team_ref(self, data: dict[str, Any], key: str, teams: dict[str, Team], default: str | None) -> str:
        value = data.get(key, default)
        if value is None:
            raise self.fail(f'missing; name the team for what no rule matches, e.g. {key} = "volwassenen"', key)
        if not isinstance(value, str) or value not in teams:
            hint = "" if key in data else f"; add [teams.{value}] or set {key}"
            raise self.fail(f"unknown team {value!r} (known: {', '.join(teams)}){hint}", key, name=key)
        return value

    def teams(self, raw: object) -> dict[str, Team]:
        if raw is None:
            raise self.fail("missing; configure at least one [teams.<slug>] table", "teams")
        if not isinstance(raw, dict) or not raw:
            raise self.fail("must be tables [teams.<slug>]", "teams", name="teams")
        teams: dict[str, Team] = {}
        for slug, spec in raw.items():
            table = f"teams.{slug}"
            if not _SLUG.match(slug):
                raise self.fail("a team slug is lowercase letters, digits and _", table, table=table)
            if not isinstance(spec, dict):
                raise self.fail("must be a table with name, overflow_after_s, push", table, table=table)
            for key in spec:
                if key not in _TEAM_KEYS:
                    raise self.fail(
                        f"unknown setting (known: {', '.join(_TEAM_KEYS)})", f"{table}.{key}", table=table, name=key
                    )
            name = spec.get("name", slug)
            if not isinstance(name, str) or not name.strip():
                raise self.fail("must be a non-empty text", f"{table}.name", table=table, name="name")
            overflow = spec.get("overflow_after_s", DEFAULT_OVERFLOW_AFTER_S)
            if isinstance(overflow, bool) or not isinstance(overflow, int) or overflow < 0:
                raise self.fail(
                    f"must be a whole number of seconds, 0 or more (got {overflow!r})",
                    f"{table}.overflow_after_s",
                    table=table,
                    name="overflow_after_s",
                )
            push = spec.get("push", False)
            if not isinstance(push, bool):
                raise self.fail(f"must be true or false (got {push!r})", f"{table}.push", table=table, name="push")
            teams[slug] = Team(slug, name, overflow, push)
        return teams

    def expertise(self, raw: object) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise self.fail('must be a table of slug = "description"', "expertise", name="expertise")
        for slug, label in raw.items():
            if not _SLUG.match(slug) or not isinstance(label, str) or not label.strip():
                raise self.fail(
                    'write slug = "description" (slug in lowercase letters, digits and _)',
                    f"expertise.{slug}",
                    table="expertise",
                    name=slug,
                )
        return dict(raw)

    def priority(self, raw: object) -> tuple[dict[str, int], int]:
        if not isinstance(raw, dict):
            raise self.fail("must be a table [priority]", "priority", name="priority")
        known = (*CALLER_TYPES, "danger")
        for key, value in raw.items():
            if key not in known:
                raise self.fail(
                    f"unknown caller type (known: {', '.join(known)})", f"priority.{key}", table="priority", name=key
                )
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(
                    f"must be a whole number (got {value!r})", f"priority.{key}", table="priority", name=key
                )
        caller = {c: raw.get(c, DEFAULT_CALLER_PRIORITY[c]) for c in CALLER_TYPES}
        danger = raw.get("danger", DEFAULT_DANGER_PRIORITY)
        if danger <= max(caller.values()):
            # Acute danger must never wait behind anyone, whatever else a team lead tunes.
            raise self.fail(
                f"must be higher than every caller priority (highest is {max(caller.values())})",
                "priority.danger",
                table="priority",
                name="danger",
            )
        return caller, danger

    def rules(self, raw: object, teams: dict[str, Team], expertise: dict[str, str]) -> tuple[Rule, ...]:
        if not isinstance(raw, list):
            raise self.fail("write each rule as a [[rule]] table", "rule", name="rule")
        rules: list[Rule] = []
        for index, spec in enumerate(raw):
            rules.append(self.rule(index, spec, teams, expertise))
        for rule in rules:
            if rule.unconditional and rule is not rules[-1]:
                later = rules[rule.index + 1]
                raise self.fail(
                    f"can never match: {rule.label} before it matches every conversation",
                    later.label,
                    table="rule",
                    index=later.index,
                )
        return tuple(rules)

    def rule(self, index: int, spec: object, teams: dict[str, Team], expertise: dict[str, str]) -> Rule:
        label = f"rule[{index}]"
        if not isinstance(spec, dict):
            raise self.fail("must be a [[rule]] table", label, table="rule", index=index)
        if isinstance(spec.get("name"), str):
            label += f" ({spec['name']})"

        def fail(message: str, key: str | None) -> RoutingConfigError:
            return self.fail(message, f"{label}.{key}" if key else label, table="rule", index=index, name=key)

        for key in spec:
            if key not in _RULE_KEYS:
                raise fail(f"unknown setting (known: {', '.join(_RULE_KEYS)})", key)

        def words(key: str, allowed: tuple[str, ...] | dict[str, str] | None = None) -> tuple[str, ...]:
            value = spec.get(key, [])
            values = [value] if isinstance(value, str) else value
            if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                raise fail("must be a text or a list of texts", key)
            for v in values:
                if allowed is not None and v not in allowed:
                    raise fail(f"unknown value {v!r} (known: {', '.join(allowed)})", key)
            return tuple(values)

        team = spec.get("team")
        if team is None:
            raise fail("missing; every rule names the team it sends to", "team")
        if not isinstance(team, str) or team not in teams:
            raise fail(f"unknown team {team!r} (known: {', '.join(teams)})", "team")
        name = spec.get("name")
        if name is not None and not isinstance(name, str):
            raise fail("must be a text", "name")
        topics = words("topic")
        for topic in topics:
            if not _SLUG.match(topic):
                raise fail(
                    f"{topic!r} is not a slug (lowercase letters, digits and _); use keywords for words", "topic"
                )
        keywords = tuple(normalise_topic(k) for k in words("keywords"))
        if not all(keywords):
            raise fail("a keyword needs at least one letter or digit", "keywords")
        return Rule(
            index=index,
            team=team,
            name=name,
            caller_types=frozenset(words("caller_type", CALLER_TYPES)),
            intents=frozenset(words("intent", INTENTS)),
            topics=frozenset(topics),
            keywords=keywords,
            expertise=words("expertise", expertise),
        )
