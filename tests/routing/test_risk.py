"""Tests of the Dutch risk-signal detector: normalisation, concepts and rules, the data files, bad input, and the
labelled sets (recall and precision, and that the detector's data holds nothing of the held-out test split)."""

from __future__ import annotations

import functools
import re
import time
from pathlib import Path

import pytest

from routing.risk import (
    DEFAULT_CONCEPTS,
    DEFAULT_MODEL,
    DEFAULT_PHRASES,
    RiskDataError,
    RiskDetector,
    RiskResult,
    default_detector,
    normalise,
    parse_concepts,
    parse_model,
    parse_phrases,
)

DATA = Path(__file__).resolve().parent.parent / "data"
MESSAGES = DATA / "risk_messages.tsv"
SPLITS = DATA / "risk"


def detector(text: str) -> RiskDetector:
    """A detector of fixed phrases only (the `level<TAB>phrase` format)."""
    return RiskDetector([], [], parse_phrases(text))


def level(text: str) -> str | None:
    return default_detector().detect(text).level


# ------------------------------------------------------------------ normalisation and the phrase format


def test_normalise_accents_case_and_repeats() -> None:
    assert normalise("Suïcide!! Beëindigen") == "suicide beeindigen"
    assert normalise("HEEEEELP") == "heelp"
    assert normalise("ik  ben...bang 😭") == "ik ben bang"


def test_normalise_chat_words() -> None:
    assert normalise("k wil ff m'n ma zien") == "ik wil even mijn mama zien"
    assert normalise("mn pa zegt nie wrm") == "mijn papa zegt niet waarom"
    assert normalise("hij pakt z’n telefoon en d'r tas") == "hij pakt zijn telefoon en haar tas"


def test_normalise_invisible_and_lookalike_letters() -> None:
    assert normalise("ver\u200dmoord m\u0435s") == "vermoord mes"  # zero-width joiner, Cyrillic е
    assert normalise("ik lach 😂") == "ik lach haha"


def test_repeated_letters_and_vowel_length_match() -> None:
    d = detector("acuut\thelp nu\nhoog\tslaat mij")
    assert d.detect("heeeeelp nuuuu").level == "acuut"
    assert d.detect("HELP NU").level == "acuut"
    assert d.detect("hij slat me").level == "hoog"  # a child's spelling of "slaat"


def test_chat_language_matches_phrase_in_plain_spelling() -> None:
    d = detector("acuut\tik wil dood\nhoog\tmijn vader slaat")
    assert d.detect("k wil dood").signals == ("vaste zin: ik wil dood: ik wil dood",)
    assert d.detect("mn vader slaat").level == "hoog"


def test_highest_level_wins_and_signals_sorted_unique() -> None:
    d = detector("hoog\tslaat mij\nacuut\tslaat mij nu\nzorg\tik ben bang")
    result = d.detect("ik ben bang hij slaat mij nu. hij slaat mij nu")
    assert result.level == "acuut"
    assert result.signals == tuple(sorted(set(result.signals)))
    found = {words for _, _, words in result.concepts}
    assert found == {("ik", "ben", "bang"), ("slaat", "mij"), ("slaat", "mij", "nu")}


def test_wildcard_at_word_end() -> None:
    d = detector("acuut\tgaat me vermoord*")
    assert d.detect("hij gaat me vermoorden").level == "acuut"
    assert d.detect("hij gaat me vermoord").level == "acuut"
    assert d.detect("hij gaat me vermaken").level is None


def test_gap_words_but_not_a_negation() -> None:
    d = detector("hoog\tslaat mij\nacuut\tik wil dood")
    assert d.detect("hij slaat mij weer").level == "hoog"
    assert d.detect("hij slaat ook weer mij").level == "hoog"
    assert d.detect("hij slaat heel vaak en ook weer mij").level is None  # more than three words apart
    assert d.detect("hij slaat. mij niet").level is None  # not across a sentence
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


def test_default_data_covers_acute_danger() -> None:
    for text in ("hij heeft n mes en zegt dat hij me pakt", "k ben opgesloten en hij komt zo",
                 "ik wil dood, de pillen liggen klaar", "hij wurgt me nu", "hij is hier!!"):
        assert level(text) == "acuut", text


# ------------------------------------------------------------------ the issue's examples and the concepts


@pytest.mark.parametrize(
    "text",
    [
        "hij heeft gezegd dat hij me vanavond vermoordt",
        "ik heb zelfmoordgedachten",
        "mijn stiefmoeder brandt me met sigaretten",
        "hij zit achter me aan met een hamer",
    ],
)
def test_issue_examples_are_flagged(text: str) -> None:
    assert level(text) is not None, text


@pytest.mark.parametrize(
    "text",
    ["hoe weet ik of het huiselijk geweld is", "mijn moeder drinkt soms te veel wijn op feestjes"],
)
def test_issue_false_alarms_are_quiet(text: str) -> None:
    assert level(text) is None, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        # Inflections and tenses of one lemma.
        ("hij vermoordt me", "doden"),
        ("ze gaat me vermoorden", "doden"),
        ("hij vermoordde bijna mijn moeder", "doden"),
        ("ik word vermoord als ik thuiskom", "doden"),
        ("mijn vader slaat me", "geweld"),
        ("mijn vader sloeg me gisteren", "geweld"),
        ("ik ben geslagen door mijn stiefvader", "geweld"),
        ("hij schopte mijn broertje", "geweld"),
        ("mijn oom heeft me gewurgd", "wurgen"),
        ("hij wurgt haar", "wurgen"),
        # Separable verbs and participles.
        ("hij sluit me elke avond op", "opsluiten"),
        ("ik ben opgesloten in de kelder", "opsluiten"),
        ("mijn tante heeft mijn paspoort afgepakt", "afpakken"),
        # Compounds.
        ("ik heb zelfmoordgedachten", "zelfdoding"),
        ("ik kreeg een doodsbedreiging van mijn ex", "dreiging"),
        ("hij hield me in een wurggreep", "wurgen"),
        # Misspellings and chat language.
        ("hij vermoort me", "doden"),
        ("mn pa slat me", "geweld"),
        ("k wil dood", "zelfdoding"),
        ("HEEEELP hij heeft n mes", "wapen"),
        # Indirect disclosures.
        ("een leerling vertelt dat haar vader haar slaat", "geweld"),
        ("mijn buurvrouw wordt door haar man mishandeld", "geweld"),
        ("mijn zoon pakt het geld van mijn oma af", "afpakken"),
        # The rest of the field.
        ("mijn ouders willen dat ik moet trouwen met mijn neef", "gedwongen_huwelijk"),
        ("mijn broers zeggen dat ik de eer van de familie heb geschonden", "eer"),
        ("mijn stiefvader zit aan me als mama weg is", "seksueel"),
        ("hij dreigt mijn naaktfoto's te verspreiden", "chantage"),
        ("mijn loverboy zegt dat ik met mannen naar bed moet", "grooming"),
        ("we krijgen geen eten en zijn dagen alleen thuis", "verwaarlozing"),
        ("de baby heeft blauwe plekken en mijn vriend schudt hem", "letsel"),
        ("ik snijd mezelf elke avond", "snijden"),
        ("ik heb alle pillen uit de kast genomen", "zelfdoding"),
    ],
)
def test_concepts_in_their_forms(text: str, concept: str) -> None:
    result = default_detector().detect(text)
    assert result.level is not None, text
    named = {part for name, _, _ in result.concepts for part in name.split(" + ")}
    assert concept in named, (text, result.concepts)


@pytest.mark.parametrize(
    "text",
    [
        "ik ga dood van verveling",
        "die film was moordend spannend",
        "ik lach me kapot",
        "in fortnite heb ik iedereen vermoord",
        "ik heb een mes gekocht voor scouting",
        "mijn moeder snijdt groente met een groot mes",
        "mijn vader is politieagent en heeft een pistool voor zijn werk",
        "wat als iemand zijn kind slaat, is dat mishandeling?",
        "is het mishandeling als een ouder een tik geeft",
        "hoe werkt een melding bij jullie",
        "wat gebeurt er met mijn melding",
        "ik ben doodmoe",
    ],
)
def test_decoys_are_quiet(text: str) -> None:
    assert default_detector().detect(text).level is None, (text, default_detector().detect(text).signals)


