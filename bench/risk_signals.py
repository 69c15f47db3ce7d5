#!/usr/bin/env python
"""Precision, recall and speed of the risk-phrase detector on the labelled chat messages.

.venv/bin/python bench/risk_signals.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from routing.risk import LEVELS, default_detector  # noqa: E402

MESSAGES = ROOT / "tests" / "data" / "risk_messages.tsv"
REPEATS = 20


def load(path: Path) -> list[tuple[str, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        if line.strip():
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


def ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def main() -> None:
    rows = load(MESSAGES)
    detector = default_detector()
    predicted = [detector.detect(text).level or "geen" for _, text in rows]
    labels = [label for label, _ in rows]

    print(f"{len(rows)} messages, {len(detector.phrases)} phrases\n")
    print(f"{'':12}{'precision':>10}{'recall':>10}{'tp':>6}{'fp':>6}{'fn':>6}")
    for name, positive in (("danger", lambda level: level == "acuut"), ("any risk", lambda level: level != "geen")):
        tp = sum(positive(p) and positive(t) for p, t in zip(predicted, labels, strict=True))
        fp = sum(positive(p) and not positive(t) for p, t in zip(predicted, labels, strict=True))
        fn = sum(not positive(p) and positive(t) for p, t in zip(predicted, labels, strict=True))
        print(f"{name:12}{ratio(tp, tp + fp):>10.3f}{ratio(tp, tp + fn):>10.3f}{tp:>6}{fp:>6}{fn:>6}")

    classes = (*LEVELS, "geen")
    print("\nconfusion (rows: label, columns: predicted)")
    print(f"{'':8}" + "".join(f"{c:>8}" for c in classes))
    for label in classes:
        counts = [sum(t == label and p == c for p, t in zip(predicted, labels, strict=True)) for c in classes]
        print(f"{label:8}" + "".join(f"{n:>8}" for n in counts))

    print("\nfalse negatives (danger: label acuut, predicted lower)")
    for (label, text), level in zip(rows, predicted, strict=True):
        if label == "acuut" and level != "acuut":
            print(f"  [{level}] {text}")
    print("\nfalse positives (predicted acuut, label lower)")
    for (label, text), level in zip(rows, predicted, strict=True):
        if level == "acuut" and label != "acuut":
            print(f"  [{label}] {text}  {detector.detect(text).signals}")
    print("\nfalse positives (any risk: label geen)")
    for (label, text), level in zip(rows, predicted, strict=True):
        if label == "geen" and level != "geen":
            print(f"  [{level}] {text}  {detector.detect(text).signals}")

    timings = []
    for _ in range(REPEATS):
        for _, text in rows:
            start = time.perf_counter_ns()
            detector.detect(text)
            timings.append((time.perf_counter_ns() - start) / 1000)
    timings.sort()
    p99 = timings[int(len(timings) * 0.99)]
    long_text = " ".join(text for _, text in rows)[:4000]
    start = time.perf_counter_ns()
    for _ in range(REPEATS):
        detector.detect(long_text)
    long_us = (time.perf_counter_ns() - start) / 1000 / REPEATS
    print(
        f"\ntime per message over {len(timings)} detections: mean {statistics.fmean(timings):.1f} µs, p99 {p99:.1f} µs"
    )
    print(f"time for one 4,000-character message: {long_us:.0f} µs")


if __name__ == "__main__":
    main()
