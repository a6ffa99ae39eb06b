"""Run a training script, alone or as one of the processes torch.distributed.run starts, against the tests' fake Hub
kept in a folder (so that every process sees the same repo), and write each process's Hub calls beside it.

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/ddp_runner.py HUB_FOLDER SCRIPT [args...]
"""

import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import huggingface_hub
    import transformers  # noqa: F401  (imported before HfApi is replaced: it annotates with the real class)
    from conftest import import_script
    from fake_hub import FakeHub, validate_card
    from huggingface_hub.repocard import RepoCard

    hub_folder, script, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    events: list = []
    huggingface_hub.HfApi = FakeHub(hub_folder, events)
    RepoCard.validate = validate_card
    trainer = import_script(script)
    if os.environ.get("FAIL_ON_RANK") == os.environ.get("RANK", "0"):  # a process that fails as training starts

        def fail(*a, **k):
            raise trainer.UserError(f"simulated failure on rank {os.environ['RANK']}")

        trainer.train_and_evaluate = fail
    try:
        return trainer.main(argv)
    finally:
        rank = os.environ.get("RANK", "0")
        (hub_folder / f"events-rank{rank}.json").write_text(json.dumps(events, default=str))


if __name__ == "__main__":
    sys.exit(main())