@pytest.mark.parametrize(
    "text",
    [
        "hij heeft me nooit geslagen",
        "mijn papa slaat mij nooit, hij is heel lief",
        "mijn vader heeft mij niet mishandeld",
        "ik ben niet opgesloten, ik mag gewoon naar buiten",
    ],
)
def test_negation_is_quiet(text: str) -> None:
    assert level(text) is None, (text, default_detector().detect(text).signals)


@pytest.mark.parametrize(
    "text",
    [
        "ik heb pijn in mijn hoofd",
        "mijn hond heeft mijn hand gebeten",
        "mijn kat krabt me altijd",
        "mijn buurman zet de muziek te hard",
        "ik stik van het lachen",
        "ik heb een rare dag gehad",
    ],
)
def test_everyday_body_animal_and_noise_words_are_not_violence(text: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level is None, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A time in the past makes "net" or "nu" no acute danger: the danger is high, not acute.
        ("hij heeft me gisteren geslagen, ik ben nu bang", "hoog"),
        ("vorige week hield hij een mes tegen mijn keel", "hoog"),
        # ... unless the message also says it is happening now.
        ("gisteren sloeg hij me en vanavond komt hij terug, hij zei dat hij me vermoordt", "acuut"),
        ("hij heeft me net geslagen en hij staat nu beneden", "acuut"),
        ("hij heeft me in mn kamer opgesloten, ik heb sinds gister niks gegeten", "acuut"),
        ("hij staat in de gang te schreeuwen dat dit mijn laatste avond is", "acuut"),  # "laatste" is no "laatst"
    ],
)
def test_past_time_lowers_acute_to_high(text: str, expected: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level == expected, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("ik wil mezelf unaliven", "zelfdoding"),
        ("ik zie het niet meer zitten, ik wil uit het leven stappen", "zelfdoding"),
        ("mijn ex zei: je bent er geweest", "dreiging"),
        ("mijn stiefvader doet rare dingen met mij", "seksueel"),
        ("mijn man heeft de deur op slot gedaan en ik mag de deur niet uit", "opsluiten"),
        ("hij heeft mijn hoofd onder water gehouden", "wurgen"),
        ("mijn broers zeggen dat ik de namus van de familie heb geschonden", "eer"),
    ],
)
def test_wider_vocabulary(text: str, concept: str) -> None:
    result = RiskDetector.from_file(model=False).detect(text)
    named = {part for name, _, _ in result.concepts for part in name.split(" + ")}
    assert result.level is not None and concept in named, (text, result.concepts)


@pytest.mark.parametrize(
    "text",
    [
        "ik vroeg hem te stoppen maar hij sloeg me",  # "vroeg" is no "vroeger": the past does not quiet it
        "hij laat me niet gaan en hij slaat me",  # "laat" is no "laatst"
        "papa zegt dat hij de hond doodmaakt als ik niet lief ben",  # a threat to a pet is a threat
        "mijn ouders hebben elke nacht ruzie en ik kan niet slapen",
    ],
)
def test_lemmas_do_not_turn_words_into_quieting_concepts(text: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "papa heeft een hamer en spijkers en we maken samen een vogelhuisje",
        "onze kat heeft een muis doodgemaakt en in de gang gelegd",
        "mijn vrouw en ik hebben ruzie over de vakantie",
        "ik ben kapper, mijn handen zitten vol sneetjes, beroepsrisico",
        "mn moeder heeft mn telefoon afgepakt omdat ik mn huiswerk niet deed",
        "wordt mijn ip-adres opgeslagen als ik hier iets typ?",
        "ik ben niet suïcidaal of zo, ik wilde alleen iets vragen over stress",
    ],
)
def test_tools_animals_upbringing_and_denials_are_quiet(text: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level is None, text


@pytest.mark.parametrize(
    ("text", "explained"),
    [
        ("mijn zoon heeft een blauw oog van voetbal", None),
        ("ik zeg dat mijn blauwe oog van voetbal komt, maar dat is niet waar, het is mijn vader", "hoog"),
    ],
)
def test_a_cover_story_that_is_denied_explains_nothing(text: str, explained: str | None) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level == explained, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("er is een meneer in een spel die me robux geeft als ik een foto stuur", "grooming"),  # games do not quiet it
        ("iemand perst me af, ik moet betalen", "afpersing"),
    ],
)
def test_grooming_through_games_and_extortion(text: str, concept: str) -> None:
    result = RiskDetector.from_file(model=False).detect(text)
    named = {part for name, _, _ in result.concepts for part in name.split(" + ")}
    assert result.level is not None and concept in named, (text, result.concepts)


def test_news_about_grooming_is_quiet() -> None:
    assert RiskDetector.from_file(model=False).detect("op tv was een reportage over loverboys").level is None


@pytest.mark.parametrize(
    "text",
    [
        "ik wil graag weten waar ik terecht kan met vragen over opvoeding",  # 'weten', not the threat 'weet waar'
        "mijn nieuwe cavia heet Pluis en hij is heel lief",  # 'heet' as a name
        "opa vertelde veel oude verhalen op zijn verjaardag",  # 'veel oude' is not 'veel ouder'
        "hoe gaat een huisverbod eigenlijk in zijn werk? ik schrijf er een stuk over voor school",
        "kunnen mannen ook slachtoffer zijn van partnergeweld?",
        "in the sims liet ik mijn sim in het zwembad verdrinken",
        "we hebben kaarsjes op de taart gezet en ze met een aansteker aangestoken",
        "ik breek me het hoofd over het rooster van volgende week",
        "mijn ex heeft destijds een contactverbod gekregen, de zaak is afgerond en we hebben eindelijk rust",
    ],
)
def test_round_three_decoys_are_quiet(text: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level is None, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        ("hij zei dat hij weet waar ik woon en dat ik moet oppassen", "dreiging"),  # the finite verb still counts
        ("mijn hand werd heel heet van de strijkbout die ze erop drukte", "brand"),
        ("er is een veel oudere man die me cadeautjes geeft als ik niks zeg", "grooming"),
        ("mn vriend knijpt mijn keel dicht als we ruzie hebben lol", "wurgen"),  # a 'lol' does not quiet it
    ],
)
def test_round_three_changes_keep_danger(text: str, concept: str) -> None:
    result = RiskDetector.from_file(model=False).detect(text)
    named = {part for name, _, _ in result.concepts for part in name.split(" + ")}
    assert result.level is not None and concept in named, (text, result.concepts)


