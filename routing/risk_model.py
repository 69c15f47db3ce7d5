"""Train the risk detector's statistical model (`routing/risk/model.tsv`) on the labelled data the project ships.

    .venv/bin/python -m routing.risk_model                # every writer's data -> routing/risk/model.tsv
    .venv/bin/python -m routing.risk_model --without-dev  # without dev, and measure it on dev
    .venv/bin/python -m routing.risk_model --lowo         # leave one writer out: train on the rest, measure it

A logistic regression over each message's lemmas and the concepts the rules found, fitted by plain gradient
descent in a fixed order: the same data always gives the same weights. The model only speaks where no rule did,
with two thresholds: below `threshold` it quiets a signal of the rules (never acuut), at or above `add` it flags a
message no rule did. Both are chosen on scores of messages the model was not trained on: with data of two or more
writers, each writer's messages scored by a model trained on the other writers' (plain cross-validation over one
writer's messages overestimates: a writer repeats their own words); the best F2 whose precision stays at or above
TARGET_PRECISION. The data comes in twelve sets by writer (WRITERS); a held-out tests/data/risk/test*.tsv is never read.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from routing.risk import CONTEXT, DEFAULT_MODEL, MODEL_KEYS, RiskDetector

ROOT = Path(__file__).resolve().parent.parent
SPLITS = ROOT / "tests" / "data" / "risk"
DEV = SPLITS / "dev.tsv"
# Who wrote which labelled messages: generalising to a writer the model has not read is what issue 13 measures.
WRITERS: dict[str, tuple[Path, ...]] = {
    "A (train + dev)": (SPLITS / "train.tsv", DEV),
    "B (train2)": (SPLITS / "train2.tsv",),
    "C (train3)": (SPLITS / "train3.tsv",),
    "D (dev_d)": (SPLITS / "dev_d.tsv",),
    "E (dev_e)": (SPLITS / "dev_e.tsv",),
    "F (dev_f)": (SPLITS / "dev_f.tsv",),
    "G (dev_g)": (SPLITS / "dev_g.tsv",),
    "H (dev_h)": (SPLITS / "dev_h.tsv",),
    "I (dev_i)": (SPLITS / "dev_i.tsv",),
    "J (dev_j)": (SPLITS / "dev_j.tsv",),
    "L (dev_l)": (SPLITS / "dev_l.tsv",),
    "old set": (ROOT / "tests" / "data" / "risk_messages.tsv",),
}
EPOCHS = 300
RATE = 0.5
FOLDS = 5  # plain cross-validation folds, only when the training data has one writer
# Issue 13 asks for precision 0.90 on unseen messages; above it, as unseen messages will differ and the writers of the
# pool were read while the concepts were written (their precision there is optimistic). Every unseen writer so far
# scored about 0.86 where the pool promised 0.93: round 5 chose 0.94 (leave one writer out: the same mean F2, pooled
# precision 0.935 -> 0.942 for 0.001 recall).
TARGET_PRECISION = 0.94  # a floor: among thresholds above it, the one with the best F2 (recall counts 4x)
# Weights smaller than this are dropped: most of the lemma pairs weigh next to nothing, and every weight kept is
# looked up for every message (cost, see docs/performance.md).
WEIGHT_FLOOR = 0.04  # 0.03 until round 4: 0.04 measured as well across writers and costs about 2% less
# The model adds a signal no rule raised only where it finds danger at least as likely as not (log-odds 0): below
# that, the thresholds chosen on the other writers flipped between -0.2 and 0.1 from one writer left out to the next,
# and every writer left out scored as well or better with the floor (round 5: pooled A-F precision 0.948 -> 0.955 at
# the same recall).
ADD_FLOOR = 0.0
# How the thresholds are chosen among those at TARGET_PRECISION: "pooled" (the best F2 of all writers' messages
# together, rounds 3-5) or "mean" (the best mean of each writer's F2: a writer of many messages weighs no more).
CHOICE = "pooled"
# Whether a message where a concept that explains counts gets its own, stricter `context` threshold.
CONTEXT_THRESHOLD = True
NEVER = 99.0  # a threshold no score reaches: the model never quiets (as keep) or never adds (as add)
# Features, label (1 = danger), what the rules said: 2 acuut, 1 a lower signal, 3 a lower signal in a message where a
# concept that explains counts (CONTEXT), 0 nothing.
Example = tuple[list[str], int, int]
_CONTEXT_FEATURES = frozenset("@" + name for name in CONTEXT)


@dataclass(frozen=True)
class Settings:
    l2: float = 0.001
    min_count: int = 2  # a feature seen in fewer training messages gets no weight


SETTINGS = Settings()


def load(path: Path) -> list[tuple[int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            parts = line.split("\t")
            rows.append((0 if parts[0] == "geen" else 1, parts[-1]))
    return rows


def examples(detector: RiskDetector, rows: list[tuple[int, str]]) -> list[Example]:
    """Features, label, and what the concepts and rules said (the model never overrules acuut)."""
    found = [detector.detect(text).level for _, text in rows]
    out: list[Example] = []
    for (label, text), level in zip(rows, found, strict=True):
        features = detector.features(text)
        context = not _CONTEXT_FEATURES.isdisjoint(features)
        out.append((sorted(features), label, 2 if level == "acuut" else (3 if context else 1) if level else 0))
    return out


def flagged(ruled: int, value: float, keep: float, add: float, context: float | None = None) -> bool:
    """acuut always; a lower signal if the model does not score it below `keep` (below `context` where a concept
    that explains counts); else the model above `add`."""
    if ruled == 2:
        return True
    if ruled == 3 and context is not None:
        return value >= context or value >= add
    return (ruled != 0 and value >= keep) or value >= add


def standing(ruled: int, value: float, bias: float) -> int:
    """What the rules said, as `flagged` weighs it in `measure` (as the detector does): a rule's signal in a message
    whose own features weigh for danger (its score at or above the model's bias) stands like acuut. The model quiets
    a rule only on evidence against it, never by its prior alone: a bare "hij vermoordt me" says nothing else, and
    must not be quieted (round 8: the thresholds chosen with writer I rose to -0.9, just above such a message's
    score). The thresholds are chosen without it: counting such signals as standing there made the choice raise
    `add` to 0.1-0.2, and writer B left out lost recall (0.969 -> 0.957) for a point of precision."""
    return 2 if ruled in (1, 3) and value >= bias else ruled


def fit(data: list[Example], settings: Settings = SETTINGS) -> tuple[float, dict[str, float]]:
    """Bias and weights of an L2-regularised logistic regression, by full-batch gradient descent."""
    counts: dict[str, int] = {}
    for features, _, _ in data:
        for feature in set(features):
            counts[feature] = counts.get(feature, 0) + 1
    vocabulary = sorted(f for f, n in counts.items() if n >= settings.min_count)
    index = {f: i for i, f in enumerate(vocabulary)}
    rows = [([index[f] for f in features if f in index], label) for features, label, _ in data]
    weights = [0.0] * len(vocabulary)
    bias = 0.0
    n = len(rows)
    for _ in range(EPOCHS):
        gradient = [0.0] * len(vocabulary)
        bias_gradient = 0.0
        for columns, label in rows:
            z = bias + sum(weights[c] for c in columns)
            error = 1 / (1 + math.exp(-max(-30.0, min(30.0, z)))) - label
            bias_gradient += error
            for c in columns:
                gradient[c] += error
        bias -= RATE * bias_gradient / n
        for c in range(len(weights)):
            weights[c] -= RATE * (gradient[c] / n + settings.l2 * weights[c])
    return bias, {f: round(w, 4) for f, w in zip(vocabulary, weights, strict=True) if abs(w) >= WEIGHT_FLOOR}


def score(bias: float, weights: dict[str, float], features: list[str]) -> float:
    return bias + sum(weights.get(f, 0.0) for f in features)


def recall_precision(pairs: list[tuple[int, bool]]) -> tuple[float, float]:
    tp = sum(label == 1 and flagged for label, flagged in pairs)
    recall = tp / max(1, sum(label for label, _ in pairs))
    precision = tp / max(1, sum(flagged for _, flagged in pairs))
    return recall, precision


# Fits by the writers their data left out: leaving one writer out fits the data without writers A and B both when
# A is held out and B scored for the thresholds, and the other way round; the same data gives the same fit.
Fits = dict[frozenset[str], tuple[float, dict[str, float]]]


def _fit_without(
    groups: list[list[Example]], left_out: int | None, settings: Settings, fits: Fits | None, key: frozenset[str]
) -> tuple[float, dict[str, float]]:
    if fits is not None and key in fits:
        return fits[key]
    found = fit([e for h, group in enumerate(groups) if h != left_out for e in group], settings)
    if fits is not None:
        fits[key] = found
    return found


Scored = list[tuple[float, int, int]]  # score, label, what the rules said


def held_out_scores(
    groups: list[list[Example]],
    settings: Settings,
    fits: Fits | None = None,
    names: list[str] | None = None,
    without: frozenset[str] = frozenset(),
) -> list[Scored]:
    """Every training message scored by a model that did not see it, one list per writer when there are two or
    more writers, else one list scored by plain folds. With `fits`, `names` (one per group) and `without` (the
    writers not in `groups`), fits are shared with other calls."""
    if len(groups) >= 2:
        by_writer: list[Scored] = []
        for g, held in enumerate(groups):
            key = without | {names[g] if names else str(g)}
            bias, weights = _fit_without(groups, g, settings, fits if names else None, key)
            by_writer.append([(score(bias, weights, features), label, ruled) for features, label, ruled in held])
        return by_writer
    scored: Scored = []
    data = [e for group in groups for e in group]
    for fold in range(FOLDS):
        held = [example for i, example in enumerate(data) if i % FOLDS == fold]
        bias, weights = fit([example for i, example in enumerate(data) if i % FOLDS != fold], settings)
        scored.extend((score(bias, weights, features), label, ruled) for features, label, ruled in held)
    return [scored]


def _f2(recall: float, precision: float) -> float:
    return 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0


def choose_thresholds(
    scored: Scored, verbose: bool = True, by_writer: list[Scored] | None = None, choice: str | None = None
) -> tuple[float, float]:
    """The thresholds (keep, add) with the best held-out F2 of rules and model together whose precision is at
    least TARGET_PRECISION: a missed danger costs far more than a needless look. With `by_writer` (the same scores
    by writer) and CHOICE "mean", the best mean of the writers' F2 instead of the pooled F2 (every writer counts
    alike, however many messages they wrote)."""
    choice = choice or CHOICE
    groups = by_writer if by_writer and len(by_writer) >= 2 and choice == "mean" else None
    # The rules alone are always a choice (keep below every score, add above every score): where no pair of
    # thresholds reaches the target precision, the model may not make the rules' precision worse.
    rules_recall, rules_precision = recall_precision([(label, ruled > 0) for _, label, ruled in scored])
    floor = min(TARGET_PRECISION, rules_precision)
    rules_f2 = 5 * rules_precision * rules_recall / (4 * rules_precision + rules_recall) if rules_recall else 0.0
    if groups is not None:
        rules_f2 = sum(_f2(*recall_precision([(label, ruled > 0) for _, label, ruled in g])) for g in groups)
        rules_f2 /= len(groups)
    best = (rules_f2, rules_recall, rules_precision, -NEVER, NEVER)
    steps = [*range(round(ADD_FLOOR * 10), 31), round(NEVER * 10)]
    for keep_step in [-round(NEVER * 10), *range(-30, 21)]:
        for add_step in steps:
            if add_step < keep_step:
                continue
            keep, add = keep_step / 10, add_step / 10
            pairs = [(label, flagged(ruled, s, keep, add)) for s, label, ruled in scored]
            recall, precision = recall_precision(pairs)
            f2 = _f2(recall, precision)
            if groups is not None and precision >= floor:
                f2 = sum(
                    _f2(*recall_precision([(label, flagged(ruled, s, keep, add)) for s, label, ruled in g]))
                    for g in groups
                ) / len(groups)
            if precision >= floor and f2 > best[0] + 1e-9:
                best = (f2, recall, precision, keep, add)
    f2, recall, precision, keep, add = best
    if verbose:
        print(f"held out within the training data: recall {recall:.3f} precision {precision:.3f} F2 {f2:.3f}")
        print(f"thresholds: keep {keep}, add {add}")
    return keep, add


def train(
    groups: list[list[Example]],
    settings: Settings = SETTINGS,
    verbose: bool = True,
    fits: Fits | None = None,
    names: list[str] | None = None,
    without: frozenset[str] = frozenset(),
) -> Trained:
    """keep, add, bias, weights, context from the training groups (one per writer; `fits`, `names`, `without`: see
    held_out_scores)."""
    by_writer = held_out_scores(groups, settings, fits, names, without)
    pooled = [s for g in by_writer for s in g]
    keep, add = choose_thresholds(pooled, verbose, by_writer)
    context = choose_context(pooled, keep, add, verbose, by_writer) if CONTEXT_THRESHOLD else None
    bias, weights = _fit_without(groups, None, settings, fits if names else None, without)
    return keep, add, bias, weights, context


def choose_context(
    scored: Scored, keep: float, add: float, verbose: bool = True, by_writer: list[Scored] | None = None
) -> float | None:
    """The `context` threshold, given keep and add: the lowest with the best held-out F2 among those from `keep`
    up (a context may only make the model ask more). By writer: the best
    mean F2 of the writers (every writer counts alike) when CHOICE is "mean", else the pooled F2."""
    groups = by_writer if by_writer and len(by_writer) >= 2 and CHOICE == "mean" else [scored]
    best: tuple[float, float] | None = None  # F2, context
    for step in range(round(keep * 10), 31):
        context = step / 10
        f2s = [
            _f2(*recall_precision([(label, flagged(ruled, s, keep, add, context)) for s, label, ruled in g]))
            for g in groups
        ]
        f2 = sum(f2s) / len(f2s)
        if best is None or f2 > best[0] + 1e-9:  # ascending: a tie goes to the milder threshold (recall first)
            best = (f2, context)
    if best is None:
        return None
    if verbose:
        print(f"context threshold {best[1]} (F2 {best[0]:.3f})")
    return best[1]


Trained = tuple[float, float, float, dict[str, float], float | None]  # keep, add, bias, weights, context


def measure(model: Trained, data: list[Example]) -> tuple[float, float, float, float]:
    """Recall and precision of rules and model, then of the rules alone, on `data`."""
    keep, add, bias, weights, context = model
    pairs = [
        (label, flagged(standing(ruled, value, bias), value, keep, add, context))
        for f, label, ruled in data
        for value in (score(bias, weights, f),)
    ]
    rules_only = [(label, ruled > 0) for _, label, ruled in data]
    return (*recall_precision(pairs), *recall_precision(rules_only))


def writer_data(detector: RiskDetector, names: list[str] | None = None) -> dict[str, list[Example]]:
    return {
        name: [example for path in paths if path.exists() for example in examples(detector, load(path))]
        for name, paths in WRITERS.items()
        if (names is None or name in names) and any(path.exists() for path in paths)
    }


def acute(name: str) -> list[bool]:
    """Which of a writer's messages are labelled acuut, in the order of `writer_data`."""
    return [
        line.split("\t")[0] == "acuut"
        for path in WRITERS[name]
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]


