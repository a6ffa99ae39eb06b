"""Re-render a model card from a finished run's metrics.json with the current template (no training).

    python tools/render_card.py RUN/metrics.json [--set key=json ...] > card.md

`metrics.json["card"]` holds every fact the card was rendered from; `--set` overrides one
(e.g. facts that older runs did not record).
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
    parser.add_argument("--script", default="train_modernbert.py", help="which training script renders it (default: train_modernbert.py)")
    parser.add_argument("--set", action="append", default=[], help="key=JSON value to override a fact (default: none)")
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("trainer", ROOT / args.script)
    trainer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(trainer)
    facts = json.loads(Path(args.metrics).read_text())["card"]
    for item in args.set:
        key, value = item.split("=", 1)
        facts[key] = json.loads(value)
    facts["title"] = trainer.card_title(facts["model_name"], facts["on_the_books"], facts["label_names"])
    template = (ROOT / "model_card_template.md").read_text()
    sys.stdout.write(trainer.render_card(facts, template))
    return 0


if __name__ == "__main__":
    sys.exit(main())