@pytest.mark.parametrize(
    "text",
    [
        "Kunnen vrouwen ook hun partner mishandelen?",  # a general question: no one of the writer's own
        "Valt het afpakken van pensioen ook onder ouderenmishandeling?",
        "wat is loverboyproblematiek precies en komt dat ook voor in kleine dorpen?",
        "is het normaal dat ouders je laptop innemen als je slechte cijfers haalt?",
        "hoe pak ik een gesprek met mijn buurvrouw aan over haar hond?",  # 'ik pak' is no threat
        "ik heb me dood geschrokken van de rekening",
        "ik mocht met de bijl hout hakken voor de kachel op de camping",
        "met de keukenschaar knip ik de kruiden",  # 'haar' at the end of 'schaar' is no person
        "wanneer kan ik iemand van jullie spreken?",  # 'negeert' (stem 'neer') is not in 'wanneer'
    ],
)
def test_round_four_general_questions_and_decoys_are_quiet(text: str) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level is None, text


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        # A question about what is done to the writer is a disclosure, not a general question.
        ("mijn man slaat me als hij gedronken heeft, telt dat als huiselijk geweld?", "geweld"),
        ("is het normaal dat mijn stiefvader aan me zit als mama slaapt?", "seksueel"),
        # An entry that holds a negation is not undone by the next item of a list.
        ("ik mag niet werken, niet bellen en niet naar buiten van hem", "controle"),
        ("als ik verdrietig ben brand ik mezelf met een aansteker", "zelfbeschadiging"),
        ("ik heb al weken pillen gespaard", "zelfdoding"),
    ],
)
def test_round_four_disclosures_are_found(text: str, concept: str) -> None:
    result = RiskDetector.from_file(model=False).detect(text)
    named = {part for name, _, _ in result.concepts for part in name.split(" + ")}
    assert result.level is not None and concept in named, (text, result.concepts)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Presence, hiding, a weapon in hand, a body in distress, departure at hand: acuut.
        ("mijn oom scheldt en zegt dat hij me kapotmaakt, ik lig onder mijn bed", "acuut"),
        ("mijn vader heeft zijn geweer uit de kast gehaald en hij is heel dronken", "acuut"),
        ("ik ben in de garage opgesloten en mijn batterij is bijna leeg", "acuut"),
        ("mijn vriend heeft ons kindje door elkaar geschud en nu is hij helemaal slap", "acuut"),
        ("ik heb net in mijn been gesneden en het blijft bloeden", "acuut"),
        ("morgenochtend vliegen we en daar moet ik trouwen met een man die ik niet ken", "acuut"),
        ("hij dreigt mijn naaktfoto's te verspreiden en ik wil dood", "acuut"),
        # Habit, the past and ordinary use stay below acuut.
        ("als ik verdrietig ben bonk ik mijn hoofd tegen de muur", "hoog"),
        ("ik heb vorig jaar in mijn been gesneden, het bloedde erg", None),
        ("mijn hond ligt te trillen onder de tafel omdat iemand vuurwerk afsteekt", None),
        ("ik heb vannacht slecht geslapen in de slaapkamer van mijn oma", None),
    ],
)
def test_round_four_immediacy(text: str, expected: str | None) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level == expected, (
        text,
        RiskDetector.from_file(model=False).detect(text).signals,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mijn vader heeft geen wapen, hij roept alleen hard", None),  # a thing denied by "geen"
        ("ons kind heeft gelukkig geen letsel, de dokter heeft gekeken", None),
        ("ik weet niet of mijn vader een mes heeft, hij zoekt iets in de keuken", "acuut"),  # "niet" denies no weapon
        ("hij heeft geen geduld en pakt een mes", "hoog"),  # "geen" before another word
    ],
)
def test_geen_denies_a_thing(text: str, expected: str | None) -> None:
    assert RiskDetector.from_file(model=False).detect(text).level == expected, (
        text,
        RiskDetector.from_file(model=False).detect(text).signals,
    )


@functools.cache
def _rules() -> RiskDetector:
    """The concepts and rules without the model: what they find by themselves."""
    return RiskDetector.from_file(model=False)


def _concepts_of(text: str) -> set[str]:
    return {part for name, _, _ in _rules().detect(text).concepts for part in name.split(" + ")}


@pytest.mark.parametrize(
    "text",
    [
        # Compounds that are something else: a permit, a magnifying glass, garden shears are tools.
        "de buurman heeft een wapenvergunning en schiet op de schietbaan",
        "mijn opa is boswachter en heeft een geweer voor zieke herten",
        "met een vergrootglas hebben we in de zon een blad laten smeulen",
        "de buurman snoeit onze heg met zijn heggenschaar, hij is zo aardig",
        # Words that mean something else here: finished homework, cooling a burn, a game's character, a school lab.
        "mijn zoon heeft eindelijk zijn werkstuk afgemaakt",
        "ik heb me verbrand aan de pan, koud water erover en het gaat alweer",
        "in de game werd mijn character door een draak verbrand lol",
        "bij scheikunde stonk het hele lokaal naar rotte eieren",
        "een kast in elkaar zetten en ik sloeg met de hamer op mijn duim",
        # Knowledge questions, from a student or a parent preparing.
        "ik zit op de pabo: hoe kun je merken of een kind wordt mishandeld?",
        "hoe praat je met een kleuter over misbruik? er is niks aan de hand, ik wil het alvast weten",
        # Talk about oneself, and school bullying, are no name-calling at home.
        "ik heb een onvoldoende en dat vind ik stom",
        "mijn zoon wordt gepest op school",
        # A negation in an entry holds the word right after it only.
        "er is nooit geweld geweest, alleen ruzie over geld met mijn ex",
        # "weer" as recovery is no "again": the past stays past.
        "mijn ex kreeg destijds een huisverbod, nu slaap ik weer goed",
        # More compounds that are something else: a lock on the door, debt counselling, a divorce.
        "we hebben een nieuw slot op de achterdeur laten zetten",
        "ik zoek schuldhulp want de rekeningen stapelen zich op",
        "sinds de scheiding doen we alles samen voor de kinderen",
    ],
)
def test_round_five_decoys_are_quiet(text: str) -> None:
    assert _rules().detect(text).level is None, (text, _rules().detect(text).signals)


@pytest.mark.parametrize(
    ("text", "concept"),
    [
        # A question about what is done to one's own body is a disclosure.
        ("is het normaal dat mijn vader met een riem op mijn hoofd slaat?", "geweld"),
        ("is het normaal dat mijn vriendin mijn keel dichtknijpt als we ruzie hebben?", "wurgen"),
        # "wat er gebeurt", "herkent" are no question.
        ("mijn broer zei dat hij mij iets aandoet, ik ben bang wat er gebeurt", "dreiging"),
        # A quieting concept that is itself undone quiets nothing.
        ("ik was een maand clean maar vandaag weer gedaan", "zelfbeschadiging"),
        # A negation in an entry still holds the word right after it.
        ("ik mag van hem nooit alleen de deur uit", "controle"),
        ("ik wil slapen en nooit meer wakker worden", "zelfdoding"),
        ("ik heb mezelf verbrand met een aansteker", "zelfbeschadiging"),
        # Ordinary use explains no weapon that comes out in anger.
        ("mijn vader verzamelt messen en legt er een op tafel als hij boos is", "wapen"),
        ("hij pakte het oude geweer van boven de schouw en richtte het op mij", "wapen"),
        # An accident the parents tell of is a cover story to weigh, not an explanation.
        ("de ouders zeggen dat de baby zich gestoten heeft, ze heeft blauwe plekken op haar buik", "letsel"),
        # Separable verbs and a child put away; "een spelletje" is no game; "ze ziet het als" is no question.
        ("mijn stiefmoeder bindt mijn zusje vast aan de stoel", "opsluiten"),
        ("mijn zusje wordt in de kast gezet als ze te hard praat", "opsluiten"),
        ("mijn oom zit aan mijn piemel en zegt dat het een spelletje is", "seksueel"),
        ("mijn nichtje van 12 slaapt met haar oom en ze ziet het als verliefdheid", "seksueel"),
        # A question frame quiets a general question only: not a child's question about home, not a
        # professional in training who reports, not packing a bag while he comes.
        ("is het erg als papa mama slaat?", "geweld"),
        ("als verpleegkundige in opleiding zag ik blauwe plekken bij een peuter en de vader werd boos", "letsel"),
        ("ik pak alvast mijn tas want hij komt zo met een mes", "wapen"),
    ],
)
def test_round_five_disclosures_are_found(text: str, concept: str) -> None:
    assert concept in _concepts_of(text), (text, _rules().detect(text).concepts)


