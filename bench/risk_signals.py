#!/usr/bin/env python
"""Recall, precision, F2 and cost of the risk-signal detector on every labelled split present.

Splits: the tuning sets tests/data/risk/{train,dev,train2,train3,dev_d,dev_e,dev_f,dev_g,dev_h,dev_i,dev_j,dev_l}.tsv
(label, category, voice, text; train and dev are writer A's, train2 B's, train3 C's, dev_d D's, dev_e E's,
dev_f F's, dev_g G's, dev_h H's, dev_i I's, dev_j J's, dev_l L's), the old set tests/data/risk_messages.tsv
(label, text), and the held-out split(s): whatever tests/data/risk/test*.tsv is present, by a writer nobody tuned on.
Danger = any level; a signal of any level counts as flagged.
The cost of the phrase matcher the detector replaced (bench/risk_baseline.py) is measured in the same run.

.venv/bin/python bench/risk_signals.py [--errors]
(--errors lists the misses and false alarms of every split but the held-out ones)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import risk_baseline  # noqa: E402
from routing.risk import LEVELS, default_detector  # noqa: E402

DATA = ROOT / "tests" / "data"
TUNING = {
    "train (A)": DATA / "risk" / "train.tsv",
    "dev (A)": DATA / "risk" / "dev.tsv",
    "train2 (B)": DATA / "risk" / "train2.tsv",
    "train3 (C)": DATA / "risk" / "train3.tsv",
    "dev_d (D)": DATA / "risk" / "dev_d.tsv",
    "dev_e (E)": DATA / "risk" / "dev_e.tsv",
    "dev_f (F)": DATA / "risk" / "dev_f.tsv",
    "dev_g (G)": DATA / "risk" / "dev_g.tsv",
    "dev_h (H)": DATA / "risk" / "dev_h.tsv",
    "dev_i (I)": DATA / "risk" / "dev_i.tsv",
    "dev_j (J)": DATA / "risk" / "dev_j.tsv",
    "dev_l (L)": DATA / "risk" / "dev_l.tsv",
    "old": DATA / "risk_messages.tsv",
}


def held_out() -> dict[str, Path]:
    """The held-out split(s): every tests/data/risk/test*.tsv, named "held out: <file>"."""
    return {f"held out: {path.name}": path for path in sorted((DATA / "risk").glob("test*.tsv"))}
REPEATS = 5
LONG_RUNS = 20
Row = tuple[str, str, str, str]  # label, category, voice, text


def load(path: Path) -> list[Row]:
    """Rows of a split; the old file has no category (its level stands in)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(header) >= 4:
            rows.append((parts[0], parts[1], parts[2], parts[-1]))
        else:
            rows.append((parts[0], parts[0], "", parts[-1]))
    return rows


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def scores(pairs: list[tuple[str, str]]) -> tuple[float, float, float, int, int, int]:
    """Recall, precision, F2, tp, fp, fn of danger (label != geen) against flagged (predicted != geen)."""
    tp = sum(label != "geen" and got != "geen" for label, got in pairs)
    fp = sum(label == "geen" and got != "geen" for label, got in pairs)
    fn = sum(label != "geen" and got == "geen" for label, got in pairs)
    recall, precision = ratio(tp, tp + fn), ratio(tp, tp + fp)
    f2 = ratio(5 * precision * recall, 4 * precision + recall)
    return recall, precision, f2, tp, fp, fn


