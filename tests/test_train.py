"""End to end: the training scripts on tiny models and synthetic data, in-process and through `uv run`."""

import csv
import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, import_script, make_rows, write_csv

FAST = ["--max-length", "64", "--stride", "16", "--epochs", "2", "--batch-size", "8", "--learning-rate", "1e-3"]


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def card_metadata(readme: Path) -> dict:
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def check_output_dir(out: Path, rows: list[dict], base_model: str, trainer_module):
    """What lands in --output-dir after a run on make_rows() data: the checks shared by every e2e test."""
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "README.md",
        "metrics.json",
        "splits.csv",
        "errors.csv",
    ):
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()  # removed after training: never uploaded
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "no_jim_crow", "1": "jim_crow"}
    assert config["label2id"] == {"no_jim_crow": 0, "jim_crow": 1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert config["decision_threshold"] == pytest.approx(metrics["threshold"]["value"])
    test = metrics["test"]
    for key in ("f1", "precision", "recall", "accuracy", "roc_auc"):
        assert 0.0 <= test[key] <= 1.0, key
        lo, hi = test["intervals_95"].get(key) or (0, 1)  # None: nothing counted (no row flagged, for precision)
        assert lo <= test[key] <= hi
    assert sum(map(sum, test["confusion_matrix"])) == test["n"] == metrics["split_sizes"]["test"]
    # proportions get the exact interval of their counts: one that stays true when every positive is found
    from scipy.stats import binomtest

    (tn, fp), (fn, tp) = test["confusion_matrix"]
    for key, k, n in (("recall", tp, tp + fn), ("precision", tp, tp + fp), ("accuracy", tp + tn, test["n"])):
        exact = list(binomtest(k, n).proportion_ci(method="exact")) if n else None
        assert test["intervals_95"][key] == (pytest.approx(exact) if n else None), key
    assert test["intervals_95"]["recall"][0] < 1.0 and test["intervals_95_method"]["recall"].startswith("exact")
    # the source column leaks the label: it is dropped and said to be dropped
    assert metrics["text_columns"] == ["chapter_text", "section_text"]
    assert [d["name"] for d in metrics["dropped_columns"]] == ["source"]
    paschal = next(s for s in metrics["dropped_columns"][0]["shares"] if s["value"] == "paschal")
    assert paschal["share"] == 1.0 and paschal["count"] == sum(r["source"] == "paschal" for r in rows)
    # splits: every row once, disjoint, the planted duplicates together
    splits = read_csv(out / "splits.csv")
    assert sorted(s["id"] for s in splits) == sorted(r["id"] for r in rows)
    where = {s["id"]: s["split"] for s in splits}
    assert len({where["law_0001"], where["law_0011"], where["law_0021"]}) == 1
    assert {k: sum(v == k for v in where.values()) for k in ("train", "validation", "test")} == metrics["split_sizes"]
    # class weights recomputed from the training split: w_c = N / (K n_c)
    label = {r["id"]: int(r["jim_crow"]) for r in rows}
    train = [label[i] for i, s in where.items() if s == "train"]
    n, pos = len(train), sum(train)
    assert metrics["class_weights"] == pytest.approx({"no_jim_crow": n / (2 * (n - pos)), "jim_crow": n / (2 * pos)})
    # errors.csv: exactly the misclassified test rows
    errors = read_csv(out / "errors.csv")
    cm = test["confusion_matrix"]
    assert len(errors) == metrics["errors"]["count"] == cm[0][1] + cm[1][0]
    assert all(where[e["id"]] == "test" and e["true_label"] != e["predicted_label"] for e in errors)
    assert metrics["rows"]["longer_than_one_window"] > 0  # the synthetic long rows were windowed
    assert len(metrics["validation_history"]) == 2 and metrics["best_epoch"] in [
        h["epoch"] for h in metrics["validation_history"]
    ]
    assert metrics["baseline"]["n"] == test["n"]
    tokens = metrics["training_tokens"]
    assert 0 < tokens["real"] <= tokens["computed"] and tokens["padding_efficiency"] == pytest.approx(
        tokens["real"] / tokens["computed"]
    )
    assert tokens["padding_efficiency"] < 1.0
    # the path that ran: padded batches with the model's default attention, in fp32 on the CPU
    environment = metrics["environment"]
    assert environment["attention"] in ("sdpa", "eager") and environment["precision"] == "fp32"
    for key in ("data_load", "model_load", "tokenization", "training", "evaluation"):
        assert metrics["timings"][key] >= 0
    # the card: metadata for the Hub, numbers from this run
    meta = card_metadata(out / "README.md")
    assert meta["pipeline_tag"] == "text-classification" and meta["library_name"] == "transformers"
    assert {"jim-crow", "civil-rights"} <= set(meta["tags"])  # the task's tags
    assert not {"legal", "glam", "north-carolina"} & set(meta["tags"])  # a local file is not the Hub dataset
    reported = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert reported == {k: round(test[k], 4) for k in ("f1", "precision", "recall", "accuracy", "roc_auc")}
    card = (out / "README.md").read_text()
    assert f"{test['f1']:.3f}" in card and base_model not in meta.get("base_model", "")
    # one record: metrics.json renders exactly the card that was written
    template = (ROOT / "model_card_template.md").read_text()
    assert trainer_module.render_card(metrics, template) == card
    assert f"precision fp32; attention {environment['attention']}" in card
    return metrics


def test_modernbert_trains_end_to_end_in_process(trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch):
    seen_texts = []
    original = trainer_module.tokenize_windows
    monkeypatch.setattr(
        trainer_module,
        "tokenize_windows",
        lambda tok, texts, *a, **k: seen_texts.extend(texts) or original(tok, texts, *a, **k),
    )
    out = tmp_path / "out"
    code = trainer_module.main(
        [
            "--dataset",
            str(laws_csv),
            "--model",
            str(tiny_models["modernbert"]),
            "--no-push",
            "--output-dir",
            str(out),
            *FAST,
        ]
    )
    assert code == 0
    rows = make_rows()
    metrics = check_output_dir(out, rows, str(tiny_models["modernbert"]), trainer_module)
    assert metrics["base_model"]["preset"] == "modernbert"
    # the model never saw the source column's values
    assert seen_texts and not any("paschal" in t or "project experts" in t for t in seen_texts)


def run_card_code(card: str, folder: Path, rows: list[dict], monkeypatch, capsys) -> tuple[dict, list[str]]:
    """Run every Python block of the card, in order and as written, in `folder` beside a data.csv of `rows`.
    Returns the blocks' namespace and what the last block printed, one line per row."""
    blocks = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(folder)
    write_csv(folder / "data.csv", rows)
    namespace = {}
    for n, block in enumerate(blocks):
        capsys.readouterr()
        exec(compile(block, f"card-block-{n}", "exec"), namespace)
    return namespace, capsys.readouterr().out.strip().splitlines()


def test_the_card_code_runs_against_the_saved_model(
    trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch, capsys, caplog
):
    from transformers import pipeline

    out = tmp_path / "out"
    trainer_module.main(
        [
            "--dataset",
            str(laws_csv),
            "--model",
            str(tiny_models["bert"]),
            "--no-push",
            "--output-dir",
            str(out),
            "--max-samples",
            "80",
            "--epochs",
            "1",
            *FAST[:4],
        ]
    )
    card = (out / "README.md").read_text()
    assert f'model="{out}"' in card  # with --no-push the card's code loads the local folder
    namespace, printed = run_card_code(card, tmp_path, make_rows(12), monkeypatch, capsys)
    threshold = json.loads((out / "config.json").read_text())["decision_threshold"]
    assert namespace["THRESHOLD"] == pytest.approx(threshold, abs=1e-4)
    score, flagged = namespace["flag"](["That the white and colored races shall be taught in separate schools."])[0]
    assert 0 <= score <= 1 and flagged == (score >= namespace["THRESHOLD"])
    rows = make_rows(12)
    assert len(printed) == 12 and [line.split()[0] for line in printed] == [r["id"] for r in rows]
    texts = [r["chapter_text"] + "\n\n" + r["section_text"] for r in rows]
    assert [line.split()[2] for line in printed] == [str(f) for _, f in namespace["flag"](texts)]
    # predict.py applies what shipped: the same score as the card's code for a text that fits one window, and the
    # decision_threshold that config.json names, said in its log
    predict = import_script("predict.py")
    labelled = tmp_path / "flagged.csv"
    caplog.set_level(logging.INFO, logger="predict")
    assert predict.main(["--model", str(out), "--dataset", str(tmp_path / "data.csv"), "--output", str(labelled)]) == 0
    short = [i for i, t in enumerate(texts) if len(t.split()) < 40]  # the card's pipeline truncates a long text
    scored = read_csv(labelled)
    card_scores = [score for score, _ in namespace["flag"]([texts[i] for i in short])]
    assert [float(scored[i]["score"]) for i in short] == pytest.approx(card_scores, abs=1e-5) and len(short) >= 10
    config = json.loads((out / "config.json").read_text())
    assert [float(r["threshold"]) for r in scored] == pytest.approx([config["decision_threshold"]] * len(scored))
    assert config["decision_threshold_name"] == "recall_0.98"  # the jim_crow task is triage (TASK_CARD)
    assert f"`{config['decision_threshold_name']}`, the highest threshold that still found 98%" in caplog.text
    classifier = pipeline("text-classification", model=str(out), top_k=None)
    result = classifier(["That the white and colored races shall be taught in separate schools."])
    assert {r["label"] for r in result[0]} == {"no_jim_crow", "jim_crow"}
    assert sum(r["score"] for r in result[0]) == pytest.approx(1.0, abs=1e-4)


def test_seeds_repeat_the_run_and_report_mean_and_std(trainer_module, tiny_models, laws_csv, tmp_path):
    out = tmp_path / "out"
    trainer_module.main(
        [
            "--dataset",
            str(laws_csv),
            "--model",
            str(tiny_models["bert"]),
            "--no-push",
            "--seeds",
            "2",
            "--output-dir",
            str(out),
            "--max-samples",
            "80",
            "--epochs",
            "1",
            *FAST[:4],
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seeds"]["n"] == 2 and metrics["seeds"]["seeds"] == [42, 43]
    f1s = [r["test"]["f1"] for r in metrics["seeds"]["runs"]]
    assert metrics["seeds"]["summary"]["f1"]["values"] == f1s
    assert metrics["seeds"]["summary"]["f1"]["mean"] == pytest.approx(sum(f1s) / 2)
    assert metrics["seeds"]["summary"]["f1"]["std"] == pytest.approx(abs(f1s[0] - f1s[1]) / 2**0.5)
    assert metrics["test"] == metrics["seeds"]["runs"][0]["test"]  # the published model is the first seed's
    assert not (out / "seed_runs").exists()
    assert "Across 2 seeds" in (out / "README.md").read_text()


def test_holdout_column_trains_once_per_value_and_never_uses_it_as_input(
    trainer_module, tiny_models, laws_csv, tmp_path
):
    out = tmp_path / "out"
    trainer_module.main(
        [
            "--dataset",
            str(laws_csv),
            "--model",
            str(tiny_models["bert"]),
            "--no-push",
            "--holdout-column",
            "source",
            "--output-dir",
            str(out),
            "--epochs",
            "1",
            *FAST[:4],
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    groups = {g["value"]: g for g in metrics["holdout"]["groups"]}
    rows = make_rows()
    assert set(groups) == {"paschal", "project experts"}
    assert groups["paschal"]["rows"] == groups["paschal"]["positives"] == sum(r["source"] == "paschal" for r in rows)
    assert groups["paschal"]["summary"].startswith("recall")  # one label only: no F1
    assert groups["project experts"]["summary"].startswith("F1")
    assert groups["paschal"]["train_rows"] + groups["paschal"]["rows"] <= len(rows)
    assert metrics["text_columns"] == ["chapter_text", "section_text"]
    assert "Held-out `source`" in (out / "README.md").read_text()


def test_three_classes_train_end_to_end(trainer_module, tiny_models, tmp_path, monkeypatch, capsys):
    rows = make_rows(90)
    for i, r in enumerate(rows):
        r["topic"] = ["roads", "schools", "courts"][i % 3]
    data = write_csv(tmp_path / "three.csv", rows)
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            [
                "--dataset",
                str(data),
                "--model",
                str(tiny_models["bert"]),
                "--no-push",
                "--label-column",
                "topic",
                "--output-dir",
                str(out),
                "--epochs",
                "1",
                *FAST[:4],
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == ["courts", "roads", "schools"]
    assert metrics["class_weights"] == pytest.approx({"courts": 1.0, "roads": 1.0, "schools": 1.0}, rel=0.1)
    assert set(metrics["test"]["per_class"]) == {"courts", "roads", "schools"}
    assert len(metrics["test"]["confusion_matrix"]) == 3 and "threshold" not in metrics
    card = (out / "README.md").read_text()
    assert "| courts |" in card and "Macro F1" in card and "jim-crow" not in card_metadata(out / "README.md")["tags"]
    assert not re.search(r"threshold|flag|positive", card.split("---\n", 2)[2], re.I)
    assert not re.search(r"threshold|positive", (out / "metrics.json").read_text(), re.I)
    # errors.csv gives each misclassified test row the score of the class it was given: its highest
    scores = {r["id"]: r for r in csv.DictReader((out / "predictions.csv").open()) if r["split"] == "test"}
    errors = list(csv.DictReader((out / "errors.csv").open()))
    assert len(errors) == metrics["errors"]["count"] > 0
    for e in errors:
        given = scores[e["id"]][f"score_{e['predicted_label']}"]
        highest = max(float(v) for k, v in scores[e["id"]].items() if k.startswith("score_"))
        assert float(e["score"]) == pytest.approx(round(float(given), 4)) == pytest.approx(round(highest, 4))
    # every code block of the card runs against the saved model and shows every class's score
    _, printed = run_card_code(card, tmp_path, rows[:9], monkeypatch, capsys)
    assert len(printed) == 9 and all(
        set(re.findall(r"'(\w+)': ", line)) == {"courts", "roads", "schools"} for line in printed
    )


def run_script_with_uv(script: str, model: Path, data: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            str(ROOT / script),
            "--dataset",
            str(data),
            "--model",
            str(model),
            "--no-push",
            "--output-dir",
            str(out),
            *FAST,
        ],
        cwd=out.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.parametrize("script,kind", [("train_modernbert.py", "modernbert"), ("train_roberta.py", "roberta")])
def test_script_runs_through_uv_run_like_a_user(script, kind, tiny_models, laws_csv, tmp_path, trainer_module):
    """`uv run script.py` resolves the PEP 723 header in its own environment: the header is tested too."""
    out = tmp_path / "out"
    proc = run_script_with_uv(script, tiny_models[kind], laws_csv, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = check_output_dir(out, make_rows(), str(tiny_models[kind]), trainer_module)
    assert "Dropped column 'source' before anything else" in proc.stderr
    assert "No GPU found: training on the CPU" in proc.stderr
    environment = metrics["environment"]  # the path that ran, on the device the card names
    assert environment["hardware"].startswith("CPU (")
    assert f": {environment['hardware']}, precision fp32, attention {environment['attention']}\n" in proc.stderr
    assert json.loads((out / "config.json").read_text())["model_type"] == kind
    assert metrics["hyperparameters"]["max_length"] == 64


def test_in_a_job_checkpoints_hold_weights_only_and_the_best_epoch_is_still_kept(
    trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch
):
    """A Hugging Face Job's disk is wiped at the end: without --push-checkpoints its checkpoints skip the optimizer
    state (2/3 of their size), and load_best_model_at_end still works from them."""
    import transformers

    monkeypatch.setenv("JOB_ID", "job-1")
    saved = []
    original = transformers.Trainer._save_checkpoint

    def record(self, *a, **k):
        original(self, *a, **k)
        saved.extend(sorted(p.name for p in Path(self.args.output_dir).glob("checkpoint-*/*")))

    monkeypatch.setattr(transformers.Trainer, "_save_checkpoint", record)
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--no-push",
                "--output-dir",
                str(out),
                "--max-samples",
                "80",
                *FAST,
            ]
        )
        == 0
    )
    assert "model.safetensors" in saved and not any(name.startswith("optimizer") for name in saved)
    metrics = json.loads((out / "metrics.json").read_text())
    assert (
        metrics["best_epoch"] in [h["epoch"] for h in metrics["validation_history"]]
        and len(metrics["validation_history"]) == 2
    )


def test_the_preset_follows_the_model_not_the_script(trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch):
    """train_modernbert.py given a RoBERTa trains with RoBERTa's recipe and publishes it under RoBERTa's licence."""
    monkeypatch.chdir(tmp_path)
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["roberta"]), "--no-push", "--max-samples", "80"]
    assert trainer_module.main([*argv, "--max-length", "64", "--stride", "16", "--batch-size", "8"]) == 0
    out = tmp_path / "laws-jim-crow-roberta"  # the default folder is named after the architecture
    metrics = json.loads((out / "metrics.json").read_text())
    roberta = trainer_module.PRESETS["roberta"]
    assert metrics["base_model"]["preset"] == "roberta" and metrics["base_model"]["license"] == "mit"
    hp = metrics["hyperparameters"]
    assert (hp["epochs"], hp["learning_rate"], hp["warmup"], hp["weight_decay"]) == (
        roberta["epochs"],
        roberta["learning_rate"],
        roberta["warmup"],
        roberta["weight_decay"],
    )
    assert len(metrics["validation_history"]) == roberta["epochs"]
    assert card_metadata(out / "README.md")["license"] == "mit" and "liu2019roberta" in (out / "README.md").read_text()
