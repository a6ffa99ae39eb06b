"""Held-out-group runs without the main training: what `--holdout-column` does, for the values you name.

`train_modernbert.py --holdout-column source` trains the main model and then one model per value of the column, one
after the other. On a 2-core machine that is hours; this runs the held-out part only, for the values you name, so
that values can go to separate processes. It calls the training script's own steps (resolve_model, load_data,
holdout_study).

    OMP_NUM_THREADS=1 python tools/holdout_runs.py --values paschal --output paschal.json -- \\
        --dataset ../shared/data/on_the_books.csv --model $MINILM --holdout-column source ...
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
    parser.add_argument(
        "--script", default="train_modernbert.py", help="training script (default: train_modernbert.py)"
    )
    parser.add_argument("--values", required=True, help="comma-separated values of --holdout-column to hold out")
    parser.add_argument("--output", required=True, help="JSON file for the results")
    ours, theirs = sys.argv[1 : sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1 :]
    own = parser.parse_args(ours)
    spec = importlib.util.spec_from_file_location("trainer", ROOT / own.script)
    t = importlib.util.module_from_spec(spec)
    sys.modules["trainer"] = t
    spec.loader.exec_module(t)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    args = t.parse_args(theirs)
    t.resolve_model(args, None)  # names --output-dir when it is not given
    args.output_dir = args.output_dir / Path(own.output).stem  # its own: processes run side by side would collide
    data = t.load_data(args, None)
    result = t.holdout_study(args, data, t.Clock(), None, values=own.values.split(","))
    Path(own.output).write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