def test_quieting_is_followed_down_a_chain() -> None:
    concepts, rules = parse_concepts(
        '[concepts.daad]\nlevel = "hoog"\nunless = ["oud"]\nwords = ["slaan"]\n'
        '[concepts.oud]\nunless = ["nog"]\nwords = ["vroeger"]\n'
        '[concepts.nog]\nunless = ["herstel"]\nwords = ["weer"]\n'
        '[concepts.herstel]\nwords = ["weer goed"]\n'
    )
    d = RiskDetector(concepts, rules)
    assert d.detect("hij sloeg mij").level == "hoog"
    assert d.detect("hij sloeg mij vroeger").level is None  # the past quiets
    assert d.detect("hij sloeg mij vroeger en nu weer").level == "hoog"  # "weer" undoes the past
    assert d.detect("hij sloeg mij vroeger, nu gaat het weer goed").level is None  # recovery undoes "weer"
    concepts, rules = parse_concepts(
        '[concepts.a]\nlevel = "zorg"\nunless = ["b"]\nwords = ["appel"]\n'
        '[concepts.b]\nunless = ["a"]\nwords = ["peer"]\n'
    )
    assert RiskDetector(concepts, rules).detect("appel en peer").level is None  # a cycle quiets, and ends


def test_a_concept_gap_limits_the_words_between() -> None:
    concepts, _ = parse_concepts('[concepts.a]\nlevel = "zorg"\ngap = 0\nwords = ["telt als"]\n')
    tight = RiskDetector(concepts, [])
    assert tight.detect("dat telt als geweld").level == "zorg"
    assert tight.detect("hij telt het geld als hij thuis is").level is None
    concepts, _ = parse_concepts('[concepts.a]\nlevel = "zorg"\nwords = ["telt als"]\n')
    assert concepts[0].gap == 4
    assert RiskDetector(concepts, []).detect("hij telt het geld als hij thuis is").level == "zorg"


def test_matching_is_the_same_through_the_token_cache() -> None:
    """The second sight of a message (its tokens cached with their analyses) gives what the first gave."""
    fresh = RiskDetector.from_file()
    texts = ["hij sloeg me, en nu staat hij voor de deur!!", "ik wil niet dood. maar hij zegt dat hij me vermoordt"]
    first = [fresh.detect(text) for text in texts]
    assert [fresh.detect(text) for text in texts] == first


def test_skipping_entries_by_their_rarer_words_changes_no_result() -> None:
    """An entry is skipped when no word of the message can take a place of its rarer words (a bit per bucket of
    places): on every labelled message, and on long and repetitive ones, the answer is the one the detector gives
    when it looks around every anchor whose common words are there (the filter only saves the looking)."""
    from routing.risk import _COMMON, _bits

    fast = RiskDetector.from_file()
    plain = RiskDetector.from_file()
    plain._place_bit.clear()
    plain._needs = [[_bits(w for w in entry if w in _COMMON) for entry in c.entries] for c in plain.concepts]
    assert plain._needs != fast._needs
    texts = [text for path in _tuning_files() for _, text in _rows(path)]
    texts += [" ".join(texts)[:4000], "niet " * 800, "sluit sluit op op " * 200, ""]
    assert [fast.detect(text) for text in texts] == [plain.detect(text) for text in texts]


def test_an_anchor_word_changes_where_an_entry_is_looked_for_not_what_is_found() -> None:
    """`anchor` makes a multi-word entry be looked for at its rarer word (the pet, not "schopt"); the answers on
    every labelled message and on long ones are those of the same entries looked for at their longest word."""
    from routing.risk import _anchor

    anchored = RiskDetector.from_file()
    plain = RiskDetector.from_file()
    for concept in plain.concepts:
        concept.anchors = frozenset()
    plain_detector = RiskDetector(plain.concepts[: len(plain.concepts) - len(plain.phrases)], plain.rules,
                                  plain.phrases, plain.model)
    pets = anchored._index["dier_pijn"]
    assert {anchored.concepts[pets].entries[e][a] for e, a in enumerate(anchored._anchor[pets])} <= {
        "hond", "hondje", "kat", "poes", "konijn", "hamster", "cavia", "puppy", "kitten"}
    assert _anchor(["schopt", "hond"]) == 0 and _anchor(["schopt", "hond"], frozenset({"hond"})) == 1
    assert anchored.detect("mijn stiefvader schopt mijn hond als hij boos is").level is not None
    texts = [text for path in _tuning_files() for _, text in _rows(path)]
    texts += [" ".join(texts)[:4000], "schopt schopt hond " * 200, "als ik het aan de juf vertel " * 100]
    assert [anchored.detect(text) for text in texts] == [plain_detector.detect(text) for text in texts]


def test_immediacy_words_find_no_compounds() -> None:
    d = RiskDetector.from_file(model=False)
    # "kamer" in "kleedkamer", "binnen" in "binnenkort", "gevonden" in "hij vindt": none is "now".
    assert d.detect("de trainer heeft me in de kleedkamer aangeraakt").level == "hoog"
    assert d.detect("hij zegt dat hij binnenkort iets met me doet, ik ben bang").level != "acuut"
    assert d.detect("ik zit verstopt in de badkamer, hij zoekt me").level == "acuut"
    concepts, _ = parse_concepts('[concepts.a]\ncompounds = false\nwords = ["kamer"]\n')
    assert concepts[0].compounds is False


def test_signals_explain_concepts_and_words() -> None:
    result = default_detector().detect("hij zit achter me aan met een hamer")
    assert result.level == "acuut"
    names = {name for name, _, _ in result.concepts}
    assert any("wapen" in name for name in names)
    assert all(isinstance(words, tuple) and words for _, _, words in result.concepts)
    assert any("hamer" in signal for signal in result.signals)


# ------------------------------------------------------------------ bad input and cost


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "😭😭😭🔪🔪",
        "\u200d\u200d\u200b",
        "мой отец бьёт меня",
        "他打我",
        "ik" * 2000,
        "a " * 2000,
        ". . . ! ? ;" * 300,
        "'" * 4000,
        "\x00\x01\x02 hij\x00slaat",
    ],
)
def test_bad_input_answers(text: str) -> None:
    result = default_detector().detect(text)
    assert result.level in (None, "acuut", "hoog", "zorg")


def test_mixed_script_and_zero_width_still_match() -> None:
    assert level("hij ver\u200dmoordt me") is not None
    assert level("hij heeft een m\u0435s en zegt dat hij me pakt") is not None  # Cyrillic е


def _adversarial() -> list[str]:
    """4,000-character messages built to make a matcher work hard: repeats, near misses, partial phrases."""
    return [
        ("mijn " * 1000)[:4000],
        ("niet " * 800)[:4000],
        ("zegt dat " * 500)[:4000],
        ("achter mij " * 400)[:4000],
        ("aaaa" * 1000)[:4000],
        ("mijn vader zit achter " * 200)[:4000],
        ("vermoordvermoordvermoord" * 200)[:4000],
        (" ".join(f"w{i}x" for i in range(1000)))[:4000],
        ("ik wil niet meer " * 300)[:4000],
        # Round 9: an entry of common words only, and one with a gap of 8 (separable verbs).
        ("als ik het aan " * 300)[:4000],
        ("ze sluiten mijn broertje " * 200)[:4000],
    ]


@pytest.mark.parametrize("text", _adversarial())
def test_long_adversarial_message_is_fast(text: str) -> None:
    d = default_detector()
    d.detect(text)  # the first sight of new words fills the word cache
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        d.detect(text)
        runs.append(time.perf_counter() - start)
    assert len(text) == 4000
    # The bound is 5 ms; the minimum of several runs keeps a busy machine from failing it.
    assert min(runs) < 0.005, min(runs)


def test_first_sight_of_a_long_message_is_bounded() -> None:
    d = RiskDetector.from_file()
    text = " ".join(f"woord{i}slaat" for i in range(400))[:4000]
    start = time.perf_counter()
    d.detect(text)
    assert time.perf_counter() - start < 1.0  # cold: every word is lemmatised once


# ------------------------------------------------------------------ data files


def test_default_files_load() -> None:
    concepts, rules = parse_concepts(DEFAULT_CONCEPTS.read_text(encoding="utf-8"))
    assert len(concepts) >= 20 and len(rules) >= 10
    assert parse_phrases(DEFAULT_PHRASES.read_text(encoding="utf-8"))


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
def test_phrase_errors_name_the_line(content: str, line: int, message: str) -> None:
    with pytest.raises(RiskDataError, match=f"line {line}: .*{message}"):
        parse_phrases(content)


