"""predict.py end to end on tiny models and synthetic data: labels, threshold, windows, shards, resume, push.

The Hub is replaced by a fake that records calls; one test runs the script through `uv run` like a user.
"""

import json
import logging
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import FILLER, ROOT, import_script, make_rows, write_csv
from fake_hub import HubError, hub_error

ADDED = ["predicted_label", "score", "threshold"]


@pytest.fixture(scope="module")
def pr():
    return import_script("predict.py")


@pytest.fixture(scope="module")
def rows():
    data = make_rows()
    data[7]["chapter_text"] = data[7]["section_text"] = ""  # a row with no text: kept, not scored
    return data


@pytest.fixture(scope="module")
def laws(rows, tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("predict-data") / "laws.csv", rows)


def read_table(path: Path) -> dict:
    """The output as columns; CSV read as strings, like a user opening it."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pydict()
    import csv

    with path.open(newline="") as f:
        records = list(csv.DictReader(f))
    return {k: [r[k] for r in records] for k in records[0]}


def as_float(values) -> np.ndarray:
    return np.array([np.nan if v in (None, "") else float(v) for v in values])


def check_labels(out: dict, names: list[str], threshold: float) -> int:
    """Every label follows from its score and the threshold; returns the flagged count."""
    scores, thresholds = as_float(out["score"]), as_float(out["threshold"])
    scored = ~np.isnan(scores)
    assert np.all(thresholds[scored] == pytest.approx(threshold))
    expected = [names[1] if s >= threshold else names[0] for s in scores[scored]]
    assert [label for label, ok in zip(out["predicted_label"], scored, strict=True) if ok] == expected
    flagged = sum(label == names[1] for label in out["predicted_label"])
    assert flagged == int((scores[scored] >= threshold).sum())
    return flagged


def save_variant(
    tiny: Path, folder: Path, threshold: float | None = None, num_labels: int = 2, metrics: dict | None = None
) -> Path:
    """A copy of a tiny model, with a training run's decision_threshold and label names (or more labels)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if num_labels == 2:
        model = AutoModelForSequenceClassification.from_pretrained(tiny)
        model.config.id2label, model.config.label2id = (
            {0: "no_jim_crow", 1: "jim_crow"},
            {"no_jim_crow": 0, "jim_crow": 1},
        )
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            tiny, num_labels=num_labels, ignore_mismatched_sizes=True
        )
    if threshold is not None:
        model.config.decision_threshold = threshold
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(folder)
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def threshold_between_scores(scores) -> float:
    """A cut-off in the widest gap between the middle half of the scores: about half the rows are
    flagged, and no score sits so close to it that float noise could move a row across."""
    s = np.sort(scores)
    lo, hi = len(s) // 4, 3 * len(s) // 4
    i = lo + int(np.argmax(np.diff(s[lo : hi + 1])))
    return float((s[i] + s[i + 1]) / 2)


def count_scored_rows(pr, monkeypatch, fail_on_call: int | None = None) -> list[int]:
    """Spy on predict_probs: the number of texts of each call; optionally fail on one call (a timeout)."""
    calls = []
    real = pr.predict_probs

    def spy(model, tokenizer, texts, *args, **kwargs):
        calls.append(len(texts))
        if fail_on_call is not None and len(calls) == fail_on_call:
            raise RuntimeError("simulated timeout")
        return real(model, tokenizer, texts, *args, **kwargs)

    monkeypatch.setattr(pr, "predict_probs", spy)
    return calls


