"""The triage study: which score and threshold find the most positive rows from another source, at what cost in texts
to read. Reads the scores that benchmarks/triage_scores.py kept (the main split, and each held-out value), fits the
lexical model (the training script's own `lexical_model`) on each run's training rows, and compares, for each way of
scoring and each named threshold (chosen on that run's validation rows):

- recall on each held-out value's rows (rows labelled by another process, never seen in training);
- precision, recall and texts to read per 1,000 on the main test split.

    .venv/bin/python benchmarks/triage_study.py --scores main.json paschal.json murray.json --output triage.json -- \\
        --dataset ../shared/data/on_the_books.csv --model $MINILM --no-push --holdout-column source
"""

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WAYS = {  # how the fine-tuned model's score m and the lexical model's score q become one score
    "model": lambda m, q: m,
    "lexical": lambda m, q: q,
    "mean": lambda m, q: (m + q) / 2,
    "max": np.maximum,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--script", default="train_modernbert.py", help="training script (default: train_modernbert.py)"
    )
    parser.add_argument("--scores", nargs="+", required=True, help="triage_scores.py outputs; one without --holdout")
    parser.add_argument("--output", required=True, help="JSON file for the table")
    ours, theirs = sys.argv[1 : sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1 :]
    own = parser.parse_args(ours)
    spec = importlib.util.spec_from_file_location("trainer", ROOT / own.script)
    t = importlib.util.module_from_spec(spec)
    sys.modules["trainer"] = t
    spec.loader.exec_module(t)
    logging.basicConfig(level=logging.WARNING)
    args = t.parse_args(theirs)
    data = t.load_data(args, None)
    runs = [json.loads(Path(p).read_text()) for p in own.scores]
    rows = []
    for run in runs:
        assert [data.ids[i] for i in run["split"]["test"]] == run["ids"]["test"], "other data than the scores'"
        partner, _ = t.lexical_model(data.texts, data.labels, run["split"], data.names, args.seed)
        q = {k: partner.predict_proba([data.texts[i] for i in run["split"][k]])[:, 1] for k in ("validation", "test")}
        for way, combine in WAYS.items():
            score = {k: combine(np.asarray(run["scores"][k]), q[k]) for k in q}
            for name, value in thresholds(t, run["labels"]["validation"], score["validation"]).items():
                at = t.triage(run["labels"]["test"], score["test"], value)
                rows.append({"run": run["holdout"] or "main", "way": way, "threshold": name, "value": value, **at})
    table = summarise(rows, [r["holdout"] for r in runs if r["holdout"]])
    Path(own.output).write_text(json.dumps({"rows": rows, "table": table}, indent=1))
    print_table(table, [r["holdout"] for r in runs if r["holdout"]])
    return 0


def thresholds(t, y_true, scores) -> dict[str, float]:
    """The training script's named thresholds, and for each recall target the same target as a quantile of the
    positive rows' scores, interpolated between them (numpy's linear quantile): a threshold that moves less with the
    single lowest-scoring positive than the k-th highest score does."""
    named = t.named_thresholds(y_true, scores)
    positives = np.asarray(scores)[np.asarray(y_true) == 1]
    for target in t.RECALL_TARGETS:
        named[f"quantile_{target:.2f}"] = float(np.quantile(positives, 1 - target))
    return named


def summarise(rows: list[dict], held_out: list[str]) -> list[dict]:
    """One line per way and threshold: held-out recall per value, and the main test split's precision, recall and
    texts to read per 1,000, with the change in texts to read against the model alone at its `f1` threshold."""
    by = {(r["run"], r["way"], r["threshold"]): r for r in rows}
    reference = by[("main", "model", "f1")]["flagged_per_1000"]
    table = []
    for (run, way, name), main in by.items():
        if run != "main":
            continue
        line = {"way": way, "threshold": name, **{v: by[(v, way, name)]["recall"] for v in held_out}}
        line.update(
            test_precision=main["precision"],
            test_recall=main["recall"],
            per_1000=main["flagged_per_1000"],
            more_to_read=main["flagged_per_1000"] / reference - 1,
        )
        table.append(line)
    return table


def print_table(table: list[dict], held_out: list[str]) -> None:
    recall = " | ".join(f"Recall, `{v}` held out" for v in held_out)
    print(f"| Score | Threshold | {recall} | Test precision / recall | To read per 1,000 (test) | vs model `f1` |")
    print("|---|---|" + "---|" * len(held_out) + "---|---|---|")
    for line in table:
        cells = " | ".join(f"{line[v]:.3f}" for v in held_out)
        print(
            f"| {line['way']} | `{line['threshold']}` | {cells} | {line['test_precision']:.3f} / "
            f"{line['test_recall']:.3f} | {line['per_1000']:.0f} | {100 * line['more_to_read']:+.0f}% |"
        )


if __name__ == "__main__":
    sys.exit(main())
