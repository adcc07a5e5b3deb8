"""Triage on the hand-written multilingual corpus's ``test`` split (crisis contexts unseen in
training): safeguarding, life threat, feedback type, sectors and language, with the cold start
(lexicons and rules alone) as the baseline measured in the same run.

Imported by ``bench/triage.py``; ``python bench/triage_corpus.py`` runs this part alone.
Prints figures and message ids, never message text.
"""

from __future__ import annotations

import json
import math
import os
import resource
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcof_comms.pipeline import load_taxonomy, triage  # noqa: E402
from mcof_comms.pipeline.corpus import shipped_corpus  # noqa: E402
from mcof_comms.pipeline.signals import train_signal_model  # noqa: E402
from mcof_comms.pipeline.taxonomy import SENSITIVITY_CATEGORIES as SENSITIVE  # noqa: E402

TARGETS = {
    "safeguarding recall": 0.97,
    "safeguarding recall, worst language": 0.90,
    "safeguarding precision": 0.70,
    "hard negatives flagged (at most)": 0.10,
    "life-threatening recall": 0.95,
    "life-threatening precision": 0.60,
    "feedback type accuracy": 0.75,
    "complaint recall": 0.70,
    "request recall": 0.70,
    "sector macro-F1": 0.75,
    "language accuracy": 0.97,
    "language accuracy, worst language": 0.90,
}


def data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA_DIR", ROOT.parent / "shared" / "data"))


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion: 1,300 messages are few, so show the spread."""
    if n == 0:
        return (0.0, 0.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def ratio(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n if n else 0:.3f} [{lo:.2f}-{hi:.2f}] ({k}/{n})"


def evaluate(rows: Sequence[dict], results: Sequence[object]) -> dict[str, object]:
    """Every figure of the issue's table, plus the tables behind them."""
    out: dict[str, object] = {}
    truth_s = [r["sensitive"] != "none" for r in rows]
    pred_s = [res.sensitivity is not None for res in results]
    tp = sum(t and p for t, p in zip(truth_s, pred_s, strict=True))
    out["safeguarding recall"] = (tp, sum(truth_s))
    out["safeguarding precision"] = (tp, sum(pred_s))
    hard = [i for i, r in enumerate(rows) if str(r.get("note", "")).startswith("hard negative")]
    out["hard negatives flagged (at most)"] = (sum(pred_s[i] for i in hard), len(hard))
    per_lang = defaultdict(lambda: [0, 0])
    per_cat = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    misses = []
    for r, t, p in zip(rows, truth_s, pred_s, strict=True):
        if t:
            per_lang[r["language"]][0] += p
            per_lang[r["language"]][1] += 1
            per_cat[r["language"]][r["sensitive"]][0] += p
            per_cat[r["language"]][r["sensitive"]][1] += 1
            if not p:
                misses.append(r["id"])
    worst = min(per_lang, key=lambda c: per_lang[c][0] / per_lang[c][1])
    out["safeguarding recall, worst language"] = tuple(per_lang[worst])
    out["_sg_per_lang"] = per_lang
    out["_sg_per_cat"] = per_cat
    out["_sg_misses"] = misses

    truth_l = [r["urgency"] == "life_threatening" for r in rows]
    pred_l = [res.urgency.value == "life_threatening" for res in results]
    tp = sum(t and p for t, p in zip(truth_l, pred_l, strict=True))
    out["life-threatening recall"] = (tp, sum(truth_l))
    out["life-threatening precision"] = (tp, sum(pred_l))
    lt_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, t, p in zip(rows, truth_l, pred_l, strict=True):
        if t:
            lt_lang[r["language"]][0] += p
            lt_lang[r["language"]][1] += 1
    out["_lt_per_lang"] = lt_lang
    out["_lt_misses"] = [
        r["id"] for r, t, p in zip(rows, truth_l, pred_l, strict=True) if t and not p
    ]

    types = [
        (r["feedback_type"], res.feedback_type.value) for r, res in zip(rows, results, strict=True)
    ]
    out["feedback type accuracy"] = (sum(t == p for t, p in types), len(types))
    for kind in ("complaint", "request"):
        mine = [p for t, p in types if t == kind]
        out[f"{kind} recall"] = (sum(p == kind for p in mine), len(mine))
    out["_ft_confusion"] = Counter(types)

    support = Counter(s for r in rows for s in r["sectors"])
    scored = sorted(s for s, n in support.items() if n >= 5)
    f1s = {}
    for slug in scored:
        tp = fp = fn = 0
        for r, res in zip(rows, results, strict=True):
            t = slug in r["sectors"]
            p = slug in {s.slug for s in res.assigned_sectors}
            tp, fp, fn = tp + (t and p), fp + (p and not t), fn + (t and not p)
        f1s[slug] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    out["sector macro-F1"] = sum(f1s.values()) / len(f1s)
    out["_sector_f1"] = f1s

    langs = [(r["language"], res.language.code) for r, res in zip(rows, results, strict=True)]
    out["language accuracy"] = (sum(t == p for t, p in langs), len(langs))
    per = defaultdict(lambda: [0, 0])
    for t, p in langs:
        per[t][0] += t == p
        per[t][1] += 1
    worst = min(per, key=lambda c: per[c][0] / per[c][1])
    out["language accuracy, worst language"] = tuple(per[worst])
    out["_lang_per"] = per
    out["_lang_confusion"] = Counter((t, p) for t, p in langs if t != p)
    return out