def acute_flagged(model: Trained, data: list[Example], acute_: list[bool]) -> tuple[int, int]:
    """How many of the messages labelled acuut are flagged (any level), of how many: no writer may lose these."""
    keep, add, bias, weights, context = model
    found = [
        flagged(standing(ruled, score(bias, weights, f), bias), score(bias, weights, f), keep, add, context)
        for f, _, ruled in data
    ]
    return sum(got for got, is_acute in zip(found, acute_, strict=True) if is_acute), sum(acute_)


def leave_one_writer_out(detector: RiskDetector, settings: Settings = SETTINGS, verbose: bool = True) -> float:
    """Train on all writers but one, measure on that one; prints a row per writer (with the messages labelled acuut
    that are flagged), returns the mean F2."""
    data = writer_data(detector)
    total = 0.0
    fits: Fits = {}
    for held, examples_ in data.items():
        names = [name for name in data if name != held]
        model = train([data[name] for name in names], settings, False, fits, names, frozenset({held}))
        recall, precision, rules_recall, rules_precision = measure(model, examples_)
        f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
        total += f2
        if verbose:
            found, of = acute_flagged(model, examples_, acute(held))
            print(
                f"| {held} | {len(examples_)} | {recall:.3f} | {precision:.3f} | {f2:.3f} "
                f"| {rules_recall:.3f} | {rules_precision:.3f} | {found}/{of} "
                f"| keep {model[0]}, add {model[1]}, context {model[4]} |"
            )
    return total / max(1, len(data))