def report(name: str, rows: list[Row], detect: Callable[[str], str | None], errors: bool) -> None:
    predicted = [detect(text) or "geen" for _, _, _, text in rows]
    pairs = [(label, got) for (label, _, _, _), got in zip(rows, predicted, strict=True)]
    recall, precision, f2, tp, fp, fn = scores(pairs)
    print(f"\n== {name}: {len(rows)} messages")
    print(f"{'':24}{'recall':>8}{'prec':>8}{'F2':>8}{'tp':>6}{'fp':>6}{'fn':>6}")
    print(f"{'overall':24}{recall:>8.3f}{precision:>8.3f}{f2:>8.3f}{tp:>6}{fp:>6}{fn:>6}")
    for category in sorted({c for _, c, _, _ in rows}):
        sub = [pair for (_, c, _, _), pair in zip(rows, pairs, strict=True) if c == category]
        r, p, f, tp, fp, fn = scores(sub)
        print(f"  {category[:22]:22}{r:>8.3f}{p:>8.3f}{f:>8.3f}{tp:>6}{fp:>6}{fn:>6}")
    voices = sorted({v for _, _, v, _ in rows if v})
    if voices:
        print("by voice")
    for voice in voices:
        sub = [pair for (_, _, v, _), pair in zip(rows, pairs, strict=True) if v == voice]
        r, p, f, tp, fp, fn = scores(sub)
        print(f"  {voice[:22]:22}{r:>8.3f}{p:>8.3f}{f:>8.3f}{tp:>6}{fp:>6}{fn:>6}")
    classes = (*LEVELS, "geen")
    print("level confusion (rows: label, columns: predicted)")
    print(f"{'':8}" + "".join(f"{c:>8}" for c in classes))
    for label in classes:
        counts = [sum(t == label and p == c for t, p in pairs) for c in classes]
        print(f"{label:8}" + "".join(f"{n:>8}" for n in counts))
    if errors and not name.startswith("held out"):  # held out: no examples printed
        detector = default_detector()
        for (label, category, _, text), got in zip(rows, predicted, strict=True):
            if (label == "geen") != (got == "geen"):
                kind = "MISS" if got == "geen" else "FALSE"
                print(f"  {kind} [{label}/{category}] {text}  {detector.detect(text).signals}")


def cost(texts: list[str], detectors: dict[str, Callable[[str], object]]) -> None:
    """p50/p99 per message and the minimum for a 4,000-character message, for each detector. The detectors take
    turns message by message, so a busy machine slows them alike."""
    for detect in detectors.values():
        for text in texts:  # warm caches once, as a running server has them
            detect(text)
    timings: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(REPEATS):
        for text in texts:
            for name, detect in detectors.items():
                start = time.perf_counter_ns()
                detect(text)
                timings[name].append((time.perf_counter_ns() - start) / 1000)
    long_text = " ".join(texts)[:4000]
    medians = {}
    for name, detect in detectors.items():
        runs = sorted(timings[name])
        medians[name] = statistics.median(runs)
        p99 = runs[int(len(runs) * 0.99)]
        long_runs = []
        for _ in range(LONG_RUNS):
            start = time.perf_counter_ns()
            detect(long_text)
            long_runs.append((time.perf_counter_ns() - start) / 1000)
        print(
            f"{name:10} p50 {medians[name]:7.1f} µs   p99 {p99:7.1f} µs   "
            f"4,000 characters: min {min(long_runs):7.0f} µs"
        )
    first, *rest = medians
    for name in rest:
        print(f"p50 {name} / {first}: {medians[name] / medians[first]:.2f}x")


def main() -> None:
    errors = "--errors" in sys.argv
    splits = {**TUNING, **held_out()}
    present = {name: load(path) for name, path in splits.items() if path.exists()}
    started = time.perf_counter()
    detector = default_detector()
    print(f"detector loaded in {time.perf_counter() - started:.2f} s: "
          f"{len(detector.concepts)} concepts and phrases, {len(detector.rules)} rules")
    for name, rows in present.items():
        report(name, rows, lambda text: detector.detect(text).level, errors)

    old = risk_baseline.default_detector()
    texts = [text for rows in present.values() for _, _, _, text in rows]
    print(f"\n== cost per message over {len(texts)} messages x {REPEATS} (same run, same messages)")
    cost(texts, {"baseline": old.detect, "concepts": detector.detect})
    cold = default_detector.__wrapped__()  # type: ignore[attr-defined]
    start = time.perf_counter_ns()
    for text in texts:
        cold.detect(text)
    print(f"concepts, first sight of every message (cold word cache): "
          f"mean {(time.perf_counter_ns() - start) / 1000 / len(texts):.1f} µs")


if __name__ == "__main__":
    main()