def value(v: object) -> float:
    if isinstance(v, tuple):
        return v[0] / v[1] if v[1] else 0.0
    return float(v)  # type: ignore[arg-type]


def show(v: object) -> str:
    return ratio(*v) if isinstance(v, tuple) else f"{v:.3f}"


def ordinary_traffic(taxonomy: object, model: object) -> None:
    """The cost of recall on real traffic: the share of real crisis SMS sent to protection or
    paged as life-threatening. Figure Eight's direct messages hold no sensitive message (the
    publisher removed them); the rows shipped for training are left out."""
    import csv

    shipped = {e.text for e in shipped_corpus()}
    with (data_dir() / "disaster_response_mcof_direct_dev.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["original"].strip()]
    held = [r["original"] for r in rows if r["original"] not in shipped][:2000]
    warm = [triage(t, taxonomy=taxonomy, signals=model) for t in held]  # type: ignore[arg-type]
    cold = [triage(t, taxonomy=taxonomy) for t in held]  # type: ignore[arg-type]

    def share(results: Sequence[object], life: bool) -> float:
        if life:
            return sum(r.urgency.value == "life_threatening" for r in results) / len(results)
        return sum(r.sensitivity is not None for r in results) / len(results)

    print(
        f"\nreal crisis SMS (Figure Eight direct, {len(held)} not shipped, original language): "
        f"sent to protection {share(warm, False):.3f} (rules alone {share(cold, False):.3f}), "
        f"life-threatening {share(warm, True):.3f} (rules alone {share(cold, True):.3f}); "
        "the source holds no safeguarding report, and few of its messages are emergencies"
    )


def main() -> None:
    path = data_dir() / "triage_dev.jsonl"
    with path.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    test = [r for r in rows if r["split"] == "test"]
    taxonomy = load_taxonomy()
    # test contexts must stay unseen: shipped messages set in one of them are left out here
    unseen = {r["context"] for r in test} - {r["context"] for r in rows if r["split"] == "train"}
    corpus = [e for e in shipped_corpus() if e.group not in unseen]
    if len(corpus) < len(shipped_corpus()):
        print(
            f"left out {len(shipped_corpus()) - len(corpus)} shipped messages set in test contexts"
        )
    print(
        f"== hand-written corpus: {path.name}, test split {len(test)} messages "
        f"(contexts unseen in training); model trained on {len(corpus)} shipped messages =="
    )
    t0 = time.perf_counter()
    model = train_signal_model(corpus, taxonomy=taxonomy)
    print(
        f"signal model {model.version}: trained in {time.perf_counter() - t0:.1f}s; "
        f"thresholds {', '.join(f'{k} {v:.3f}' for k, v in model.thresholds.items())}"
    )
    print(f"out-of-fold on the training data: {model.metrics}")

    cold = [triage(r["text"], taxonomy=taxonomy) for r in test]
    ours = [triage(r["text"], taxonomy=taxonomy, signals=model) for r in test]
    base, mine = evaluate(test, cold), evaluate(test, ours)

    print(f"\n{'figure':<40}{'cold start (rules)':>34}{'with the model':>34}{'target':>9}  met")
    for name, target in TARGETS.items():
        good = value(mine[name]) <= target if "at most" in name else value(mine[name]) >= target
        print(
            f"{name:<40}{show(base[name]):>34}{show(mine[name]):>34}{target:>9.2f}  {'yes' if good else 'NO'}"
        )

    print("\nsafeguarding recall per language x category (with the model; caught/total)")
    langs = sorted(mine["_sg_per_cat"])
    print(f"{'':<26}" + "".join(f"{c:>7}" for c in langs))
    for cat in SENSITIVE:
        cells = []
        for lang in langs:
            k, n = mine["_sg_per_cat"][lang].get(cat, [0, 0])
            cells.append(f"{k}/{n}".rjust(7) if n else "-".rjust(7))
        print(f"{cat:<26}" + "".join(cells))
    print(
        f"{'all':<26}"
        + "".join(f"{mine['_sg_per_lang'][c][0] / mine['_sg_per_lang'][c][1]:>7.2f}" for c in langs)
    )
    print(
        f"{'cold start, all':<26}"
        + "".join(f"{base['_sg_per_lang'][c][0] / base['_sg_per_lang'][c][1]:>7.2f}" for c in langs)
    )

    lt = mine["_lt_per_lang"]
    print("\nlife-threatening recall per language (with the model; caught/total)")
    print("  " + ", ".join(f"{c} {k}/{n}" for c, (k, n) in sorted(lt.items())))

    print("\nfeedback type confusion (rows: truth, columns: predicted, with the model)")
    kinds = ("question", "request", "complaint", "rumour", "suggestion", "appreciation", "other")
    print(f"{'':<14}" + "".join(f"{k[:6]:>8}" for k in kinds))
    for t in kinds:
        print(f"{t:<14}" + "".join(f"{mine['_ft_confusion'].get((t, p), 0):>8}" for p in kinds))

    print("\nsector F1 (slugs with >= 5 test messages): cold start / with the model")
    for slug, f in mine["_sector_f1"].items():
        print(f"  {slug:<24}{base['_sector_f1'][slug]:.3f} / {f:.3f}")

    print("\nlanguage accuracy per language")
    print("  " + ", ".join(f"{c} {k / n:.2f}" for c, (k, n) in sorted(mine["_lang_per"].items())))
    print(
        "  confusions (truth->detected: count): "
        + ", ".join(f"{t}->{p}: {n}" for (t, p), n in mine["_lang_confusion"].most_common(12))
    )

    print(f"\nmissed safeguarding reports (ids): {' '.join(mine['_sg_misses']) or 'none'}")
    print(f"missed life-threatening messages (ids): {' '.join(mine['_lt_misses']) or 'none'}")

    ordinary_traffic(taxonomy, model)

    texts = [r["text"] for r in test] * 3
    for text in texts[:20]:
        triage(text, taxonomy=taxonomy, signals=model)
    wall, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        triage(text, taxonomy=taxonomy, signals=model)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall0 = time.perf_counter()
    for text in texts:
        triage(text, taxonomy=taxonomy)
    wall0 = time.perf_counter() - wall0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nthroughput, triage() one message at a time, one process: {len(texts) / wall:.0f} msg/s "
        f"wall ({len(texts) / cpu:.0f} per CPU second); rules alone {len(texts) / wall0:.0f} msg/s "
        f"(target >= 200)"
    )
    print(
        f"peak resident memory of this process with the models loaded: {rss:.0f} MB (target <= 600)"
    )


if __name__ == "__main__":
    main()