GOOD = '[concepts.a]\nwords = ["slaan"]\n\n[concepts.b]\nwords = ["hij"]\n'


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ('[concepts.a]\nwords = ["slaan"\n', 2, "Unclosed array"),  # TOML syntax: tomllib's own words
        ('[concepts.a]\nlevel = "heel hoog"\nwords = ["x"]\n', 2, "level must be one of"),
        ("[concepts.a]\nlevel = \"hoog\"\nwords = []\n", 3, "non-empty list"),
        ('[concepts.a]\nwords = ["x"]\ncolour = "red"\n', 3, "unknown key 'colour'"),
        ('[concepts.a]\nwords = [\n  "goed",\n  "sla@n",\n]\n', 4, "letters, digits"),
        ('[concepts.a]\nwords = ["x"]\nnegatable = "ja"\n', 3, "true, false or"),
        ('[concepts.a]\nwords = ["x"]\ncompounds = "nee"\n', 3, "'compounds' must be true or false"),
        ('[concepts.a]\nwords = ["x"]\ngap = 9\n', 3, "'gap' must be a whole number 0 to 8"),
        ('[concepts.a]\nwords = ["x"]\ngap = true\n', 3, "'gap' must be a whole number 0 to 8"),
        ('[concepts.a]\nwords = ["x"]\nunless = ["nergens"]\n', 3, "unknown concept 'nergens'"),
        (GOOD + '\n[[rules]]\nlevel = "hoog"\nwhen = ["a", "b|c"]\n', 9, "unknown concept 'c'"),
        (GOOD + '\n[[rules]]\nlevel = "hoog"\nwhen = ["a"]\n\n[[rules]]\nlevel = "erg"\nwhen = ["a"]\n', 12, "level"),
        (GOOD + '\n[[rules]]\nlevel = "hoog"\nwhen = "a"\n', 9, "'when' must be a list"),
        ('[colours]\nred = 1\n', 1, "unknown table 'colours'"),
        ('[concepts.a]\nwords = ["schopt hond"]\nanchor = "hond"\n', 3, "'anchor' must be a list of words"),
        ('[concepts.a]\nwords = ["schopt hond", "kat"]\nanchor = ["kat"]\n', 3, "anchor 'kat' is in no entry"),
    ],
)
def test_concept_errors_name_the_line(content: str, line: int, message: str) -> None:
    with pytest.raises(RiskDataError, match=f"concepts.toml line {line}: .*{re.escape(message)}"):
        parse_concepts(content)


def test_a_supervisor_extends_a_concept_without_code(tmp_path: Path) -> None:
    concepts = tmp_path / "concepts.toml"
    concepts.write_text(
        DEFAULT_CONCEPTS.read_text(encoding="utf-8")
        + '\n[concepts.sekte]\nlevel = "zorg"\nlabel = "sekte"\nwords = ["sekte", "goeroe"]\nunless = ["vraag"]\n',
        encoding="utf-8",
    )
    d = RiskDetector.from_file(concepts=concepts)
    assert d.detect("mijn moeder zit bij een sekte en de goeroe bepaalt alles").level == "zorg"
    assert d.detect("wat is een sekte, voor mijn werkstuk").level is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("bias\t0\nthreshold\t0\nslaan 1.5\n", "line 3: expected 'feature<TAB>weight'"),
        ("bias\t0\nthreshold\tnul\n", "line 2: 'nul' is not a number"),
        ("bias\t0\nthreshold\t0\nlevel\theel hoog\n", "line 3: level must be one of"),
        ("# only\nthreshold\t0\n", "no 'bias' line"),
    ],
)
def test_model_errors_name_the_line(content: str, message: str) -> None:
    with pytest.raises(RiskDataError, match=re.escape(message)):
        parse_model(content)


def test_model_feature_spelled_like_a_key() -> None:
    model = parse_model("bias\t0\nthreshold\t0\nlevel\thoog\n=level\t0.5\n=bias\t0.25\n")
    assert model.level == "hoog" and model.bias == 0
    assert model.weights == {"level": 0.5, "bias": 0.25}


def test_shipped_model_loads_and_never_overrules_acuut() -> None:
    model = parse_model(DEFAULT_MODEL.read_text(encoding="utf-8"))
    assert model.weights and model.add is not None and model.threshold <= model.add
    without = RiskDetector.from_file(model=False)
    for text in ("hij staat voor de deur met een mes", "ik wil dood, de pillen liggen klaar", "bel 112"):
        assert without.detect(text).level == "acuut"
        assert default_detector().detect(text).level == "acuut"


def test_model_signal_names_the_words_that_weighed() -> None:
    result = default_detector().detect("ik durf het aan niemand te vertellen wat oom met mij doet als we alleen zijn")
    model_signals = [c for c in result.concepts if c[0] == "model"]
    for _, level, words in model_signals:
        assert level == "zorg" and words and all(" " not in w for w in words)


def test_a_context_threshold_asks_more_of_a_signal_that_is_explained() -> None:
    """Round 6: where a concept that explains counts (a question, ordinary use, a game, reassurance, ...), a signal
    of the rules below acuut needs the model's `context` threshold; elsewhere `threshold` as before."""
    model = parse_model("bias\t0\nthreshold\t-1\nadd\t0.5\ncontext\t0.3\n")
    assert model.context == 0.3
    assert model.judge([], [], [], ruled=True, context=False, named=[-0.1]) == ()  # -0.1 >= -1: the signal stays
    assert model.judge([], [], [], ruled=True, context=True, named=[-0.1]) is None  # -0.1 < 0.3: quieted
    assert model.judge([], [], [], ruled=False, context=True) is None  # no rule: `add` as before
    assert parse_model("bias\t0\nthreshold\t-1\n").judge([], [], [], ruled=True, context=True) == ()


def test_context_thresholds_in_training() -> None:
    from routing.risk_model import flagged

    assert flagged(3, 0.0, keep=-1.0, add=1.0, context=0.5) is False
    assert flagged(3, 0.6, keep=-1.0, add=1.0, context=0.5) is True
    assert flagged(1, 0.0, keep=-1.0, add=1.0, context=0.5) is True  # no context: keep
    assert flagged(3, 0.0, keep=-1.0, add=1.0) is True  # no context threshold: keep
    assert flagged(2, -9.0, keep=-1.0, add=1.0, context=5.0) is True  # acuut always


def test_the_model_quiets_a_rule_only_on_evidence_against_it() -> None:
    """Round 8: a rule's signal stays where the message's own features weigh for danger (its score at or above the
    bias), however high `threshold` or `context` is: a bare "hij vermoordt me" is not quieted by the model's prior.
    Training counts such a signal as one that stands (routing.risk_model.standing)."""
    from routing.risk_model import flagged, standing

    model = parse_model("bias\t-1\nthreshold\t-0.5\nadd\t0.5\ncontext\t0\n")
    assert model.judge([], [], [], ruled=True, named=[0.2]) == ()  # -0.8: under threshold, over the bias
    assert model.judge([], [], [], ruled=True, context=True, named=[0.0]) == ()  # -1.0: at the bias
    assert model.judge([], [], [], ruled=True, named=[-0.1]) is None  # -1.1: evidence against it
    assert model.judge([], [], [], ruled=False, named=[0.2]) is None  # no rule: `add` as before
    assert standing(1, -0.8, -1.0) == standing(3, -1.0, -1.0) == 2
    assert standing(1, -1.1, -1.0) == 1 and standing(0, 5.0, -1.0) == 0
    assert flagged(standing(1, -0.8, -1.0), -0.8, keep=-0.5, add=0.5) is True
    assert flagged(standing(1, -1.1, -1.0), -1.1, keep=-0.5, add=0.5) is False
    for text in ("hij vermoordt me", "hij slaat me", "mijn vader slaat mij"):
        assert default_detector().detect(text).level is not None, text


