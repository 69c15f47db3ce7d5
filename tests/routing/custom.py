"""A routing file with one team and one expertise more than the shipped one: what a team lead
adds, which must then appear in every form of the console."""

from __future__ import annotations

from pathlib import Path

from routing.rules import DEFAULT_RULES

NEW_TEAM = ("gezinnen", "Gezinnen en opvoeding")
NEW_EXPERTISE = ("loverboys", "Loverboyproblematiek")


def write_custom_routing(directory: Path) -> Path:
    rules = DEFAULT_RULES.read_text(encoding="utf-8")
    anchor_team, anchor_expertise = "[teams.crisis]\n", 'intieme_terreur = "Intieme terreur"\n'
    assert anchor_team in rules and anchor_expertise in rules
    team = f'[teams.{NEW_TEAM[0]}]\nname = "{NEW_TEAM[1]}"\n\n'
    expertise = f'{NEW_EXPERTISE[0]} = "{NEW_EXPERTISE[1]}"\n'
    rules = rules.replace(anchor_team, team + anchor_team).replace(anchor_expertise, anchor_expertise + expertise)
    path = directory / "routing.toml"
    path.write_text(rules, encoding="utf-8")
    return path
