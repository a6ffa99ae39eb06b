"""Held-out-group runs without the main training: what `--holdout-column` does, one value per process.

`train_modernbert.py --holdout-column source` trains the main model and then one model per value
of the column, one after the other. On a 2-core machine that is hours; this runs the held-out part
only, for the values you name, so that values can go to separate processes. It calls the training
script's own functions (holdout_split, train_and_evaluate, holdout_summary).

    OMP_NUM_THREADS=1 python tools/holdout_runs.py --values paschal -- --dataset ../shared/data/on_the_books.csv --model $MINILM ...
"""

import argparse
import importlib.util
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="train_modernbert.py", help="training script (default: train_modernbert.py)")
    parser.add_argument("--values", required=True, help="comma-separated values of --holdout-column to hold out (default: required)")
    parser.add_argument("--output", required=True, help="JSON file for the results (default: required)")
    ours, theirs = sys.argv[1:sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1:]
    own = parser.parse_args(ours)
    spec = importlib.util.spec_from_file_location("trainer", ROOT / own.script)
    t = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(t)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    args = t.parse_args(theirs)
    table = t.load_table(args.dataset)
    holdout_values = table[args.holdout_column]
    texts = t.build_texts(table, args.text_columns)
    labels, names = t.encode_labels(table[args.label_column], args.label_column, None, args.label_names)
    groups = t.duplicate_groups(table.select_columns(args.text_columns), args.text_columns)
    config, args.max_length = t.check_model(args.model, args.max_length, None)
    attention = t.attention_here(args.attention, config.model_type)
    results = []
    for value in own.values.split(","):
        split = t.holdout_split(labels, groups, holdout_values, value, args.validation_size, args.seed)
        logging.info("Held-out %s=%s: %s", args.holdout_column, value, {k: len(v) for k, v in split.items()})
        _, _, r, _, _ = t.train_and_evaluate(args, texts, labels, names, split, args.seed, args.output_dir / value, None, {},
                                             attention=attention)
        y = [labels[i] for i in split["test"]]
        results.append({"value": value, "rows": len(y), "positives": sum(v == 1 for v in y), "train_rows": len(split["train"]),
                        "metrics": r["test"], "summary": t.holdout_summary(r["test"], y, names)})
        logging.info("Held-out %s: %s", value, results[-1]["summary"])
    Path(own.output).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