def test_thresholds_by_the_mean_of_the_writers() -> None:
    """CHOICE "mean" weighs every writer alike: a small writer whose danger scores low pulls `keep` down."""
    from routing.risk_model import choose_thresholds

    big = [(0.0, 1, 1)] * 50 + [(-1.0, 0, 1)] * 20
    small = [(-1.5, 1, 1)] * 3
    pooled = big + small
    keep_pooled, _ = choose_thresholds(pooled, verbose=False, by_writer=[big, small], choice="pooled")
    keep_mean, _ = choose_thresholds(pooled, verbose=False, by_writer=[big, small], choice="mean")
    assert keep_mean <= -1.5 < -1.0 < keep_pooled


def test_context_concepts_exist_and_reassurance_quiets_no_rule() -> None:
    from routing.risk import CONTEXT

    d = RiskDetector.from_file(model=False)
    names = {c.name for c in d.concepts}
    assert set(CONTEXT) <= names
    # Reassurance only informs the model: by itself it quiets no rule ("het gaat wel" is also what victims say).
    assert d.detect("hij slaat me elke dag, maar het gaat goed hoor").level is not None
    assert d.detect("hij staat nu voor de deur met een mes, gelukkig is de buurvrouw er").level == "acuut"
    assert default_detector().detect("hij staat nu voor de deur met een mes, gelukkig is de buurvrouw er").level == (
        "acuut"
    )


@pytest.mark.parametrize(
    "text",
    [
        "wat is eerwraak precies? we moeten een betoog schrijven voor nederlands",
        "ik moet een verslag schrijven over huiselijk geweld, mag ik een paar dingen vragen",
        "een algemene vraag: valt schreeuwen tegen kinderen onder kindermishandeling?",
    ],
)
def test_round_six_knowledge_questions_are_quiet(text: str) -> None:
    assert level(text) is None


@functools.cache
def _rules_only() -> RiskDetector:
    return RiskDetector.from_file(model=False)


@pytest.mark.parametrize(
    "text",
    [
        "voor het verhuizen heb ik touw en spanbanden gekocht",
        "ik bewaar de slaappillen van opa buiten bereik van de kinderen",
        "de wasknijpers liggen in de tuin, mama vraagt of ik de was ophang",
        "bij het skeeleren heeft mijn vriend me geduwd en nu bloedt mijn knie",
        "mijn vader heeft mijn telefoon ingenomen tot na de toetsweek",
    ],
)
def test_round_six_ordinary_means_are_quiet(text: str) -> None:
    """Each was a signal before round 6 (three of them acuut)."""
    assert _rules_only().detect(text).level is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik heb een touw gekocht voor vannacht, niemand gaat me missen", "acuut"),
        ("hij kneep zo hard in mijn arm dat het blauw is", "hoog"),
        ("als mijn cijfers slecht zijn slaat mijn vader me met de riem", "hoog"),
        ("ik kan mezelf wel voor mijn kop slaan maar ik snijd mezelf ook elke avond", "hoog"),
    ],
)
def test_round_six_danger_is_kept(text: str, expected: str) -> None:
    assert _rules_only().detect(text).level == expected
    assert level(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "mijn tante werkt op schiphol en haalt ons straks op van het vliegveld",  # a place of departure is no coercion
        "de agent deed de verdachte handboeien om en nam hem mee",  # hand- compounds are no hands around a neck
        "oma heeft een kaars aangestoken bij de foto van opa",  # a candle is ordinary fire
    ],
)
def test_round_seven_decoys_are_quiet(text: str) -> None:
    """Each was a signal of the rules before round 7."""
    assert _rules_only().detect(text).level is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Television alone is no fiction: what someone does after hurting is no game or film.
        ("hij kneep net mijn keel dicht en nu zit hij gewoon tv te kijken", "acuut"),
        ("mijn vader duwt me tegen de muur en gooit met spullen, daarna kijkt hij tv", "hoog"),
        ("ik moet trouwen met een man die ik niet ken, de vlucht gaat morgen vanaf schiphol", "acuut"),
        ("mijn vriend houdt mijn handen vast en drukt een kussen op mijn gezicht", "hoog"),
    ],
)
def test_round_seven_danger_is_kept(text: str, expected: str) -> None:
    assert _rules_only().detect(text).level == expected
    assert level(text) is not None


def test_round_seven_fiction_on_television_still_quiets() -> None:
    assert _rules_only().detect("in een serie op tv werd iemand gewurgd, ik kon niet slapen").level is None
    assert _rules_only().detect("we keken een film waarin een man zijn vrouw wurgt").level is None


def test_round_seven_talk_about_abuse_quiets_no_rule() -> None:
    """`gesprek_erover` (a lesson, a discussion) only informs the model: a child also tells in class."""
    d = _rules_only()
    assert "gesprek_erover" in {c.name for c in d.concepts}
    assert d.detect("in de klas hadden we een discussie, maar mijn vader slaat me echt elke dag").level is not None


@pytest.mark.parametrize(
    "text",
    [
        # "maar" turns the clause: a negation before it does not reach the violence after it.
        "hij bedoelt het niet zo maar hij slaat me soms",
        # A separable verb whose parts stand far apart; a hok without an animal is a punishment.
        "mijn stiefmoeder sloot ons de hele zaterdag in de schuur op",
        "hij sluit me als straf soms urenlang in het hok op",
        # A professional's concrete case is not a general question, even when it ends in one.
        "als leerkracht zag ik vandaag een meisje van 6 met blauwe plekken, hoe meld ik dat?",
        # A joke of the one who does it explains nothing.
        "hij zei het als een grap, ik steek je kapot, maar hij lachte niet",
        "hij zei het zogenaamd als grap, ik maak je af",
        # Silence imposed with a threat.
        "hij zei dat ik het niemand mocht vertellen, anders zou hij mama slaan",
        # Danger told by its effects.
        "ik ben bang om naar huis te gaan",
        "wij mogen thuis niet eten als we te laat zijn",
        "hij laat me niet slapen als hij boos is",
        "hij heeft mijn kat geschopt om te laten zien wat er met mij gebeurt",
        "mijn vriend kijkt elke avond in mijn telefoon en leest mijn berichten",
        "de deur van mijn kamer gaat 's avonds van buiten op slot",
        "ik moet van mijn stiefvader in de kast zitten als hij thuiskomt",
        "mijn moeder doet al dagen alsof ik lucht ben",
        "ik trek mijn haren uit als het thuis ruzie is",
        "hij hield zijn arm om mijn hals tot ik niks meer zag",
        # Subordinate word order: "dat mama niet alleen naar buiten mag".
        "mijn vader zegt dat mama niet alleen naar buiten mag",
        "als ik huil zegt mijn moeder dat ze me naar een tehuis stuurt",
    ],
)
def test_round_nine_indirect_danger_is_found(text: str) -> None:
    assert _rules_only().detect(text).level is not None


@pytest.mark.parametrize(
    "text",
    [
        "hij heeft me nooit geslagen",
        "ik sluit mijn fiets altijd bij de ingang van de school op slot",
        "de konijnen zitten in het hok",
        "hoe meld ik het als een kind op school blauwe plekken heeft?",
        "mijn zus kan me wel wurgen haha",
        "als ik iets vertel, bellen jullie dan mijn ouders?",
        "de buurman schopt zijn hond, bij wie kan ik dat melden?",
        "Weet u waar ik mijn vraag kan stellen?",
        # What is no person kills no one; "kan haar wel ..." is the writer's hyperbole.
        "deze warmte vermoordt me, het is 34 graden op mijn werk",
        "mijn rug vermoordt me na die verhuizing",
        "ik kan hem wel schieten, hij heeft mijn oplader weer meegenomen",
        # Taking a thing is no threat; taking a weapon is (test_round_nine_a_weapon_taken_is_in_hand).
        "mijn broertje heeft mijn stiften gepakt en nu is hij weg",
    ],
)
def test_round_nine_quiet_stays_quiet(text: str) -> None:
    assert _rules_only().detect(text).level is None