def main() -> None:
    global CHOICE, CONTEXT_THRESHOLD
    detector = RiskDetector.from_file(model=False)
    for arg in sys.argv[1:]:
        if arg.startswith("--choice="):
            CHOICE = arg.removeprefix("--choice=")
        if arg == "--no-context":
            CONTEXT_THRESHOLD = False
    if "--lowo" in sys.argv:
        print(
            "| measured on (held out) | messages | recall | precision | F2 | rules only: recall | precision "
            "| acuut flagged | |"
        )
        leave_one_writer_out(detector)
        return
    without_dev = "--without-dev" in sys.argv
    data = writer_data(detector)
    if without_dev:
        a_train = [e for path in WRITERS["A (train + dev)"][:1] for e in examples(detector, load(path))]
        data["A (train + dev)"] = a_train
    keep, add, bias, weights, context = train(list(data.values()))
    sources = [
        path.relative_to(ROOT).as_posix()
        for paths in WRITERS.values()
        for path in paths
        if path.exists() and not (without_dev and path == DEV)
    ]
    lines = [
        "# Written by `python -m routing.risk_model` from the shipped labelled data: " + ", ".join(sources),
        "# Do not edit by hand: change the data or the concepts and train again.",
        f"bias\t{bias:.4f}",
        f"threshold\t{keep:.1f}",
        f"add\t{add:.1f}",
        *([f"context\t{context:.1f}"] if context is not None else []),
        "level\tzorg",
        *(f"{'=' if feature in MODEL_KEYS else ''}{feature}\t{weight}" for feature, weight in sorted(weights.items())),
    ]
    named = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    out = Path(named[0]) if named else DEFAULT_MODEL
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if without_dev and DEV.exists():
        recall, precision, rules_recall, rules_precision = measure(
            (keep, add, bias, weights, context), examples(detector, load(DEV))
        )
        print(f"dev, rules only: recall {rules_recall:.3f} precision {rules_precision:.3f}")
        print(f"dev, rules and model: recall {recall:.3f} precision {precision:.3f}")
    print(f"{len(weights)} weights written to {out}")


if __name__ == "__main__":
    main()
