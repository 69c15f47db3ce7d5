"""Tests of the Dutch risk-phrase detector: normalisation, matching rules, the phrase file, and the labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.risk import RiskDetector, RiskResult, default_detector, normalise, parse_phrases

MESSAGES = Path(__file__).resolve().parent.parent / "data" / "risk_messages.tsv"


def detector(text: str) -> RiskDetector:
    return RiskDetector(parse_phrases(text))


def test_normalise_accents_case_and_repeats() -> None:
    assert normalise("Suïcide!! Beëindigen") == "suicide beeindigen"
    assert normalise("HEEEEELP") == "heelp"
    assert normalise("ik  ben...bang 😭") == "ik ben bang"


def test_normalise_chat_words() -> None:
    assert normalise("k wil ff m'n ma zien") == "ik wil even mijn mama zien"
    assert normalise("mn pa zegt nie wrm") == "mijn papa zegt niet waarom"
    assert normalise("hij pakt z’n telefoon en d'r tas") == "hij pakt zijn telefoon en haar tas"


def test_repeated_letters_and_vowel_length_match() -> None:
    d = detector("acuut\thelp nu\nhoog\tslaat mij")
    assert d.detect("heeeeelp nuuuu").level == "acuut"
    assert d.detect("HELP NU").level == "acuut"
    assert d.detect("hij slat me").level == "hoog"  # a child's spelling of "slaat"


def test_chat_language_matches_phrase_in_plain_spelling() -> None:
    d = detector("acuut\tik wil dood\nhoog\tmijn vader slaat")
    assert d.detect("k wil dood").signals == ("ik wil dood",)
    assert d.detect("mn vader slaat").level == "hoog"


def test_highest_level_wins_and_signals_sorted_unique() -> None:
    d = detector("hoog\tslaat mij\nacuut\tslaat mij nu\nzorg\tik ben bang")
    result = d.detect("ik ben bang hij slaat mij nu. hij slaat mij nu")
    assert result == RiskResult("acuut", ("ik ben bang", "slaat mij", "slaat mij nu"))


def test_wildcard_at_word_end() -> None:
    d = detector("acuut\tgaat me vermoord*")
    assert d.detect("hij gaat me vermoorden").level == "acuut"
    assert d.detect("hij gaat me vermoord").level == "acuut"
    assert d.detect("hij gaat me vermaken").level is None


def test_one_filler_word_but_not_a_negation() -> None:
    d = detector("hoog\tslaat mij\nacuut\tik wil dood")
    assert d.detect("hij slaat mij weer").level == "hoog"
    assert d.detect("hij slaat weer mij").level == "hoog"
    assert d.detect("hij slaat ook weer mij").level is None
    assert d.detect("ik wil echt dood").level == "acuut"
    assert d.detect("ik wil niet dood").level is None


def test_word_boundaries() -> None:
    d = detector("hoog\tslaat mij")
    assert d.detect("hij verslaat mijn record").level is None


@pytest.mark.parametrize(
    "text",
    [
        "mijn kat is dood",
        "ik ga je vermoorden als je mijn chips opeet haha",
        "het regent",
        "hoe werkt een scheiding als we kinderen hebben",
        "ik ben leerkracht, hoe werkt de meldcode",
        "ik lag dood van het lachen 😂",
    ],
)
def test_hard_negatives_do_not_hit(text: str) -> None:
    assert default_detector().detect(text) == RiskResult(None, ())


def test_default_phrases_cover_acute_danger() -> None:
    d = default_detector()
    for text in ("hij heeft n mes", "k ben opgesloten", "ik wil dood", "hij wurgde me", "hij is hier!!"):
        assert d.detect(text).level == "acuut", text


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("# x\nacuut\thelp\nheel hoog\tslaat", 3, "unknown level"),
        ("\nacuut\t   ", 2, "empty phrase"),
        ("acuut help", 1, "level<TAB>phrase"),
        ("zorg\t*moord", 1, "wildcard"),
        ("zorg\t😭", 1, "no words"),
    ],
)
def test_parse_errors_name_the_line(content: str, line: int, message: str) -> None:
    with pytest.raises(ValueError, match=f"line {line}: .*{message}"):
        parse_phrases(content)


def test_from_file_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text("# comment\n\nzorg\tik ben bang\nhoog\tik ben bang\n", encoding="utf-8")
    assert RiskDetector.from_file(path).detect("ik ben bang").level == "hoog"
    path.write_text("zorg\tok\nfout\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        RiskDetector.from_file(path)


def test_labelled_set_danger_recall_and_any_risk_precision() -> None:
    rows = [line.split("\t", 1) for line in MESSAGES.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    assert len(rows) >= 300
    d = default_detector()
    pairs = [(label, d.detect(text).level) for label, text in rows]
    danger = [level == "acuut" for label, level in pairs if label == "acuut"]
    flagged = [label != "geen" for label, level in pairs if level is not None]
    danger_recall = sum(danger) / len(danger)
    any_risk_precision = sum(flagged) / len(flagged)
    assert danger_recall >= 0.9, danger_recall
    assert any_risk_precision >= 0.7, any_risk_precision