def test_round_nine_a_bare_threat_is_never_quieted() -> None:
    """Decoy-side evidence is about the same words: nothing added this round quiets a bare threat, nor one with a
    condition of leaving."""
    for text in ("hij vermoordt me", "hij vermoordt me als ik weg ga", "mijn rug doet pijn en hij vermoordt me"):
        assert level(text) is not None, text
        assert _rules_only().detect(text).level is not None, text


def test_round_nine_a_weapon_taken_is_in_hand() -> None:
    """"pakt" is no threat by itself (a thief caught, a cuddly toy taken) but with a weapon it is one in hand."""
    assert _rules_only().detect("mijn stiefvader heeft een mes gepakt en staat in de gang").level == "acuut"
    assert _rules_only().detect("hij pakt me soms heel hard vast bij mijn arm").level is not None


def test_round_nine_blocking_the_way_out_is_acute_and_spelling_is_no_game() -> None:
    """"spelfouten" is no game ("spel"), and someone between the writer and the door, knife in hand, is acute."""
    text = "sorry voor mijn spelfouten, hij heeft een mes gepakt en staat nu tussen mij en de deur"
    assert _rules_only().detect(text).level == "acuut"


def test_round_nine_help_given_is_no_plea() -> None:
    """Help that was given ("heeft me geholpen") is no cry for help: with someone and "nu" it made an acuut signal."""
    text = "de buurman heeft me geholpen met de heg en nu is de tuin netjes"
    assert _rules_only().detect(text).level != "acuut"
    assert _rules_only().detect("help hij is nu hier").level == "acuut"


def test_round_nine_maar_ends_a_negation_only_across_it() -> None:
    d = _rules_only()
    assert "geweld + slachtoffer" not in {c[0] for c in d.detect("hij slaat me niet, maar hij schreeuwt wel").concepts}
    assert d.detect("hij heeft me niet geslagen maar wel geduwd").level is not None
    assert d.detect("hij slaat me, maar niet elke dag").level is not None
    assert d.detect("misschien overdrijf ik, het is niet erg maar hij duwt me").level is not None


