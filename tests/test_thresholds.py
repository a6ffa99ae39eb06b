"""Triage you can tune: named thresholds chosen on validation, shown on the card, used by predict.py; and the positive
class, which is explicit rather than whichever label sorts last."""

import csv
import json
import logging
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import import_script, make_rows, write_csv

FAST = ["--max-length", "64", "--stride", "16", "--batch-size", "8", "--learning-rate", "3e-3", "--epochs", "2"]


def read_predictions(out: Path) -> dict:
    """predictions.csv by split: (true label is positive, score of the positive label) per row."""
    with (out / "predictions.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    positive = json.loads((out / "config.json").read_text())["positive_label"]
    return {
        part: (
            np.array([r["true_label"] == positive for r in rows if r["split"] == part]),
            np.array([float(r[f"score_{positive}"]) for r in rows if r["split"] == part]),
        )
        for part in ("validation", "test")
    }


@pytest.fixture(scope="module")
def run(trainer_module, tiny_models, tmp_path_factory):
    """One run on synthetic data, big enough for the recall targets to differ, with held-out sources."""
    folder = tmp_path_factory.mktemp("thresholds")
    data = write_csv(folder / "laws.csv", make_rows(200, seed=3))
    out = folder / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--holdout-column", "source", *FAST]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_each_named_threshold_is_the_highest_that_reaches_its_recall_on_validation(run, trainer_module):
    out, metrics = run
    y, s = read_predictions(out)["validation"]
    for target in trainer_module.RECALL_TARGETS:
        t = metrics["thresholds"][f"recall_{target:.2f}"]["value"]
        assert (s[y] >= t).mean() >= target  # reaches the target ...
        higher = s[s > t]
        if len(higher):  # ... and the next score up does not: no higher threshold would do
            assert (s[y] >= higher.min()).mean() < target
    assert metrics["thresholds"]["f1"]["value"] == pytest.approx(trainer_module.named_thresholds(y, s)["f1"])


def test_the_threshold_table_equals_what_the_saved_predictions_give(run):
    out, metrics = run
    predictions = read_predictions(out)
    for name, row in metrics["thresholds"].items():
        for part in ("validation", "test"):
            y, s = predictions[part]
            hit = s >= row["value"]
            assert row[part]["precision"] == pytest.approx((y & hit).sum() / max(hit.sum(), 1), abs=1e-9), name
            assert row[part]["recall"] == pytest.approx((y & hit).sum() / y.sum(), abs=1e-9), name
            assert row[part]["flagged_per_1000"] == pytest.approx(1000 * hit.mean(), abs=1e-9), name
    config = json.loads((out / "config.json").read_text())
    assert config["decision_thresholds"] == {n: r["value"] for n, r in metrics["thresholds"].items()}
    # the jim_crow task is triage: TASK_CARD's recall threshold ships, the headline test scores stay at `f1`
    assert metrics["threshold"]["name"] == config["decision_threshold_name"] == "recall_0.98"
    assert config["decision_threshold"] == metrics["thresholds"]["recall_0.98"]["value"]
    y, s = predictions["test"]
    assert metrics["test"]["recall"] == pytest.approx((s[y] >= metrics["thresholds"]["f1"]["value"]).mean())


def test_the_card_shows_the_table_the_curve_and_the_held_out_recall(run):
    out, metrics = run
    card = (out / "README.md").read_text()
    assert (out / "pr_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](pr_curve.png)" in card and "**Choosing a threshold.**" in card
    for name, row in metrics["thresholds"].items():
        shipped = " (shipped)" if name == "recall_0.98" else ""
        v, t = row["validation"], row["test"]
        found = f"({v['found']} of {v['positives']})"  # the validation rows the recall rests on
        cells = [
            f"{row['value']:.4f}",
            f"{v['precision']:.3f}",
            f"{v['recall']:.3f} {found}",
            f"{t['precision']:.3f}",
            f"{t['recall']:.3f}",
            f"{t['flagged_per_1000']:.0f}",
        ]
        assert v["found"] == round(v["recall"] * v["positives"]) and v["positives"] == metrics["validation"]["n"] - sum(
            metrics["validation"]["confusion_matrix"][0]
        )
        held = [f"{g['recall_at'][name]:.3f}" for g in metrics["holdout"]["groups"]]
        assert f"| `{name}`{shipped} | " + " | ".join(cells + held) + " |" in card
    assert {g["value"] for g in metrics["holdout"]["groups"]} == {"paschal", "project experts"}


def test_the_card_renders_the_table_and_the_image_with_the_script_alone(trainer_module, run, tmp_path, monkeypatch):
    out, metrics = run
    monkeypatch.setattr(trainer_module, "__file__", str(tmp_path / "train_modernbert.py"))  # nothing beside it
    template, source = trainer_module.read_template(None)
    assert source == "embedded copy"
    assert trainer_module.render_card(metrics, template) == (out / "README.md").read_text()


def test_threshold_for_ships_the_named_threshold_and_scores_test_at_f1(trainer_module):
    """Scores where the named thresholds differ (a smoke run's often coincide): --threshold-for decides which one
    the model ships; the headline test scores are at `f1` whichever ships, to compare with the baseline."""
    y_val = [1] * 10 + [0] * 10
    val = np.r_[[0.9] * 8, 0.1, 0.15, np.linspace(0.2, 0.5, 10)]
    y_test, test = [1, 1, 0, 0], np.array([0.9, 0.12, 0.3, 0.05])
    probs = {"validation": np.c_[1 - val, val], "test": np.c_[1 - test, test]}
    shipped = {}
    for name in ("f1", "recall_0.95"):
        args = types.SimpleNamespace(threshold_for=name, seed=0)
        metrics = {}
        trainer_module.score_predictions(metrics, ["no", "yes"], {"validation": y_val, "test": y_test}, probs, args)
        shipped[name] = metrics["threshold"]["value"]
        assert shipped[name] == metrics["thresholds"][name]["value"] and metrics["threshold"]["name"] == name
        assert metrics["test"]["recall"] == 0.5  # at f1 (0.9): one of the two test positives
        assert metrics["thresholds"][name]["test"]["recall"] == sum(s >= shipped[name] for s in (0.9, 0.12)) / 2
    assert shipped == {"f1": 0.9, "recall_0.95": 0.1}


def test_threshold_for_chooses_the_shipped_threshold(trainer_module, tiny_models, laws_csv, tmp_path):
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--threshold-for", "recall_0.95", *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    chosen = metrics["thresholds"]["recall_0.95"]["value"]
    assert metrics["threshold"] == {
        "name": "recall_0.95",
        "value": chosen,
        "chosen_on": "validation",
        "why": "set with --threshold-for",
    }
    assert json.loads((out / "config.json").read_text())["decision_threshold"] == chosen
    y, s = read_predictions(out)["test"]
    assert metrics["test"]["recall"] == pytest.approx((s[y] >= metrics["thresholds"]["f1"]["value"]).mean())
    card = (out / "README.md").read_text()
    assert "**`recall_0.95` =" in card and "the one `predict.py` applies by default (set with --threshold-for)" in card


def test_a_triage_task_ships_a_recall_threshold_and_another_task_keeps_f1(trainer_module):
    """TASK_CARD declares the jim_crow task triage (a missed law costs more than one more to read): its recall
    threshold ships, named with why. A task it does not describe (another label) ships `f1`."""
    t = trainer_module
    assert t.TASK_CARD["threshold"][0].startswith("recall_")
    name, why = t.shipped_threshold(t.parse_args([]), ["no_jim_crow", "jim_crow"])
    assert (name, why) == t.TASK_CARD["threshold"] and "triage" in why
    other = t.parse_args(["--label-column", "type"])
    assert t.shipped_threshold(other, ["private laws", "public laws"]) == ("f1", "the best F1 on validation")
    flipped = t.parse_args(["--positive-label", "no_jim_crow"])  # the card's words (and its triage) do not apply
    assert t.shipped_threshold(flipped, ["jim_crow", "no_jim_crow"])[0] == "f1"


def test_predict_flags_exactly_the_rows_that_reach_a_named_threshold(run, tmp_path, caplog):
    out, metrics = run
    predict = import_script("predict.py")
    rows = make_rows(60, seed=9)
    data = write_csv(tmp_path / "corpus.csv", rows)
    labelled = tmp_path / "flagged.csv"
    caplog.set_level(logging.INFO, logger="predict")
    assert (
        predict.main(
            ["--model", str(out), "--dataset", str(data), "--output", str(labelled), "--threshold", "recall_0.95"]
        )
        == 0
    )
    with labelled.open(newline="") as f:
        result = list(csv.DictReader(f))
    t = metrics["thresholds"]["recall_0.95"]["value"]
    assert all(float(r["threshold"]) == pytest.approx(t) for r in result)
    assert [r["predicted_label"] == "jim_crow" for r in result] == [float(r["score"]) >= t for r in result]
    assert "`recall_0.95`, the highest threshold that still found 95% of the positive rows on validation" in caplog.text
    with pytest.raises(predict.UserError, match="names no such threshold. It names: f1, recall_0.90"):
        predict.main(
            [
                "--model",
                str(out),
                "--dataset",
                str(data),
                "--output",
                str(tmp_path / "x.csv"),
                "--threshold",
                "recall_0.50",
            ]
        )


# --- the positive class ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "names,flag,positive,why",
    [
        (["jim_crow", "not_jim_crow"], None, "jim_crow", "`not_jim_crow` is named as the negative"),
        (["no_jim_crow", "jim_crow"], None, "jim_crow", "`no_jim_crow` is named as the negative"),
        (["negative", "segregation"], None, "segregation", "`negative` is named as the negative"),
        (["clause", "act"], None, "clause", "it sorts last; choose with --positive-label"),
        (["jim_crow", "not_jim_crow"], "not_jim_crow", "not_jim_crow", "set with --positive-label"),
    ],
)
def test_the_positive_class_is_put_at_id_1_and_explained(trainer_module, names, flag, positive, why):
    args = trainer_module.parse_args([] if flag is None else ["--positive-label", flag])
    labels, ordered, reason = trainer_module.positive_class([0, 1, 1, 0], names, args)
    assert ordered[1] == positive and reason == why
    assert [ordered[y] for y in labels] == [names[y] for y in [0, 1, 1, 0]]  # every row keeps its label


def test_a_positive_label_that_is_not_a_label_is_refused(trainer_module):
    args = trainer_module.parse_args(["--positive-label", "yes"])
    with pytest.raises(trainer_module.UserError, match="--positive-label yes: not one of the labels"):
        trainer_module.positive_class([0, 1], ["a", "b"], args)


def test_labels_named_jim_crow_and_not_jim_crow_flag_the_jim_crow_rows(trainer_module, tiny_models, tmp_path):
    """Before: not_jim_crow sorted last and was treated as the positive class everywhere."""
    rows = make_rows(120)
    for r in rows:
        r["jim_crow"] = "jim_crow" if r["jim_crow"] else "not_jim_crow"
    data = write_csv(tmp_path / "named.csv", rows)
    out = tmp_path / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, *FAST]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == ["not_jim_crow", "jim_crow"] and metrics["positive_label"] == "jim_crow"
    positive = sum(r["jim_crow"] == "jim_crow" for r in rows)
    assert metrics["class_counts"] == {"not_jim_crow": len(rows) - positive, "jim_crow": positive}
    cm = metrics["test"]["confusion_matrix"]
    positives = sum(r["jim_crow"] == "jim_crow" for r in rows if r["id"] in read_test_ids(out))
    assert sum(cm[1]) == positives  # row 1 of the confusion matrix is the jim_crow rows
    card = (out / "README.md").read_text()
    assert "The positive label is `jim_crow` (`not_jim_crow` is named as the negative)" in card
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "not_jim_crow", "1": "jim_crow"} and config["positive_label"] == "jim_crow"


def read_test_ids(out: Path) -> set:
    with (out / "splits.csv").open(newline="") as f:
        return {r["id"] for r in csv.DictReader(f) if r["split"] == "test"}
