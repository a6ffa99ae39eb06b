"""What the run really does, checked against what it reports: the loss the Trainer optimises, the rows the
threshold is tuned on, a score exactly on the threshold, and the steps trained after a resume.

Each test recomputes the claim from the run's own outputs (saved model, splits.csv, metrics.json) or from
spies on the Trainer, so that a run which reports the right thing but does another fails here.
"""

import csv
import json

import numpy as np
import pytest
import torch
from conftest import KilledJob, make_rows, write_csv

FAST = ["--max-length", "64", "--stride", "16", "--batch-size", "8", "--learning-rate", "1e-3"]


def joined(row: dict) -> str:
    """The input text as the training scripts build it: chapter_text, a blank line, section_text."""
    return "\n\n".join(v.strip() for v in (row["chapter_text"], row["section_text"]) if v.strip())


def read_splits(out) -> dict:
    with (out / "splits.csv").open(newline="") as f:
        return {r["id"]: r["split"] for r in csv.DictReader(f)}


@pytest.fixture
def loss_spy(monkeypatch):
    """Every training loss the Trainer computes, with the logits and labels it was computed from."""
    import transformers

    seen = []
    original = transformers.Trainer.compute_loss

    def spy(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs["labels"].clone()
        loss, outputs = original(self, model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
        if model.training:
            seen.append((outputs["logits"].detach().float(), labels, loss.detach().float()))
        return (loss, outputs) if return_outputs else loss

    monkeypatch.setattr(transformers.Trainer, "compute_loss", spy)
    return seen


def test_the_trainer_optimises_the_class_weighted_loss_it_reports(
    trainer_module, tiny_models, laws_csv, tmp_path, loss_spy
):
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--epochs", "1", *FAST]) == 0
    weights = json.loads((out / "metrics.json").read_text())["class_weights"]
    weight = torch.tensor([weights["no_jim_crow"], weights["jim_crow"]])
    assert weight[1] > 1.5 * weight[0]  # 30% positives: the weights differ enough to tell the losses apart
    assert loss_spy, "the Trainer computed no training loss"
    differs = 0
    for logits, labels, loss in loss_spy:
        expected = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
        assert loss.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-6)
        unweighted = torch.nn.functional.cross_entropy(logits, labels)
        differs += abs(unweighted.item() - expected.item()) > 1e-3
    assert differs >= len(loss_spy) // 2  # most batches: the weighted loss is not the plain one


def test_the_threshold_and_the_validation_loss_are_the_saved_models(trainer_module, tiny_models, tmp_path):
    """The threshold is tuned on the validation rows of the model saved, and the loss reported for its epoch is the
    class-weighted cross-entropy of that model's validation windows: the loss it was trained on."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    t = trainer_module
    rows = make_rows(160, seed=5)
    data = write_csv(tmp_path / "laws.csv", rows)
    out = tmp_path / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert t.main([*argv, "--epochs", "3", *FAST[:-1], "3e-3"]) == 0  # a rate at which the tiny model learns
    where = read_splits(out)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    tuned = {}
    for part in ("validation", "test"):
        chosen = [r for r in rows if where[r["id"]] == part]
        probs = t.predict_probs(model, tokenizer, [joined(r) for r in chosen], 64, 16, 16)
        tuned[part] = t.named_thresholds([r["jim_crow"] for r in chosen], probs[:, 1])["f1"]
    assert abs(tuned["validation"] - tuned["test"]) > 1e-3  # otherwise this test could not tell
    decision = json.loads((out / "config.json").read_text())["decision_threshold"]
    assert decision == pytest.approx(tuned["validation"], abs=1e-6)
    metrics = json.loads((out / "metrics.json").read_text())
    val = [r for r in rows if where[r["id"]] == "validation"]
    windows = t.tokenize_windows(tokenizer, [joined(r) for r in val], 64, 16, [r["jim_crow"] for r in val])
    with torch.no_grad():
        logits = model(**tokenizer.pad({k: windows[k] for k in ("input_ids", "attention_mask")}, return_tensors="pt"))
    weight = torch.tensor([metrics["class_weights"][n] for n in ("no_jim_crow", "jim_crow")])
    loss = torch.nn.functional.cross_entropy(logits.logits, torch.tensor(windows["labels"]), weight=weight)
    kept = next(h for h in metrics["validation_history"] if h["epoch"] == metrics["best_epoch"])
    assert kept["loss"] == pytest.approx(loss.item(), rel=1e-4)


def test_a_score_exactly_on_the_threshold_is_flagged(trainer_module):
    t = trainer_module
    probs = np.array([[0.3, 0.7], [0.6, 0.4], [0.2, 0.8], [0.9, 0.1]])
    y = [1, 0, 1, 0]
    metrics = t.classification_metrics(y, probs, ["no", "yes"], threshold=0.7)
    assert metrics["confusion_matrix"] == [[2, 0], [0, 2]]  # the row scoring exactly 0.7 is flagged
    threshold = t.named_thresholds(y, probs[:, 1])["f1"]
    assert threshold == 0.7  # the highest threshold that flags both positives: F1 1.0 needs the row on it
    assert t.classification_metrics(y, probs, ["no", "yes"], threshold)["f1"] == 1.0


def test_the_run_reports_the_validation_f1_at_its_own_threshold(trainer_module, tiny_models, laws_csv, tmp_path):
    """The tuned threshold is one of the validation scores, so at least one validation row sits exactly on it: the
    F1 the tuner found must be the F1 the run reports for flagging every score >= the threshold."""
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--epochs", "1", *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    with (out / "predictions.csv").open(newline="") as f:
        val = [r for r in csv.DictReader(f) if r["split"] == "validation"]
    y = [int(r["true_label"] == "jim_crow") for r in val]
    scores = np.array([float(r["score_jim_crow"]) for r in val])
    threshold = trainer_module.named_thresholds(y, scores)["f1"]
    assert threshold == pytest.approx(metrics["threshold"]["value"], abs=1e-6)
    flagged, positive = scores >= threshold, np.array(y) == 1
    f1 = 2 * (flagged & positive).sum() / (flagged.sum() + positive.sum())  # flagging every score >= the threshold
    assert metrics["validation"]["f1"] == pytest.approx(f1, abs=1e-9) and f1 > 0


def test_the_epoch_is_chosen_on_the_validation_scores_the_run_reports(
    trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch
):
    """Validation is scored one way, each epoch and after training: the kept epoch's scores in the history are the
    final ones. Here the scoring path is made to score otherwise (its classes swapped, as far beyond what a lower
    precision would do): that must show in the history and in the final scores alike."""
    original = trainer_module.predict_probs

    def swapped(*a, **k):
        out = original(*a, **k)
        swap = np.fliplr  # the second class's probability where the first's was, and back
        return (swap(out[0]).copy(), swap(out[1]).copy(), out[2]) if k.get("return_windows") else swap(out).copy()

    monkeypatch.setattr(trainer_module, "predict_probs", swapped)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--epochs", "2", *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    kept = next(h for h in metrics["validation_history"] if h["epoch"] == metrics["best_epoch"])
    assert kept["f1"] == metrics["window_aggregation"]["validation_f1"]["max"]  # both at threshold 0.5
    assert kept["roc_auc"] == metrics["validation"]["roc_auc"] != 0.5  # no threshold: equal whatever it is
    assert kept["f1"] == max(h["f1"] for h in metrics["validation_history"])


@pytest.fixture
def step_counter(monkeypatch):
    """The optimizer steps each trainer.train() call really runs."""
    import transformers

    calls = []
    original = transformers.Trainer.training_step

    def count(self, *a, **k):
        calls[-1] += 1
        return original(self, *a, **k)

    original_train = transformers.Trainer.train

    def train(self, *a, **k):
        calls.append(0)
        return original_train(self, *a, **k)

    monkeypatch.setattr(transformers.Trainer, "training_step", count)
    monkeypatch.setattr(transformers.Trainer, "train", train)
    return calls


def test_resume_trains_only_the_remaining_steps(
    trainer_module, tiny_models, laws_csv, tmp_path, step_counter, killed_after_first_save
):
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    with pytest.raises(KilledJob):  # the job dies after epoch 1 of 3
        trainer_module.main([*argv, "--epochs", "3", *FAST])
    one_epoch = step_counter[-1]
    assert one_epoch > 0
    killed_after_first_save()  # undo: this time the job runs to its end
    assert trainer_module.main([*argv, "--epochs", "3", "--resume", *FAST]) == 0
    assert step_counter[-1] == 2 * one_epoch  # epochs 2 and 3 only
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["validation_history"]] == [1.0, 2.0, 3.0]
    # the counts cover the whole training, the epoch before the kill included: as much as a run never killed
    whole = tmp_path / "whole"
    assert trainer_module.main([*argv[:-1], str(whole), "--epochs", "3", *FAST]) == 0
    expected = json.loads((whole / "metrics.json").read_text())["training_tokens"]
    assert metrics["training_tokens"]["real"] == expected["real"]
    assert metrics["training_tokens"]["computed"] == expected["computed"]


def test_many_duplicate_groups_each_stay_in_one_split(trainer_module):
    t = trainer_module
    rows = make_rows(300, seed=2)
    for g in range(30):  # 30 planted groups of 3 identical sections, spread through the table
        text = f"That the acts numbered {g} and {g + 100} are repealed in group {g}."
        for member in range(3):
            rows[g + 90 * member]["section_text"] = text
    labels = [r["jim_crow"] for r in rows]

    class Table(dict):
        def __len__(self):
            return len(next(iter(self.values())))

    groups = t.duplicate_groups(Table(section=[r["section_text"] for r in rows]), ["section"])
    assert len({groups[g] for g in range(30)}) == 30
    for seed in range(5):
        split = t.grouped_split(labels, groups, 0.1, 0.1, seed=seed)
        where = {i: name for name, part in split.items() for i in part}
        for g in range(30):
            assert len({where[g + 90 * member] for member in range(3)}) == 1, (seed, g)
