"""Routing decisions over the rules file, and clear errors (file, line, key) for every broken file."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.rules import DEFAULT_RULES, Route, RoutingConfigError, RoutingRules

SMALL = """\
default_team = "volwassenen"
crisis_team = "crisis"

[teams.jeugd]
name = "Jeugd"

[teams.volwassenen]
name = "Volwassenen"
overflow_after_s = 60

[teams.professionals]
name = "Professionals"

[teams.crisis]
name = "Crisisdienst"
overflow_after_s = 30
push = true

[expertise]
stalking = "Stalking"
complexe_scheiding = "Complexe scheiding"

[priority]
kind = 20
jongere = 20
volwassene = 10
professional = 10
danger = 100

[[rule]]
name = "kinderen"
caller_type = ["kind", "jongere"]
team = "jeugd"

[[rule]]
name = "professionele melding"
caller_type = "professional"
intent = "melding"
team = "professionals"

[[rule]]
name = "stalking"
topic = ["stalking"]
keywords = ["stalk", "achtervolg"]
team = "volwassenen"
expertise = ["stalking"]
"""


@pytest.fixture(scope="module")
def small() -> RoutingRules:
    return RoutingRules.parse(SMALL, source="small.toml")


def test_child_goes_to_jeugd_with_child_priority(small: RoutingRules) -> None:
    route = small.route("kind", "advies", "thuis is het eng", False)
    assert route == Route(team="jeugd", priority=20, expertise=(), overflow_after_s=120)
    assert small.route("jongere", "weet_niet", None, False).team == "jeugd"


def test_professional_melding_goes_to_professionals(small: RoutingRules) -> None:
    assert small.route("professional", "melding", None, False).team == "professionals"
    # Only the melding rule names professionals; their advice question falls through to the default team.
    assert small.route("professional", "advies", None, False).team == "volwassenen"


@pytest.mark.parametrize("topic", ["Mijn ex STALKT mij", "stalking", "word achtervolgd", "stälker"])
def test_topic_keyword_or_slug_adds_expertise(small: RoutingRules, topic: str) -> None:
    route = small.route("volwassene", "advies", topic, False)
    assert (route.team, route.expertise, route.overflow_after_s) == ("volwassenen", ("stalking",), 60)


@pytest.mark.parametrize("topic", ["ruzie over de kinderen", "", None, "gestalkt"])
def test_keywords_match_at_the_start_of_a_word_only(small: RoutingRules, topic: str | None) -> None:
    assert small.route("volwassene", "advies", topic, False).expertise == ()


def test_danger_goes_to_crisis_with_top_priority(small: RoutingRules) -> None:
    route = small.route("volwassene", "advies", "stalker staat voor de deur", True)
    assert route.team == "crisis"
    assert route.priority == 100
    assert route.priority > max(small.route(c, "advies", None, False).priority for c in small.caller_priority)
    assert route.expertise == ("stalking",)
    assert route.overflow_after_s == 30
    assert small.route("kind", "advies", None, True).team == "crisis"


def test_first_matching_rule_wins() -> None:
    # A child writing about stalking matches both "kinderen" and "stalking": order decides.
    assert RoutingRules.parse(SMALL).route("kind", "advies", "stalking", False).team == "jeugd"
    children_rule = SMALL[SMALL.index('[[rule]]\nname = "kinderen"') : SMALL.index('[[rule]]\nname = "professionele')]
    reordered = SMALL.replace(children_rule, "") + "\n" + children_rule
    route = RoutingRules.parse(reordered).route("kind", "advies", "stalking", False)
    assert (route.team, route.expertise) == ("volwassenen", ("stalking",))


def test_default_team_when_no_rule_matches(small: RoutingRules) -> None:
    route = small.route("volwassene", "weet_niet", "iets anders", False)
    assert route == Route(team="volwassenen", priority=10, expertise=(), overflow_after_s=60)
    other = RoutingRules.parse(SMALL.replace('default_team = "volwassenen"', 'default_team = "jeugd"'))
    assert other.route("volwassene", "weet_niet", "iets anders", False).team == "jeugd"


def test_children_before_adults_unless_configured_otherwise(small: RoutingRules) -> None:
    assert (
        small.route("kind", "advies", None, False).priority > small.route("volwassene", "advies", None, False).priority
    )
    equal = RoutingRules.parse(SMALL.replace("kind = 20", "kind = 10"))
    assert (
        equal.route("kind", "advies", None, False).priority == equal.route("volwassene", "advies", None, False).priority
    )


def test_unknown_caller_type_or_intent_at_route_time(small: RoutingRules) -> None:
    with pytest.raises(ValueError, match="caller_type"):
        small.route("ouder", "advies", None, False)
    with pytest.raises(ValueError, match="intent"):
        small.route("kind", "klacht", None, False)


def test_defaults_of_a_team() -> None:
    rules = RoutingRules.parse(SMALL)
    assert rules.teams["jeugd"].overflow_after_s == 120
    assert rules.teams["jeugd"].push is False
    assert rules.teams["crisis"].push is True
    assert rules.teams["crisis"].name == "Crisisdienst"


def test_the_default_file_loads_and_routes() -> None:
    rules = RoutingRules.load(DEFAULT_RULES)
    assert {"jeugd", "volwassenen", "professionals", "crisis"} <= set(rules.teams)
    assert len(rules.expertise) == 6
    assert "Intieme terreur" in rules.expertise.values()
    assert rules.route("kind", "advies", None, False).team == "jeugd"
    assert rules.route("professional", "melding", None, False).team == "professionals"
    assert rules.route("volwassene", "advies", "mijn ex stalkt me", False).expertise == ("stalking",)
    assert rules.route("volwassene", "melding", "co-ouderschap en omgangsregeling", False).expertise == (
        "complexe_scheiding",
    )
    danger = rules.route("jongere", "advies", None, True)
    assert danger.team == rules.crisis_team
    assert danger.priority > max(rules.caller_priority.values())


# --- broken files -------------------------------------------------------------------------
# Each case replaces one piece of SMALL; "# HERE" marks the line the error must name.

BROKEN = {
    "toml syntax": ('name = "Jeugd"', 'name = "Jeugd  # HERE', None),
    "unknown team in a rule": ('team = "professionals"\n', 'team = "profesionals"  # HERE\n', "rule[1]"),
    "unknown caller type in a rule": (
        'caller_type = ["kind", "jongere"]',
        'caller_type = ["kind", "puber"]  # HERE',
        "rule[0] (kinderen).caller_type",
    ),
    "unknown intent in a rule": (
        'intent = "melding"',
        'intent = "meldin"  # HERE',
        "rule[1] (professionele melding).intent",
    ),
    "unknown expertise in a rule": (
        'expertise = ["stalking"]',
        'expertise = ["stalken"]  # HERE',
        "rule[2] (stalking).expertise",
    ),
    "rule without a team": (
        '[[rule]]\nname = "stalking"\ntopic = ["stalking"]\nkeywords = ["stalk", "achtervolg"]\nteam = "volwassenen"\n',
        '[[rule]]  # HERE\nname = "stalking"\ntopic = ["stalking"]\nkeywords = ["stalk", "achtervolg"]\n',
        "rule[2] (stalking).team",
    ),
    "negative overflow": (
        "overflow_after_s = 60",
        "overflow_after_s = -5  # HERE",
        "teams.volwassenen.overflow_after_s",
    ),
    "overflow not a number": (
        "overflow_after_s = 30",
        'overflow_after_s = "30"  # HERE',
        "teams.crisis.overflow_after_s",
    ),
    "push not a boolean": ("push = true", 'push = "ja"  # HERE', "teams.crisis.push"),
    "typo in a team key": ("overflow_after_s = 60", "overflow_after = 60  # HERE", "teams.volwassenen.overflow_after"),
    "unknown caller type in priority": ("professional = 10", "professional = 10\nouder = 5  # HERE", "priority.ouder"),
    "danger not highest": ("danger = 100", "danger = 15  # HERE", "priority.danger"),
    "unknown default team": ('default_team = "volwassenen"', 'default_team = "iedereen"  # HERE', "default_team"),
    "unknown crisis team": ('crisis_team = "crisis"', 'crisis_team = "spoed"  # HERE', "crisis_team"),
    "unknown top-level key": ('crisis_team = "crisis"', 'crisis_team = "crisis"\nteam = "jeugd"  # HERE', "team"),
    "bad team slug": ("[teams.jeugd]", "[teams.Jeugd]  # HERE", "teams.Jeugd"),
}


def _expected_line(text: str) -> int | None:
    return next((i for i, line in enumerate(text.splitlines(), start=1) if "# HERE" in line), None)


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_broken_file_names_file_line_and_key(case: str) -> None:
    old, new, key = BROKEN[case]
    assert old in SMALL
    text = SMALL.replace(old, new, 1)
    with pytest.raises(RoutingConfigError) as caught:
        RoutingRules.parse(text, source="regio.toml")
    error = caught.value
    line = _expected_line(text)
    if line is not None:
        assert error.line == line
        assert str(error).startswith(f"regio.toml:{line}: ")
    else:
        assert error.line is not None
        assert str(error).startswith(f"regio.toml:{error.line}: ")
    if key is not None:
        assert error.key is not None and error.key.startswith(key)
        assert key in str(error)


def test_rule_after_a_catch_all_names_the_unreachable_rule() -> None:
    text = SMALL + '\n[[rule]]\nname = "alles"\nteam = "jeugd"\n\n[[rule]]\nname = "nooit"\nteam = "jeugd"\n'
    with pytest.raises(RoutingConfigError) as caught:
        RoutingRules.parse(text, source="regio.toml")
    assert caught.value.key == "rule[4] (nooit)"
    assert caught.value.line == text.splitlines().index('name = "nooit"')  # the [[rule]] header above it
    assert "rule[3] (alles)" in str(caught.value)


def test_missing_default_team_names_the_key() -> None:
    text = SMALL.replace('default_team = "volwassenen"\n', "")
    with pytest.raises(RoutingConfigError) as caught:
        RoutingRules.parse(text, source="regio.toml")
    assert caught.value.key == "default_team"
    assert str(caught.value).startswith("regio.toml: default_team: missing")


def test_missing_teams_names_the_key() -> None:
    text = "\n".join(
        line for line in SMALL.splitlines() if not line.startswith(("[teams.", "name =", "overflow", "push"))
    )
    with pytest.raises(RoutingConfigError, match="teams"):
        RoutingRules.parse(text, source="regio.toml")


def test_load_names_the_path_of_a_broken_or_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "routing.toml"
    broken.write_text(SMALL.replace('team = "jeugd"', 'team = "jeugt"'), encoding="utf-8")
    with pytest.raises(RoutingConfigError) as caught:
        RoutingRules.load(broken)
    line = SMALL.splitlines().index('team = "jeugd"') + 1
    assert str(caught.value).startswith(f"{broken}:{line}: rule[0] (kinderen).team: unknown team 'jeugt'")
    missing = tmp_path / "weg.toml"
    with pytest.raises(RoutingConfigError, match="weg.toml"):
        RoutingRules.load(missing)
