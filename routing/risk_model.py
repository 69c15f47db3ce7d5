"""Train the risk detector's statistical model (`routing/risk/model.tsv`) on the labelled data the project ships.

    .venv/bin/python -m routing.risk_model                # train + dev + old set -> routing/risk/model.tsv
    .venv/bin/python -m routing.risk_model --without-dev  # train + old set only, and measure it on dev

A logistic regression over each message's lemmas and the concepts the rules found, fitted by plain gradient
descent in a fixed order: the same data always gives the same weights. The model only speaks where no rule did,
with two thresholds: below `threshold` it quiets a signal of the rules (never acuut), at or above `add` it flags a
message no rule did. Both are chosen by 5-fold cross-validation on the training messages for the rules and the
model together: the best F2 whose precision stays at or above TARGET_PRECISION. The train and dev splits and the old
labelled set are used (dev only measured with --without-dev); the test split is never read.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from routing.risk import DEFAULT_MODEL, RiskDetector

ROOT = Path(__file__).resolve().parent.parent
TRAIN = (ROOT / "tests" / "data" / "risk" / "train.tsv", ROOT / "tests" / "data" / "risk_messages.tsv")
DEV = ROOT / "tests" / "data" / "risk" / "dev.tsv"
# Issue 13 asks for precision 0.90 on unseen messages; a little above it, as the test split will differ.
EPOCHS = 300
RATE = 0.5
L2 = 0.001
MIN_COUNT = 2  # a lemma seen in fewer training messages gets no weight
FOLDS = 5
TARGET_PRECISION = 0.91  # a floor: among thresholds above it, the one with the best F2 (recall counts 4x)
Example = tuple[set[str], int, int]  # features, label (1 = danger), 2 = a rule said acuut, 1 = a lower signal


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
    return [
        (detector.features(text), label, 2 if level == "acuut" else 1 if level else 0)
        for (label, text), level in zip(rows, found, strict=True)
    ]


def flagged(ruled: int, value: float, keep: float, add: float) -> bool:
    """acuut always; a lower signal if the model does not score it below `keep`; else the model above `add`."""
    return ruled == 2 or (ruled == 1 and value >= keep) or value >= add


def fit(data: list[Example]) -> tuple[float, dict[str, float]]:
    """Bias and weights of an L2-regularised logistic regression, by full-batch gradient descent."""
    counts: dict[str, int] = {}
    for features, _, _ in data:
        for feature in features:
            counts[feature] = counts.get(feature, 0) + 1
    vocabulary = sorted(f for f, n in counts.items() if n >= MIN_COUNT)
    index = {f: i for i, f in enumerate(vocabulary)}
    rows = [([index[f] for f in sorted(features) if f in index], label) for features, label, _ in data]
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
            weights[c] -= RATE * (gradient[c] / n + L2 * weights[c])
    return bias, {f: round(w, 4) for f, w in zip(vocabulary, weights, strict=True) if abs(w) >= 0.01}


def score(bias: float, weights: dict[str, float], features: set[str]) -> float:
    return bias + sum(weights.get(f, 0.0) for f in features)


def recall_precision(pairs: list[tuple[int, bool]]) -> tuple[float, float]:
    tp = sum(label == 1 and flagged for label, flagged in pairs)
    recall = tp / max(1, sum(label for label, _ in pairs))
    precision = tp / max(1, sum(flagged for _, flagged in pairs))
    return recall, precision


def choose_thresholds(data: list[Example]) -> tuple[float, float]:
    """The thresholds (keep, add) with the best cross-validated F2 of rules and model together whose precision
    is at least TARGET_PRECISION: a missed danger costs far more than a needless look."""
    scored: list[tuple[float, int, int]] = []
    for fold in range(FOLDS):
        held = [example for i, example in enumerate(data) if i % FOLDS == fold]
        bias, weights = fit([example for i, example in enumerate(data) if i % FOLDS != fold])
        scored.extend((score(bias, weights, features), label, ruled) for features, label, ruled in held)
    best = (0.0, 0.0, 0.0, 10.0, 10.0)
    for keep_step in range(-30, 21):
        for add_step in range(keep_step, 31):
            keep, add = keep_step / 10, add_step / 10
            pairs = [(label, flagged(ruled, s, keep, add)) for s, label, ruled in scored]
            recall, precision = recall_precision(pairs)
            f2 = 5 * precision * recall / (4 * precision + recall) if precision + recall else 0.0
            if precision >= TARGET_PRECISION and f2 > best[0] + 1e-9:
                best = (f2, recall, precision, keep, add)
    f2, recall, precision, keep, add = best
    print(f"cross-validated on the training data: recall {recall:.3f} precision {precision:.3f} F2 {f2:.3f}")
    print(f"thresholds: keep {keep}, add {add}")
    return keep, add


def main() -> None:
    without_dev = "--without-dev" in sys.argv
    paths = TRAIN if without_dev else (*TRAIN, DEV)
    detector = RiskDetector.from_file(model=False)
    data = [example for path in paths if path.exists() for example in examples(detector, load(path))]
    keep, add = choose_thresholds(data)
    bias, weights = fit(data)
    lines = [
        "# Written by `python -m routing.risk_model` from the shipped labelled data: "
        + ", ".join(path.relative_to(ROOT).as_posix() for path in paths if path.exists()),
        "# Do not edit by hand: change the data or the concepts and train again.",
        f"bias\t{bias:.4f}",
        f"threshold\t{keep:.1f}",
        f"add\t{add:.1f}",
        "level\tzorg",
        *(f"{feature}\t{weight}" for feature, weight in sorted(weights.items())),
    ]
    named = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    out = Path(named[0]) if named else DEFAULT_MODEL
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    if without_dev and DEV.exists():
        dev = examples(detector, load(DEV))
        pairs = [(label, flagged(ruled, score(bias, weights, f), keep, add)) for f, label, ruled in dev]
        rules_only = [(label, ruled > 0) for _, label, ruled in dev]
        print("dev, rules only: recall {:.3f} precision {:.3f}".format(*recall_precision(rules_only)))
        print("dev, rules and model: recall {:.3f} precision {:.3f}".format(*recall_precision(pairs)))
    print(f"{len(weights)} weights written to {out}")


if __name__ == "__main__":
    main()
