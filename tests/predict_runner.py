"""Run predict.py in a process of its own, as one hf job, against the tests' fake Hub kept in a folder (so that several
processes push to the same dataset repo, as several jobs do), and write its Hub calls beside that folder.

    python tests/predict_runner.py HUB_FOLDER NAME [predict.py args...]

The calls go to HUB_FOLDER/events-NAME.json. With FAIL_UPLOAD=PATH_IN_REPO set, the upload of that file is refused
(a 403, which is not retried): the job stops there, as one that hits its timeout.
"""

import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import
os.environ["HF_DATASETS_OFFLINE"] = "1"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import huggingface_hub
    from conftest import import_script
    from fake_hub import FakeHub, HubError

    hub_folder, name, argv = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    events: list = []
    hub = FakeHub(hub_folder, events)
    refused, upload_file = os.environ.get("FAIL_UPLOAD"), hub.upload_file

    def upload(path_or_fileobj, path_in_repo, repo_id, **kwargs):
        if path_in_repo == refused:
            events.append(("refused", path_in_repo))
            raise HubError(403, "simulated refusal")
        return upload_file(path_or_fileobj, path_in_repo, repo_id, **kwargs)

    hub.upload_file = upload
    huggingface_hub.get_token = lambda: "hf_fake_token"
    predict = import_script("predict.py")
    predict.hub_api = lambda token: hub
    sys.argv = ["predict.py", *argv]
    try:
        predict.run()  # exits: 0, or 2 after an error the user can fix
    finally:
        (hub_folder / f"events-{name}.json").write_text(json.dumps(events, default=str))


if __name__ == "__main__":
    main()
