"""Re-render a model card from a finished run's metrics.json with the current template (no training).

    python tools/render_card.py RUN/metrics.json [--set key=json ...] > card.md

metrics.json is the run's record, from which its card was rendered; `--set` overrides one value.
"""

import argparse
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", help="a run's metrics.json")
    parser.add_argument(
        "--script", default="train_modernbert.py", help="the script that renders it (default: train_modernbert.py)"
    )
    parser.add_argument("--set", action="append", default=[], help="key=JSON value to override a value (default: none)")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("trainer", ROOT / args.script)
    trainer = importlib.util.module_from_spec(spec)
    sys.modules["trainer"] = trainer
    spec.loader.exec_module(trainer)
    record = json.loads(Path(args.metrics).read_text())
    record.pop("push", None)  # added after the card was rendered
    for item in args.set:
        key, value = item.split("=", 1)
        record[key] = json.loads(value)
    template = (ROOT / "model_card_template.md").read_text()
    sys.stdout.write(trainer.render_card(record, template))
    return 0


if __name__ == "__main__":
    sys.exit(main())