@pytest.fixture(scope="module")
def batch64(pr, tiny_models, laws, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch64") / "flagged.parquet"
    assert (
        pr.main(
            [
                "--model",
                str(tiny_models["bert"]),
                "--dataset",
                str(laws),
                "--output",
                str(out),
                "--batch-size",
                "64",
                "--shard-size",
                "50",
            ]
        )
        == 0
    )
    return read_table(out)


# --- end to end -----------------------------------------------------------------
def test_every_row_kept_in_order_with_three_added_columns(batch64, rows):
    assert list(batch64) == list(rows[0]) + ADDED
    for column in rows[0]:
        assert batch64[column] == [None if r[column] == "" else r[column] for r in rows]
    assert batch64["score"][7] is None and batch64["predicted_label"][7] is None  # no text: no score
    flagged = check_labels(batch64, ["LABEL_0", "LABEL_1"], 0.5)  # no tuned threshold recorded: 0.5
    assert flagged == sum(s is not None and s >= 0.5 for s in batch64["score"])


def test_batch_size_does_not_change_scores_or_labels(pr, batch64, tiny_models, laws, tmp_path):
    out = tmp_path / "flagged.csv"
    assert (
        pr.main(
            ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output", str(out), "--batch-size", "1"]
        )
        == 0
    )
    one = read_table(out)
    assert one["id"] == batch64["id"] and one["predicted_label"] == [v or "" for v in batch64["predicted_label"]]
    np.testing.assert_allclose(as_float(one["score"]), as_float(batch64["score"]), atol=1e-5)


def test_threshold_comes_from_the_config_and_flags_match_scores(pr, batch64, tiny_models, laws, tmp_path, caplog):
    scores = np.array([s for s in batch64["score"] if s is not None])
    tuned = threshold_between_scores(scores)
    model = save_variant(tiny_models["bert"], tmp_path / "tuned", threshold=tuned)
    caplog.set_level(logging.INFO, logger="predict")
    out = tmp_path / "flagged.csv"
    assert pr.main(["--model", str(model), "--dataset", str(laws), "--output", str(out), "--shard-size", "32"]) == 0
    labelled = read_table(out)
    flagged = check_labels(labelled, ["no_jim_crow", "jim_crow"], tuned)
    assert 0 < flagged < len(scores)
    assert flagged == int((scores >= tuned).sum())  # the same scores as the untuned run: only the cut-off moved
    assert f"Flagged {flagged} of 120 rows as jim_crow" in caplog.text and "read from its config.json" in caplog.text
    # --threshold overrides the tuned one
    assert (
        pr.main(
            ["--model", str(model), "--dataset", str(laws), "--output", str(out), "--overwrite", "--threshold", "0"]
        )
        == 0
    )
    assert check_labels(read_table(out), ["no_jim_crow", "jim_crow"], 0.0) == len(scores)


def test_settings_come_from_the_training_record(pr, tiny_models):
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(tiny_models["roberta"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["roberta"])
    record = {"hyperparameters": {"max_length": 64, "stride": 16}, "threshold": {"value": 0.37}}
    assert pr.window_settings(None, None, config, tokenizer, record)[:2] == (64, 16)
    assert pr.window_settings(None, None, config, tokenizer, {})[:2] == (128, 32)  # min(130 positions, tokenizer 128)
    assert pr.window_settings(4096, 8, config, tokenizer, record)[:2] == (128, 8)  # clamped to what the model reads
    with pytest.raises(pr.UserError, match="below half"):
        pr.window_settings(64, 40, config, tokenizer, {})
    assert pr.resolve_threshold(None, config, record)[0] == 0.37
    assert pr.resolve_threshold(None, config, {}) == (0.5, pr.resolve_threshold(None, config, {})[1])
    assert pr.resolve_threshold(0.9, config, record)[0] == 0.9
    config.decision_threshold = 0.42
    assert pr.resolve_threshold(None, config, record)[0] == 0.42  # config.json wins over metrics.json
    config.decision_thresholds, config.decision_threshold = {"f1": 0.7, "recall_0.95": 0.2}, 0.2  # shipped: recall
    threshold, why = pr.resolve_threshold(None, config, record)
    assert threshold == 0.2 and why.startswith("`recall_0.95`")
    assert pr.resolve_threshold("f1", config, record)[0] == 0.7


def test_text_columns_and_windows_default_to_the_training_run(pr, tiny_models, laws, tmp_path, monkeypatch):
    metrics = {"text_columns": ["section_text"], "hyperparameters": {"max_length": 48, "stride": 8}}
    model = save_variant(tiny_models["bert"], tmp_path / "trained", metrics=metrics)
    seen = []
    real = pr.tokenize_windows

    def spy(tokenizer, texts, max_length, stride, labels=None):
        seen.append((texts[0], max_length, stride))
        return real(tokenizer, texts, max_length, stride, labels)

    monkeypatch.setattr(pr, "tokenize_windows", spy)
    assert (
        pr.main(
            ["--model", str(model), "--dataset", str(laws), "--output", str(tmp_path / "o.csv"), "--max-samples", "5"]
        )
        == 0
    )
    assert seen[0][1:] == (48, 8)
    assert seen[0][0] == make_rows()[0]["section_text"]  # section_text only: no chapter title in front


def test_text_columns_match_a_header_with_spaces_exactly_first(pr, tiny_models, tmp_path, monkeypatch):
    """`--text-columns " section_text"` reads the column whose header has the leading space, as training does."""
    rows = [{(" section_text" if k == "section_text" else k): v for k, v in r.items()} for r in make_rows(12)]
    data = write_csv(tmp_path / "spaced.csv", rows)
    model = save_variant(tiny_models["bert"], tmp_path / "trained")
    seen = []
    real = pr.tokenize_windows
    monkeypatch.setattr(
        pr, "tokenize_windows", lambda tok, texts, *a, **k: seen.append(texts[0]) or real(tok, texts, *a, **k)
    )
    argv = ["--model", str(model), "--dataset", str(data), "--output", str(tmp_path / "o.csv"), "--max-samples", "3"]
    assert pr.main([*argv, "--text-columns", " section_text"]) == 0
    assert seen[0] == rows[0][" section_text"]


def test_more_than_two_labels_take_the_most_probable_without_threshold(pr, tiny_models, laws, tmp_path):
    model = save_variant(tiny_models["bert"], tmp_path / "three", num_labels=3)
    out = tmp_path / "flagged.parquet"
    assert pr.main(["--model", str(model), "--dataset", str(laws), "--output", str(out), "--threshold", "0.9"]) == 0
    labelled = read_table(out)
    scored = [i for i, s in enumerate(labelled["score"]) if s is not None]
    assert all(labelled["threshold"][i] is None for i in range(120))
    assert all(labelled["score"][i] >= 1 / 3 for i in scored)
    assert set(labelled["predicted_label"][i] for i in scored) <= {"LABEL_0", "LABEL_1", "LABEL_2"}


# --- long texts -------------------------------------------------------------------
class KeywordModel:
    """A stand-in classifier: positive when a window contains the signal token, else negative.
    With it, a long text's score shows exactly which of its tokens were read."""

    def __init__(self, config, signal: int):
        import torch

        self.config, self.signal, self.weight = config, signal, torch.nn.Parameter(torch.zeros(1))

    def parameters(self):
        return iter([self.weight])

    def eval(self):
        return self

    def to(self, device):
        return self

    def __call__(self, input_ids, attention_mask=None, **kwargs):
        import torch

        hit = (input_ids == self.signal).any(dim=1).float() * 20 - 10
        return types.SimpleNamespace(logits=torch.stack([torch.zeros_like(hit), hit], dim=1))


def test_long_text_is_read_whole_as_windows_not_truncated(pr, tiny_models, tmp_path, monkeypatch):
    from transformers import AutoConfig, AutoTokenizer

    folder = tiny_models["bert"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    signal = tokenizer.convert_tokens_to_ids(tokenizer.tokenize("colored")[0])
    filler = " ".join(FILLER * 10)
    assert signal not in tokenizer(filler)["input_ids"]
    long_text = filler + " the colored school"  # the signal sits only at the very end
    truncated = tokenizer(long_text, truncation=True, max_length=128)["input_ids"]
    assert signal not in truncated  # so a truncating scorer would call it negative
    data = write_csv(
        tmp_path / "long.csv",
        [
            {"id": "short_pos", "chapter_text": "", "section_text": "the colored school"},
            {"id": "long_pos", "chapter_text": "", "section_text": long_text},
            {"id": "long_neg", "chapter_text": "", "section_text": filler},
        ],
    )
    windows = []
    real = pr.tokenize_windows

    def spy(tok, texts, max_length, stride, labels=None):
        result = real(tok, texts, max_length, stride, labels)
        windows.extend(np.bincount(result["row"], minlength=len(texts)).tolist())
        return result

    monkeypatch.setattr(pr, "tokenize_windows", spy)
    monkeypatch.setattr(pr, "load_model", lambda name, token: KeywordModel(AutoConfig.from_pretrained(folder), signal))
    out = tmp_path / "out.parquet"
    assert pr.main(["--model", str(folder), "--dataset", str(data), "--output", str(out), "--batch-size", "2"]) == 0
    labelled = read_table(out)
    by_id = dict(zip(labelled["id"], labelled["score"], strict=True))
    assert by_id["short_pos"] > 0.99 and by_id["long_pos"] > 0.99 and by_id["long_neg"] < 0.01
    assert windows[0] == 1 and min(windows[1:]) > 1  # both long texts became several windows of 128 tokens


# --- shards and resume --------------------------------------------------------------
def test_resume_skips_finished_shards_after_a_timeout(pr, tiny_models, laws, tmp_path, monkeypatch):
    out, work = tmp_path / "flagged.csv", tmp_path / "work"
    args = [
        "--model",
        str(tiny_models["bert"]),
        "--dataset",
        str(laws),
        "--output",
        str(out),
        "--shard-size",
        "40",
        "--work-dir",
        str(work),
    ]
    count_scored_rows(pr, monkeypatch, fail_on_call=3)
    with pytest.raises(RuntimeError, match="simulated timeout"):
        pr.main(args)  # killed while scoring the third shard
    assert sorted(p.name for p in work.glob("shard-*.parquet")) == ["shard-00000.parquet", "shard-00001.parquet"]
    assert not out.exists()
    # mark the first shard: if --resume recomputed it, the sentinel scores would be gone
    first = work / "shard-00000.parquet"
    table = pq.read_table(first)
    sentinel = table.set_column(table.schema.get_field_index("score"), "score", pa.array([0.123456] * table.num_rows))
    pq.write_table(sentinel.replace_schema_metadata(table.schema.metadata), first)

    with pytest.raises(pr.UserError, match="--resume"):
        pr.main(args)  # shards there, no --resume: refuse rather than guess
    with pytest.raises(pr.UserError, match="other settings.*threshold"):
        pr.main(args + ["--resume", "--threshold", "0.3"])  # another threshold would mix two runs' labels
    other = tmp_path / "elsewhere" / laws.name  # another file of the same name and rows: its scores are not these
    other.parent.mkdir()
    other.write_text(laws.read_text().replace("Section 1.", "Section 1 (as amended)."))
    with pytest.raises(pr.UserError, match="other settings.*dataset_bytes"):
        pr.main([*args[:3], str(other), *args[4:], "--resume"])
    calls = count_scored_rows(pr, monkeypatch)
    assert pr.main(args + ["--resume"]) == 0
    assert sum(calls) == 40  # only the third shard was scored
    labelled = read_table(out)
    assert labelled["id"] == [r["id"] for r in make_rows()]
    assert as_float(labelled["score"][:40]).tolist() == [0.123456] * 40
    assert not work.exists()


# --- fail fast ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra,message",
    [
        (["--dataset", "missing/laws.csv", "--output", "o.csv"], "no such file"),
        (
            ["--text-columns", "body", "--output", "o.csv"],
            r"\['body'\] not in the dataset\. Its columns are: id, source",
        ),
        (["--output", "o.xlsx"], "cannot write files ending in '.xlsx'"),
        (["--output", "exists.csv"], "already exists.*--overwrite"),
        (["--output-dataset", "me/flagged"], "needs a token"),
    ],
)
def test_user_errors_come_before_the_model_is_loaded(pr, laws, tmp_path, monkeypatch, extra, message):
    import huggingface_hub

    monkeypatch.chdir(tmp_path)
    (tmp_path / "exists.csv").write_text("id\n1\n")
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    for loader in ("load_config", "load_tokenizer", "load_model"):
        monkeypatch.setattr(
            pr, loader, lambda *a, **k: pytest.fail("the model was loaded before the input was checked")
        )
    argv = ["--model", "no/model", "--dataset", str(laws), *extra]
    with pytest.raises(pr.UserError, match=message):
        pr.main(argv)
    monkeypatch.setattr("sys.argv", ["predict.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        pr.run()
    assert exit_info.value.code == 2


# --- push -------------------------------------------------------------------------------
class FakeHub:
    """Stands in for huggingface_hub.HfApi: records every call and keeps the uploaded files."""

    def __init__(self, files: dict | None = None):
        self.calls, self.files = [], dict(files or {})
        self.repos: dict[str, bool] = {}  # repo id -> private, for the repos that exist

    def whoami(self):
        self.calls.append("whoami")
        return {"name": "tester"}

    def repo_info(self, repo_id, repo_type=None):
        if repo_id not in self.repos:
            raise HubError(404, f"Repository Not Found for {repo_id}")
        return types.SimpleNamespace(id=repo_id, private=self.repos[repo_id])

    def create_repo(self, repo_id, repo_type=None, private=False, exist_ok=False):
        self.calls.append(f"create_repo {repo_id} {repo_type} private={private}")
        self.repos.setdefault(repo_id, private)

    def list_repo_files(self, repo_id, repo_type=None):
        return list(self.files)

    def upload_file(self, path_or_fileobj, path_in_repo, repo_id, repo_type=None, commit_message=None):
        self.calls.append(f"upload {path_in_repo}")
        self.files[path_in_repo] = Path(path_or_fileobj).read_bytes()

    def hf_hub_download(self, repo_id, filename, repo_type=None, local_dir=None):
        self.calls.append(f"download {filename}")
        path = Path(local_dir) / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files[filename])
        return str(path)

    def delete_folder(self, path_in_repo, repo_id, repo_type=None, commit_message=None):
        self.calls.append(f"delete {path_in_repo}")
        self.files = {k: v for k, v in self.files.items() if not k.startswith(path_in_repo + "/")}


def shard_rows(files: dict) -> dict:
    import io

    tables = [pq.read_table(io.BytesIO(files[name])) for name in sorted(files) if name.startswith("data/")]
    return pa.concat_tables(tables).to_pydict()


@pytest.fixture
def fake_hub(pr, monkeypatch):
    import huggingface_hub

    hub = FakeHub()
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake_token")
    monkeypatch.setattr(pr, "hub_api", lambda token: hub)
    real = pr.load_model
    monkeypatch.setattr(pr, "load_model", lambda *a: (hub.calls.append("load_model"), real(*a))[1])
    return hub


def test_push_checks_first_then_uploads_shards_and_a_card(
    pr, fake_hub, batch64, tiny_models, laws, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    tuned = threshold_between_scores(np.array([s for s in batch64["score"] if s is not None]))
    model = save_variant(tiny_models["bert"], tmp_path / "jim-crow-tiny", threshold=tuned)
    assert (
        pr.main(
            [
                "--model",
                str(model),
                "--dataset",
                str(laws),
                "--output-dataset",
                "me/laws-flagged",
                "--private",
                "--shard-size",
                "50",
            ]
        )
        == 0
    )
    calls = fake_hub.calls
    assert calls[:2] == ["whoami", "create_repo me/laws-flagged dataset private=True"]
    assert calls.index("load_model") < calls.index("upload data/shard-00000.parquet")
    assert calls[-4:] == [
        "upload data/shard-00000.parquet",
        "upload data/shard-00001.parquet",
        "upload data/shard-00002.parquet",
        "upload README.md",
    ]  # the card last
    pushed = shard_rows(fake_hub.files)
    assert list(pushed)[:6] == list(make_rows()[0]) and pushed["id"] == [r["id"] for r in make_rows()]
    flagged = check_labels(pushed, ["no_jim_crow", "jim_crow"], tuned)
    assert 0 < flagged < 119
    card = fake_hub.files["README.md"].decode()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert {"jim-crow", "model-predictions"} <= set(meta["tags"]) and meta["task_categories"] == ["text-classification"]
    assert meta["configs"][0]["data_files"][0]["path"] == "data/*.parquet"
    assert f"**{flagged} of 120 rows" in card and f"at threshold {tuned:.4f}" in card
    assert "`jim-crow-tiny` (a local model folder)" in card and "candidates for expert review" in card
    assert "| `jim_crow` | " + str(flagged) + " |" in card and "| (none: no text to read) | 1 |" in card
    assert "hf_fake_token" not in card and not (tmp_path / "laws-flagged.shards").exists()

    # the same command again would mix two runs in the repo: it must say --resume or --overwrite
    with pytest.raises(pr.UserError, match="already holds 3 data file"):
        pr.main(["--model", str(model), "--dataset", str(laws), "--output-dataset", "me/laws-flagged"])


def test_resume_on_a_fresh_machine_takes_finished_shards_from_the_repo(
    pr, fake_hub, tiny_models, laws, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    args = [
        "--model",
        str(tiny_models["bert"]),
        "--dataset",
        str(laws),
        "--output-dataset",
        "me/laws-flagged",
        "--shard-size",
        "50",
    ]
    count_scored_rows(pr, monkeypatch, fail_on_call=2)
    with pytest.raises(RuntimeError):
        pr.main(args)  # the job times out after pushing its first shard ...
    assert [n for n in fake_hub.files] == ["data/shard-00000.parquet"]
    import shutil

    shutil.rmtree(tmp_path / "laws-flagged.shards")  # ... and its disk is wiped
    calls = count_scored_rows(pr, monkeypatch)
    assert pr.main(args + ["--resume"]) == 0
    assert sum(calls) == 70  # shards 2 and 3 only
    assert "download data/shard-00000.parquet" in fake_hub.calls
    assert fake_hub.calls.count("upload data/shard-00000.parquet") == 1
    assert shard_rows(fake_hub.files)["id"] == [r["id"] for r in make_rows()]
    assert "of 120 rows" in fake_hub.files["README.md"].decode()


# --- the work dir, the output and the positive label --------------------------------------
def refuse_to_load_the_model(pr, monkeypatch):
    for loader in ("load_config", "load_tokenizer", "load_model"):
        monkeypatch.setattr(pr, loader, lambda *a, **k: pytest.fail("the model was loaded before the check"))


def test_work_dir_with_other_files_is_refused_and_never_emptied(pr, fake_hub, tiny_models, laws, tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "README.md").write_text("my notes\n")
    (work / "results.txt").write_text("keep me\n")
    args = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output-dataset", "me/flagged"]
    args += ["--work-dir", str(work), "--shard-size", "50"]
    real_loaders = {name: getattr(pr, name) for name in ("load_config", "load_tokenizer", "load_model")}
    refuse_to_load_the_model(pr, monkeypatch)
    with pytest.raises(pr.UserError, match=r"--work-dir .*work holds files this script did not write \(README\.md, "):
        pr.main(args)
    assert "results.txt" in str(pytest.raises(pr.UserError, pr.main, args).value)
    for name, loader in real_loaders.items():
        monkeypatch.setattr(pr, name, loader)
    count_scored_rows(pr, monkeypatch, fail_on_call=2)
    with pytest.raises(RuntimeError):
        pr.main(args + ["--overwrite"])  # stopped after the first shard: the marker says whose folder it is
    marker = json.loads((work / ".predict-run.json").read_text())
    assert marker["written_by"] == "predict.py" and (work / "shard-00000.parquet").exists()
    count_scored_rows(pr, monkeypatch)
    assert pr.main(args + ["--overwrite"]) == 0  # other files: --overwrite uses the folder, and leaves them alone
    assert sorted(p.name for p in work.iterdir()) == ["README.md", "results.txt"]
    assert (work / "README.md").read_text() == "my notes\n" and (work / "results.txt").read_text() == "keep me\n"
    assert fake_hub.files["README.md"].decode().startswith("---\n")  # the card, uploaded from dataset_card.md
    assert b"my notes" not in fake_hub.files["README.md"] and "results.txt" not in fake_hub.files


def test_overwrite_replaces_every_shard_of_the_earlier_run(pr, tiny_models, laws, tmp_path, monkeypatch):
    """An earlier run cut into more shards (smaller --shard-size, more rows) leaves none behind after --overwrite."""
    out, work = tmp_path / "o.csv", tmp_path / "work"
    args = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output", str(out), "--work-dir", str(work)]
    count_scored_rows(pr, monkeypatch, fail_on_call=3)
    with pytest.raises(RuntimeError):
        pr.main(args + ["--shard-size", "10"])  # stopped after two shards of ten rows
    assert sorted(p.name for p in work.glob("shard-*.parquet")) == ["shard-00000.parquet", "shard-00001.parquet"]
    calls = count_scored_rows(pr, monkeypatch)
    assert pr.main(args + ["--shard-size", "1000", "--overwrite"]) == 0  # one shard now: shard-00001 is stale
    assert calls == [119] and not work.exists()  # every row scored again; nothing of either run left
    assert len(read_table(out)["id"]) == 120


def test_work_dir_of_its_own_is_removed_and_a_file_is_a_plain_error(
    pr, tiny_models, laws, tmp_path, monkeypatch, capsys
):
    out, work = tmp_path / "o.csv", tmp_path / "new" / "work"
    args = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output", str(out), "--max-samples", "8"]
    assert pr.main(args + ["--work-dir", str(work)]) == 0
    assert not work.exists() and (tmp_path / "new").is_dir()
    (tmp_path / "a-file").write_text("x")
    refuse_to_load_the_model(pr, monkeypatch)
    for work_dir, message in (("a-file", "is a file, not a folder"), ("a-file/work", "a-file is a file, not a folder")):
        monkeypatch.setattr("sys.argv", ["predict.py", *args, "--overwrite", "--work-dir", str(tmp_path / work_dir)])
        with pytest.raises(SystemExit) as exit_info:
            pr.run()
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and message in err and "Traceback" not in err
        line = next(line for line in err.splitlines() if line.startswith("error: "))
        assert line.startswith("error: --work-dir ") and line.count(". ") == 0 and line.endswith(".")  # one sentence


def test_output_that_is_the_dataset_is_refused_even_with_resume(pr, laws, tmp_path, monkeypatch):
    import shutil

    data = shutil.copy(laws, tmp_path / "laws.csv")
    before = Path(data).read_bytes()
    monkeypatch.chdir(tmp_path)
    refuse_to_load_the_model(pr, monkeypatch)
    for extra in ([], ["--resume"], ["--overwrite"]):
        argv = ["--model", "no/model", "--dataset", "laws.csv", "--output", str(tmp_path / "laws.csv"), *extra]
        with pytest.raises(pr.UserError, match=r"--output .*laws\.csv is the --dataset file itself"):
            pr.main(argv)
    assert Path(data).read_bytes() == before


def test_positive_label_comes_from_the_config(pr, fake_hub, batch64, tiny_models, laws, tmp_path, monkeypatch, caplog):
    """A model whose positive label is id 0: its score is P(label 0), read by the window most positive for it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    monkeypatch.chdir(tmp_path)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_models["bert"])
    model.config.id2label, model.config.label2id = {0: "jim_crow", 1: "no_jim_crow"}, {"jim_crow": 0, "no_jim_crow": 1}
    model.config.positive_label = "jim_crow"
    model.save_pretrained(tmp_path / "flipped")
    AutoTokenizer.from_pretrained(tiny_models["bert"]).save_pretrained(tmp_path / "flipped")
    caplog.set_level(logging.INFO, logger="predict")
    argv = ["--model", str(tmp_path / "flipped"), "--dataset", str(laws), "--output-dataset", "me/flipped"]
    assert pr.main(argv + ["--batch-size", "64", "--shard-size", "50"]) == 0
    pushed = shard_rows(fake_hub.files)
    flagged = check_labels(pushed, ["no_jim_crow", "jim_crow"], 0.5)
    scores, label_1 = as_float(pushed["score"]), 1 - as_float(batch64["score"])  # the same weights as batch64
    short = [i for i in range(120) if i % 10 != 5 and i != 7]  # one window each; row 7 has no text
    np.testing.assert_allclose(scores[short], label_1[short], atol=1e-5)
    assert all(scores[i] >= label_1[i] - 1e-6 for i in range(5, 120, 10))  # the most positive window, not the least
    assert "Positive label: jim_crow (named in the model's config.json)" in caplog.text
    card = fake_hub.files["README.md"].decode()
    assert "The positive label is `jim_crow` (named in the model's config.json)" in card
    assert f"**{flagged} of 120 rows" in card
    caplog.clear()
    pr.main(["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output", "o.csv", "--max-samples", "4"])
    assert "Positive label: LABEL_1 (the model's second label: its config names none)" in caplog.text


def test_local_data_makes_a_private_repo_unless_public(pr, fake_hub, tiny_models, laws, tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.INFO, logger="predict")
    args = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--max-samples", "8"]
    assert pr.main(args + ["--output-dataset", "me/local"]) == 0
    assert "create_repo me/local dataset private=True" in fake_hub.calls
    assert "will be private: a dataset made from a local file may hold rows never meant to be public" in caplog.text
    fake_hub.files.clear()  # the fake keeps one repo's files
    assert pr.main(args + ["--output-dataset", "me/open", "--public"]) == 0
    assert "create_repo me/open dataset private=False" in fake_hub.calls
    with pytest.raises(SystemExit) as exit_info:
        pr.main(args + ["--output-dataset", "me/both", "--private", "--public"])
    assert exit_info.value.code == 2
    fake_hub.repos["me/was-public"], fake_hub.calls[:] = False, []
    fake_hub.files.clear()
    with pytest.raises(pr.UserError, match=r"me/was-public already exists and is public") as refused:
        pr.main(args + ["--output-dataset", "me/was-public"])
    assert (
        "settings" in str(refused.value)
        and "--public" in str(refused.value)
        and "--output-dataset" in str(refused.value)
    )
    assert fake_hub.calls == ["whoami"]  # nothing created, loaded or uploaded
    with pytest.raises(pr.UserError, match="could not load it from the Hugging Face Hub"):
        pr.main(["--model", "no/model", "--dataset", "someone/laws", "--output-dataset", "me/from-hub"])
    assert "create_repo me/from-hub dataset private=False" in fake_hub.calls  # a Hub dataset: public, as before


@pytest.mark.parametrize(
    "error,message",
    [
        ("offline", r"offline mode is on \(HF_HUB_OFFLINE=1\)"),
        (ConnectionError("connection refused"), "could not reach the Hub"),
        (TimeoutError("timed out"), "could not reach the Hub"),
        (ValueError("no status"), "could not reach the Hub"),
        (HubError(401, "Unauthorized"), "The Hub did not accept HF_TOKEN"),
        (hub_error("network"), "could not reach the Hub"),
        (hub_error("503"), "the Hub answered 503"),
    ],
)
def test_push_check_tells_offline_and_unreachable_from_a_bad_token(pr, fake_hub, laws, monkeypatch, error, message):
    from huggingface_hub.errors import OfflineModeIsEnabled

    def whoami():
        raise OfflineModeIsEnabled("Cannot reach the Hub: offline mode is enabled.") if error == "offline" else error

    monkeypatch.setattr(fake_hub, "whoami", whoami)
    with pytest.raises(pr.UserError, match=message) as refused:
        pr.main(["--model", "no/model", "--dataset", str(laws), "--output-dataset", "me/flagged"])
    assert ("did not accept" in str(refused.value)) == ("did not accept" in message)


@pytest.mark.parametrize("kind,tries", [("network", 3), ("503", 3), ("409", 3), ("403", 1), ("offline", 1)])
def test_uploads_retry_the_errors_huggingface_hub_raises_when_the_hub_or_the_network_fails(
    pr, monkeypatch, kind, tries
):
    """huggingface_hub raises httpx's ConnectError, not an OSError, when the network fails; 409/412 when slices commit at
    once. Those are retried; a refusal is not."""
    monkeypatch.setattr(pr.time, "sleep", lambda s: None)
    calls = []

    def upload():
        calls.append(kind)
        if len(calls) < 3:
            raise hub_error(kind)
        return "uploaded"

    if tries == 3:
        assert pr.with_retries("Uploading shard-00000.parquet", upload) == "uploaded"
    else:
        with pytest.raises(pr.UserError, match="Uploading shard-00000.parquet failed"):
            pr.with_retries("Uploading shard-00000.parquet", upload)
    assert len(calls) == tries


def test_more_than_two_labels_label_each_row_with_its_most_probable(pr):
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [np.nan] * 3, [0.1, 0.3, 0.6]])
    added = pr.label_rows(probs, ["a", "b", "c"], None, None)
    assert added == {"predicted_label": ["b", "a", None, "c"], "score": [0.5, 0.6, None, 0.6], "threshold": [None] * 4}
    row = pr.aggregate_windows(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), [0, 0], 1)
    np.testing.assert_allclose(row, [[0.5 / 1.6, 0.3 / 1.6, 0.8 / 1.6]])
    assert pr.count_long_rows([0, 1, 1, 2, 3, 3, 3]) == 2


def test_card_names_the_negative_label_when_the_positive_is_id_0(pr):
    settings = {
        "labels": ["jim_crow", "no_jim_crow"],
        "positive_label": "jim_crow",
        "threshold": 0.5,
        "text_columns": ["section_text"],
        "max_length": 64,
        "stride": 16,
        "aggregation": "max",
    }
    run = {"hardware": "CPU", "precision": "fp32", "scored_rows": 10, "scoring_s": 1.0, "versions": {}, "command": "x"}
    record = {
        "rows": 10,
        "counts": {"jim_crow": 4, "no_jim_crow": 6},
        "empty_rows": 0,
        "long_rows": 0,
        "flagged": 4,
        "settings": settings,
        "run": run,
        "sources": {"threshold": "set with --threshold", "positive": "named in the model's config.json"},
    }
    card = pr.render_card(pr.card_facts(types.SimpleNamespace(model="me/model", dataset="me/laws"), "me/f", record))
    assert "`jim_crow` when `score` is at least `threshold`, else `no_jim_crow`" in card
    assert "the model's probability of `jim_crow`" in card and "**4 of 10 rows (40.0%) were flagged" in card


def test_model_folder_without_tokenizer_files_is_a_plain_error(pr, tiny_models, laws, tmp_path, monkeypatch, capsys):
    import shutil

    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_models["bert"], folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    monkeypatch.setattr(pr, "load_model", lambda *a: pytest.fail("the weights were loaded"))
    argv = ["--model", str(folder), "--dataset", str(laws), "--output", str(tmp_path / "o.csv")]
    monkeypatch.setattr("sys.argv", ["predict.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        pr.run()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert (
        f"--model {folder}: the folder has no tokenizer files" in err and "save the tokenizer beside the model" in err
    )


# --- like a user ------------------------------------------------------------------------
def test_script_runs_through_uv_run_like_a_user(tiny_models, laws, tmp_path):
    """`uv run predict.py` resolves the PEP 723 header in its own environment: the header is tested too."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("VIRTUAL_ENV", None)
    out = tmp_path / "flagged.parquet"
    proc = subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            str(ROOT / "predict.py"),
            "--model",
            str(tiny_models["modernbert"]),
            "--dataset",
            str(laws),
            "--output",
            str(out),
            "--max-samples",
            "30",
            "--shard-size",
            "16",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    labelled = read_table(out)
    assert labelled["id"] == [r["id"] for r in make_rows()[:30]]
    flagged = check_labels(labelled, ["LABEL_0", "LABEL_1"], 0.5)
    assert f"Flagged {flagged} of 30 rows" in proc.stderr and "rows/s" in proc.stderr


# --- several jobs at once: slices, then --finalize ---------------------------------------
RUNNER = ROOT / "tests" / "predict_runner.py"


def repo_bytes(hub, repo_id: str, prefix: str = "") -> dict[str, bytes]:
    base = hub.folder(repo_id)
    return {name: (base / name).read_bytes() for name in hub.files(repo_id) if name.startswith(prefix)}


def data_rows(hub, repo_id: str) -> dict:
    """The dataset's rows: its data files read in name order."""
    base = hub.folder(repo_id)
    names = [n for n in hub.files(repo_id) if n.startswith("data/")]
    return pa.concat_tables([pq.read_table(base / n) for n in names]).to_pydict()


def touched(events) -> set[str]:
    """The repo files that Hub calls uploaded, downloaded or deleted."""
    files = set()
    for event in events:
        if isinstance(event, (list, tuple)) and event[0] in ("upload_file", "hf_hub_download", "delete_file"):
            files.add(event[1])
        elif isinstance(event, (list, tuple)) and event[0] == "create_commit":
            files.update(event[1])
        elif isinstance(event, (list, tuple)) and event[0] == "delete_folder":
            files.add(event[1] + "/")
    return files


def labels_section(card: str) -> str:
    return card.split("## Labels")[1].split("## Added columns")[0]


def test_three_slice_jobs_then_finalize_give_the_single_run(
    pr, folder_hub, batch64, tiny_models, laws, tmp_path, monkeypatch
):
    """Three processes, each labelling a slice into one repo, then --finalize: the rows, scores and card totals of one
    run, with each job touching only its own files, and --finalize loading no weights."""
    monkeypatch.chdir(tmp_path)
    tuned = threshold_between_scores(np.array([s for s in batch64["score"] if s is not None]))
    model = save_variant(tiny_models["bert"], tmp_path / "tuned", threshold=tuned)  # about half the rows flagged
    flags = ["--model", str(model), "--dataset", str(laws), "--shard-size", "25"]
    assert pr.main([*flags, "--output-dataset", "me/single"]) == 0
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    sliced = [*flags, "--output-dataset", "me/sliced", "--num-shards", "3"]
    jobs = [
        subprocess.Popen(
            [sys.executable, str(RUNNER), str(tmp_path / "hub"), f"slice{i}", *sliced, "--shard-index", str(i)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(3)
    ]
    logs = [job.communicate(timeout=600)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0, 0], "\n".join(log[-3000:] for log in logs)
    assert "When all 3 slice jobs have finished" in logs[0]
    files = folder_hub.files("me/sliced")
    assert "README.md" not in files  # a slice job writes no card
    assert [f for f in files if f.startswith("slices/")] == [f"slices/slice-0000{i}-of-00003.json" for i in range(3)]
    for i in range(3):
        own = f"data/slice-0000{i}-of-00003-shard-"
        calls = json.loads((tmp_path / "hub" / f"events-slice{i}.json").read_text())
        assert touched(calls) and all(
            f.startswith(own) or f == f"slices/slice-0000{i}-of-00003.json" for f in touched(calls)
        )
        record = json.loads((folder_hub.folder("me/sliced") / f"slices/slice-0000{i}-of-00003.json").read_bytes())
        assert record["slice"] == {"index": i, "count": 3, "start": 40 * i, "stop": 40 * (i + 1)}
        assert record["rows"] == 40 and record["settings"]["rows"] == 120

    monkeypatch.setattr(pr, "load_model", lambda *a: pytest.fail("--finalize loaded the weights"))
    monkeypatch.setattr(pr, "score_texts", lambda *a: pytest.fail("--finalize scored rows"))
    assert pr.main([*flags, "--output-dataset", "me/sliced", "--num-shards", "3", "--finalize"]) == 0
    single, joined = data_rows(folder_hub, "me/single"), data_rows(folder_hub, "me/sliced")
    assert list(joined) == list(single) and joined["id"] == [r["id"] for r in make_rows()]
    assert all(joined[c] == single[c] for c in single if c != "score")  # every column and label, in order
    np.testing.assert_allclose(as_float(joined["score"]), as_float(single["score"]), atol=1e-6)
    card, single_card = ((folder_hub.folder(repo) / "README.md").read_text() for repo in ("me/sliced", "me/single"))
    assert labels_section(card) == labels_section(single_card)  # rows, counts per label, flagged share, threshold
    assert f"**{check_labels(single, ['no_jim_crow', 'jim_crow'], tuned)} of 120 rows" in card
    assert yaml.safe_load(card.split("---\n")[1]) == yaml.safe_load(single_card.split("---\n")[1])
    long_rows = re.search(r"\d+ rows were longer than one window", single_card)[0]
    assert long_rows in card and not long_rows.startswith("0 ")
    assert "3 jobs, each labelling a slice of the rows" in card and "--shard-index 2" in card


def slice_job(pr, flags: list[str], index: int, *extra: str) -> int:
    return pr.main([*flags, "--shard-index", str(index), *extra])


def test_finalize_names_missing_slices_and_slices_scored_otherwise(
    pr, folder_hub, tiny_models, laws, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output-dataset", "me/flagged"]
    flags += ["--max-samples", "30", "--shard-size", "5", "--num-shards", "3"]
    finalize = [*flags, "--finalize"]
    with pytest.raises(pr.UserError, match=r"slices 0, 1 and 2 of 3 are missing or unfinished"):
        pr.main(finalize)  # nothing pushed yet
    assert slice_job(pr, flags, 0) == 0 and slice_job(pr, flags, 2) == 0
    with pytest.raises(pr.UserError) as refused:
        pr.main(finalize)
    assert str(refused.value) == (
        "--finalize: slice 1 of 3 is missing or unfinished (slice 1: no slices/slice-00001-of-00003.json yet): run its "
        "job (or rerun it with --resume), then --finalize again."
    )
    assert slice_job(pr, flags, 1, "--threshold", "0.3") == 0
    with pytest.raises(pr.UserError) as refused:
        pr.main(finalize)
    assert str(refused.value).startswith(
        "--finalize: slice 1 of 3 was scored with other settings than these flags give, which slices 0 and 2 of 3 "
        "were scored with (slice 1: threshold 0.3, not 0.5). Rerun it with --overwrite"
    )
    (folder_hub.folder("me/flagged") / "data/slice-00002-of-00003-shard-00001.parquet").unlink()  # lost, say
    with pytest.raises(
        pr.UserError, match=r"slice 2 of 3 is missing or unfinished \(slice 2: 1 of its 2 data files is not"
    ):
        pr.main(finalize)
    assert "README.md" not in folder_hub.files("me/flagged")


def test_overwrite_of_one_slice_leaves_the_other_slices_alone(pr, folder_hub, tiny_models, laws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output-dataset", "me/flagged"]
    flags += ["--max-samples", "30", "--shard-size", "5", "--num-shards", "3"]
    for i in range(3):
        assert slice_job(pr, flags, i, *(["--threshold", "0.3"] if i == 1 else [])) == 0
    others = {
        **repo_bytes(folder_hub, "me/flagged", "data/slice-00000"),
        **repo_bytes(folder_hub, "me/flagged", "data/slice-00002"),
    }
    with pytest.raises(pr.UserError, match=r"already holds 3 file\(s\) of slice 1 of 3. Add --resume"):
        slice_job(pr, flags, 1)  # its own files: refused without --overwrite or --resume; the others' do not count
    folder_hub.events.clear()
    assert slice_job(pr, flags, 1, "--overwrite") == 0
    assert all(f.startswith(("data/slice-00001-", "slices/slice-00001-")) for f in touched(folder_hub.events))
    after = repo_bytes(folder_hub, "me/flagged")
    assert {k: after[k] for k in others} == others  # the other slices' files are as they were
    assert (
        pq.read_table(folder_hub.folder("me/flagged") / "data/slice-00001-of-00003-shard-00000.parquet")[
            "threshold"
        ].to_pylist()
        == [0.5] * 5
    )
    assert pr.main([*flags, "--finalize"]) == 0
    assert "of 30 rows" in (folder_hub.folder("me/flagged") / "README.md").read_text()
    # a data file of no slice of 3 (a single run's, say) would add its rows to the dataset: refused, named
    (folder_hub.folder("me/flagged") / "data/shard-00000.parquet").write_bytes(b"x")
    with pytest.raises(
        pr.UserError, match=r"1 data file\(s\) of no slice of --num-shards 3 \(data/shard-00000\.parquet\)"
    ):
        pr.main([*flags, "--finalize"])


def test_finalize_refuses_a_slice_whose_repo_holds_files_its_record_does_not_list(
    pr, folder_hub, tiny_models, laws, tmp_path, monkeypatch
):
    import shutil

    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output-dataset", "me/flagged"]
    flags += ["--max-samples", "30", "--shard-size", "5", "--num-shards", "3"]
    for i in range(3):
        assert slice_job(pr, flags, i) == 0
    data = folder_hub.folder("me/flagged") / "data"  # a rerun of slice 1 has pushed a shard
    shutil.copy(data / "slice-00001-of-00003-shard-00000.parquet", data / "slice-00001-of-00003-shard-00007.parquet")
    why = r"slice 1 of 3 is missing or unfinished \(slice 1: 1 data file\(s\) in the repo that its record does not list"
    with pytest.raises(pr.UserError, match=why):
        pr.main([*flags, "--finalize"])
    assert "README.md" not in folder_hub.files("me/flagged")


@pytest.mark.parametrize("fresh_machine", [True, False])
def test_resume_of_a_slice_scores_the_rest_and_touches_no_other_slice(
    pr, folder_hub, tiny_models, laws, tmp_path, monkeypatch, fresh_machine
):
    """The job stops when its second shard's upload is refused. Resumed on a fresh machine, it fetches the first shard
    and scores the second again; on the same machine, it uploads the second shard it had written, scoring nothing."""
    import shutil

    from fake_hub import HubError as FolderHubError

    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--output-dataset", "me/flagged"]
    flags += ["--max-samples", "60", "--shard-size", "10", "--num-shards", "3"]
    assert slice_job(pr, flags, 0) == 0
    before = repo_bytes(folder_hub, "me/flagged")
    real_upload = folder_hub.upload_file

    def second_upload_fails(path_or_fileobj, path_in_repo, repo_id, **kwargs):
        if path_in_repo == "data/slice-00001-of-00003-shard-00001.parquet":
            raise FolderHubError(403, "simulated refusal")
        return real_upload(path_or_fileobj, path_in_repo, repo_id, **kwargs)

    monkeypatch.setattr(folder_hub, "upload_file", second_upload_fails)
    with pytest.raises(pr.UserError, match="Uploading slice-00001-of-00003-shard-00001.parquet failed.*--resume"):
        slice_job(pr, flags, 1)  # the job stops after its first shard
    monkeypatch.setattr(folder_hub, "upload_file", real_upload)
    assert set(folder_hub.files("me/flagged")) - set(before) == {"data/slice-00001-of-00003-shard-00000.parquet"}
    if fresh_machine:  # the shards are in the repo only
        shutil.rmtree(tmp_path / "flagged.slice-00001-of-00003.shards")

    folder_hub.events.clear()
    calls = count_scored_rows(pr, monkeypatch)
    assert slice_job(pr, flags, 1, "--resume") == 0
    assert sum(calls) == (10 if fresh_machine else 0)  # the second shard, when it is not on this machine
    assert touched(folder_hub.events) == {
        *(["data/slice-00001-of-00003-shard-00000.parquet"] if fresh_machine else []),  # fetched
        "data/slice-00001-of-00003-shard-00001.parquet",  # pushed
        "slices/slice-00001-of-00003.json",
    }
    assert {k: v for k, v in repo_bytes(folder_hub, "me/flagged").items() if k in before} == before
    assert data_rows(folder_hub, "me/flagged")["id"] == [r["id"] for r in make_rows()[:40]]


def test_a_slice_is_the_same_rows_whatever_the_shard_size(pr, tiny_models, laws, tmp_path):
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws), "--num-shards", "3", "--shard-index", "1"]
    outputs = []
    for size in ("5", "50"):
        out = tmp_path / f"slice-{size}.parquet"
        assert pr.main([*flags, "--output", str(out), "--shard-size", size]) == 0
        outputs.append(read_table(out))
    small, large = outputs
    assert small["id"] == large["id"] == [r["id"] for r in make_rows()[40:80]]
    assert small["predicted_label"] == large["predicted_label"]
    np.testing.assert_allclose(as_float(small["score"]), as_float(large["score"]), atol=1e-6)
    with pytest.raises(pr.UserError, match="--num-shards 3 is more than the 2 rows to label: give at most 2"):
        pr.main([*flags, "--output", str(tmp_path / "few.csv"), "--max-samples", "2"])


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--num-shards", "0"], "--num-shards must be at least 1"),
        (["--num-shards", "3", "--shard-index", "3"], "--shard-index 3 is not a slice of --num-shards 3: give 0 to 2"),
        (
            ["--num-shards", "3", "--shard-index", "-1"],
            "--shard-index -1 is not a slice of --num-shards 3: give 0 to 2",
        ),
        (["--shard-index", "1"], "--shard-index 1 is not a slice of --num-shards 1: give --num-shards"),
        (["--output", "o.csv", "--num-shards", "3", "--finalize"], "--finalize applies only to --output-dataset"),
        (
            ["--output-dataset", "me/x", "--finalize"],
            "--finalize joins the slices of several jobs: give the --num-shards",
        ),
        (["--output-dataset", "me/x", "--num-shards", "3", "--finalize", "--shard-index", "0"], "drop --shard-index"),
        (["--output-dataset", "me/x", "--num-shards", "3", "--finalize", "--resume"], "drop --resume"),
    ],
)
def test_slice_flags_that_cannot_work_are_refused_at_once(pr, laws, monkeypatch, capsys, extra, message):
    refuse_to_load_the_model(pr, monkeypatch)
    argv = ["--model", "no/model", "--dataset", str(laws), *extra]
    if "--output" not in extra and "--output-dataset" not in extra:
        argv += ["--output", "o.csv"]
    with pytest.raises(SystemExit) as exit_info:
        pr.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_finalize_adds_up_slices_of_unequal_sizes(pr):
    def record(rows: int, flagged: int) -> dict:
        run = {"hardware": "CPU", "precision": "fp32", "scored_rows": rows, "scoring_s": 1.0, "versions": {}}
        return {
            "rows": rows,
            "files": [f"data/{rows}.parquet"],
            "counts": {"no": rows - flagged, "yes": flagged},
            "empty_rows": 1,
            "long_rows": 2,
            "flagged": flagged,
            "settings": {"rows": 100},
            "run": {**run, "command": f"slice of {rows}"},
        }

    total = pr.add_up([record(33, 3), record(33, 4), record(34, 5)], {"command": "finalize"})
    assert (total["rows"], total["flagged"], total["counts"]) == (100, 12, {"no": 88, "yes": 12})
    assert (total["empty_rows"], total["long_rows"], total["run"]["scored_rows"], total["run"]["jobs"]) == (
        3,
        6,
        100,
        3,
    )