def test_from_file_phrases_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "phrases.txt"
    path.write_text("# comment\n\nzorg\tik ben ongerust\nhoog\tik ben ongerust\n", encoding="utf-8")
    assert RiskDetector.from_file(path).detect("ik ben ongerust").level == "hoog"
    path.write_text("zorg\tok\nfout\tx\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        RiskDetector.from_file(path)


# ------------------------------------------------------------------ labelled sets


def _rows(path: Path) -> list[tuple[str, str]]:
    """(label, text) of a split; the old file has two columns, the new ones four."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            parts = line.split("\t")
            rows.append((parts[0], parts[-1]))
    return rows


def _recall_precision(rows: list[tuple[str, str]]) -> tuple[float, float]:
    d = default_detector()
    pairs = [(label != "geen", d.detect(text).level is not None) for label, text in rows]
    tp = sum(danger and flagged for danger, flagged in pairs)
    recall = tp / max(1, sum(danger for danger, _ in pairs))
    precision = tp / max(1, sum(flagged for _, flagged in pairs))
    return recall, precision


def test_old_labelled_set() -> None:
    rows = _rows(MESSAGES)
    assert len(rows) >= 300
    recall, precision = _recall_precision(rows)
    assert recall >= 0.95 and precision >= 0.90, (recall, precision)


# The tuning sets, by file: every one was read while the concepts were written and the model is trained on all of
# them, so these are training figures. Floors just under the last measurement (docs/risk-signals.md), so the
# detector cannot fall back unnoticed; dev.tsv holds the issue's target (recall 0.95 at precision 0.90).
TUNING = {
    "train.tsv": (0.99, 0.95),  # writer A: 0.997 / 0.961 after round 5 (0.984 / 0.929 after round 4)
    "dev.tsv": (0.98, 0.97),  # writer A: 0.988 / 0.976 (the issue's target: 0.95 / 0.90)
    # writer B: 0.982 / 0.958; 0.979 / 0.970 in round 8 (a crossbow and a list of names, found by no rule, that the
    # model retrained with writer I scores just under `add`; every acuut message still flagged)
    "train2.tsv": (0.97, 0.95),
    "train3.tsv": (0.94, 0.94),  # writer C: 0.949 / 0.949
    "dev_d.tsv": (0.99, 0.97),  # writer D: 1.000 / 0.974 (held out until round 3: 0.960 / 0.861 then)
    "dev_e.tsv": (0.98, 0.99),  # writer E: 0.983 / 1.000 (held out until round 3: 0.949 / 0.933 then)
    "dev_f.tsv": (0.96, 0.96),  # writer F: 0.963 / 0.963 (held out until round 4: 0.942 / 0.856 then)
    "dev_g.tsv": (0.96, 0.90),  # writer G: 0.967 / 0.907 (held out until round 5: 0.957 / 0.856 then)
    "dev_h.tsv": (0.96, 0.88),  # writer H: held out until round 6: 0.964 / 0.884 then (round 5: 0.955 / 0.868)
    "dev_i.tsv": (0.95, 0.86),  # writer I: 0.958 / 0.867; held out until round 7: 0.912 / 0.845 then
    "dev_j.tsv": (0.96, 0.90),  # writer J: 0.965 / 0.905; held out until round 8: 0.956 / 0.893 then
    # writer L: 0.947 / 0.884 with round 9's concepts and L in the model; held out until round 9: 0.929 / 0.871 then
    "dev_l.tsv": (0.94, 0.88),
}
TARGET = (0.95, 0.90)


@pytest.mark.parametrize("name", sorted(TUNING))
def test_tuning_split_floor(name: str) -> None:
    recall, precision = _recall_precision(_rows(SPLITS / name))
    least_recall, least_precision = TUNING[name]
    assert recall >= least_recall and precision >= least_precision, (recall, precision)


# The held-out splits: whatever `tests/data/risk/test*.tsv` is in the checkout, written by a writer nobody tuned
# on and never read while tuning (the lead adds the next unseen writer at merge time). Floors by file, set from their
# first measurement; a held-out file without its own floors is held to the lowest an unread writer has scored since
# round 2 (writer C 0.906 / 0.862, writer D 0.947 / 0.866, writer F 0.942 / 0.856), rounded down.
# Writer G (round 5: 0.957 / 0.856) is dev_g.tsv since round 6; writer H (round 6: 0.964 / 0.884) is dev_h.tsv since
# round 7. Writer I, asked to vary what earlier writers wrote alike (round 6: 0.921 / 0.843, round 7: 0.912 / 0.845),
# is dev_i.tsv since round 8. Round 8 was measured on two writers with briefs unlike any before: J (Dutch as a second
# language, straattaal, Flemish, young children's spelling; round 7: 0.952 / 0.882, round 8: 0.956 / 0.893), which
# is dev_j.tsv since round 9, and K (minimised and indirect disclosures, decoys close to the line; round 7:
# 0.891 / 0.776, round 8: 0.900 / 0.793; round 9: 0.910 / 0.801), kept out of round 9's tuning checkout. Round 9
# is measured as well on writer L (test_l.tsv: typed on a phone in a hurry, autocorrect, dictation, chat
# abbreviations, English code-switching, emoji; round 8: 0.934 / 0.879, round 9: 0.929 / 0.871). Round 9's brief
# named kinds of saying that K's round-8 false alarms and misses showed (a professional's concrete case, a
# perpetrator's "grapje", effects), never a sentence: L is the cleaner measure. L is dev_l.tsv since round 10, and
# K was removed from round 10's tuning checkout (not read or scored there). Round 10 is measured on K (0.910 / 0.807)
# and on writer M (test_m.tsv: reported speech, bystanders, plain language, exaggeration, professionals' jargon,
# retold films and podcasts; round 9: 0.932 / 0.831, round 10: 0.932 / 0.831). Between rounds the next tuning checkout
# has no held-out file (the lead adds them at merge time).
HELD_OUT: dict[str, tuple[float, float]] = {"test_k.tsv": (0.90, 0.80), "test_m.tsv": (0.92, 0.82)}
HELD_OUT_DEFAULT = (0.90, 0.85)


def _held_out() -> list[Path]:
    return sorted(SPLITS.glob("test*.tsv"))


def _tuning_files() -> list[Path]:
    """Every labelled file that may be read while tuning: all of tests/data/risk but the held-out test*.tsv, and
    the old set."""
    return [p for p in sorted(SPLITS.glob("*.tsv")) if not p.name.startswith("test")] + [MESSAGES]


def test_held_out_split_floor() -> None:
    """Each held-out file at its floors. Without one in the checkout (the lead adds it at merge time), the writer
    held out last and now tuning data (L, dev_l.tsv since round 10) stands in at its own floors, so the test always
    asserts something; with no held-out file it says nothing about an unseen writer."""
    files = _held_out()
    assert all(name.startswith("test") and name.endswith(".tsv") for name in HELD_OUT)
    measured = {p.name: _rows(p) for p in files}
    if not measured:
        recall, precision = _recall_precision(_rows(SPLITS / "dev_l.tsv"))
        least_recall, least_precision = TUNING["dev_l.tsv"]
        assert recall >= least_recall and precision >= least_precision, (recall, precision)
        return
    for name, rows in measured.items():
        assert len(rows) >= 100, name
        recall, precision = _recall_precision(rows)
        least_recall, least_precision = HELD_OUT.get(name, HELD_OUT_DEFAULT)
        assert recall >= least_recall and precision >= least_precision, (name, recall, precision)


def test_tuning_files_are_the_expected_writers() -> None:
    """The held-out glob and the tuning list split the data without overlap, and the model trains on every
    tuning file (routing/risk_model.py WRITERS)."""
    from routing.risk_model import WRITERS

    tuning = {p.resolve() for p in _tuning_files()}
    trained = {p.resolve() for paths in WRITERS.values() for p in paths}
    assert tuning == trained
    assert not tuning & {p.resolve() for p in _held_out()}


def _words(text: str) -> list[str]:
    return normalise(text).split()


def test_nothing_of_the_data_is_copied_into_the_detector_data() -> None:
    """No message of a held-out split is in the tuning data; no run of eight words of any labelled message (held
    out or tuning) is in the concepts, phrases or model: concepts are general words, not memorised sentences.
    With no held-out file in the checkout the first check passes vacuously; the second still reads every tuning
    message."""
    # One entry at a time (a quoted string, a field of a line): words of neighbouring entries are no phrase.
    # Eight words, not four: everyday phrases of up to six words ("hij staat voor de deur", "hij mag niet
    # weten dat ik chat") were in the phrase list long before the held-out split was written, and people
    # keep writing them; a run of eight is no coincidence.
    data_words = [
        _words(entry)
        for p in (DEFAULT_CONCEPTS, DEFAULT_PHRASES, DEFAULT_MODEL)
        for line in p.read_text(encoding="utf-8").splitlines()
        for entry in re.split(r'[",\t]', line)
    ]
    data_grams = {tuple(words[i : i + 8]) for words in data_words for i in range(len(words) - 7)}
    tuned_on = {normalise(text) for path in _tuning_files() for _, text in _rows(path)}
    held_out = [text for path in _held_out() for _, text in _rows(path)]
    for text in held_out:
        assert normalise(text) not in tuned_on, text
    checked = 0
    for text in [*held_out, *(text for path in _tuning_files() for _, text in _rows(path))]:
        words = _words(text)
        checked += 1
        assert not any(tuple(words[i : i + 8]) in data_grams for i in range(len(words) - 7)), text
    assert checked >= 2800


def test_the_model_adds_only_where_danger_is_as_likely_as_not() -> None:
    """The `add` threshold is never chosen below ADD_FLOOR, however well a lower one would have scored on the
    writers it was chosen on (it flipped from one writer to the next)."""
    from routing.risk_model import ADD_FLOOR, choose_thresholds

    scored = [(-0.5, 1, 0)] * 10 + [(-2.0, 0, 0)] * 10  # a lower `add` would find all ten
    keep, add = choose_thresholds(scored, verbose=False)
    assert add >= ADD_FLOOR
    scored = [(0.5, 1, 0)] * 10 + [(-2.0, 0, 0)] * 10
    assert 0 <= choose_thresholds(scored, verbose=False)[1] <= 0.5


# ------------------------------------------------------------------ round 10: writer L as tuning data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A joke denied is no joke: "lol" does not quiet a threat the message says is meant.
        ("ze zei dat ze me ging killen lol, maar niet echt jk. ze weet waar ik slaap", "hoog"),
        ("ik wil gewoon verdwijnen, en dit is niet als grap bedoeld", "hoog"),
        # Suicide in chat words, and the means at hand.
        ("sorry iedereen, ik ben echt done met alles", "hoog"),
        # A relapse is "again": it undoes the past of "clean".
        ("relapsed vannacht na twee maanden clean, ik heb weer gesneden", "hoog"),
        ("ik heb de pillen al, vanavond", "acuut"),
        # Neglect in everyday words.
        ("niemand haalt me op van de sportclub en het is al donker", "zorg"),
        # Emoji in place of a word.
        ("mijn stiefvader staat met een 🔪 in de keuken", "acuut"),
        ("hij dreigt ons huis in de 🔥 te steken", "hoog"),
    ],
)
def test_round_ten_danger_is_found(text: str, expected: str) -> None:
    assert _rules_only().detect(text).level == expected, _rules_only().detect(text)


@pytest.mark.parametrize(
    "text",
    [
        # Hyperbole about a small thing: a report card, a test, a mess.
        "mama gaat me killen om mijn rapport",
        "als mijn vader die onvoldoende ziet maakt hij me af",
        "mijn zus vermoordt me om de rommel op haar kamer",
        "mijn broer gaat me killen, ik heb zijn oplader kapot gemaakt",
        "die biologie toets was echt moord",
        # A third party's disclosure asked about in general ("als een vriendje zegt"), not told ("mijn vriendin zegt").
        "wat moet je doen als een klasgenoot zegt dat hij thuis geslagen wordt?",
        # A family saying, the writer's own hyperbole, a phone hung up.
        "mijn oma zei altijd lachend: ik sla je achter het behang",
        "als hij weer zijn jas op de grond gooit dan wurg ik hem",
        "als ik nu ophang, kan ik dan later terugbellen?",
        # Words that only look like danger.
        "ik wil iets vragen over een eerdere melding van mij",
        "mijn broer heeft me erin geluisd met een nepbrief van school",
        "mag een lege spuit in de vuilnisbak?",
        # Praise, not fire.
        "die nieuwe sneakers zijn echt 🔥",
    ],
)
def test_round_ten_quiet_stays_quiet(text: str) -> None:
    assert _rules_only().detect(text).level is None, _rules_only().detect(text)


def test_round_ten_a_threat_about_something_else_stays_a_signal() -> None:
    """Hyperbole is about the same words: a small thing next to the killing word. A threat with a condition of
    leaving or telling, and violence in the same message, still count."""
    for text in (
        "hij vermoordt me",
        "hij vermoordt me als ik weg ga",
        "papa vermoordt me als ik het aan de juf vertel",
        "mama gaat me killen om mijn rapport en ze slaat me elke keer met de riem",
        "hij zei dat hij me vermoordt en ik weet dat hij het meent, lol is het niet",
        "mijn vriendin zegt dat haar vader haar slaat met een riem",
    ):
        assert _rules_only().detect(text).level is not None, text
        assert level(text) is not None, text


def test_round_ten_emoji_read_as_words_only_outside_plain_ascii() -> None:
    assert normalise("hij heeft een 🔪") == "hij heeft een mes"
    assert normalise("ik heb de 💊 al") == "ik heb de pillen al"
    assert normalise("mes") == "mes"
