"""Tests that bite: claims that four planted bugs broke while the rest of the suite passed (issue 29).

- predict.py flags a score exactly on the threshold (>=, not >);
- the TF-IDF baseline learns from the training rows only: the test rows' labels never reach it;
- each named recall threshold is the highest that still reaches its target, not merely one that reaches it;
- a dropped column is recorded (card, metrics.json, log) and kept from the model for every input format.
"""

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from conftest import SMOKE, import_script, make_rows, write_csv


@pytest.fixture(scope="module")
def predict_module():
    return import_script("predict.py")


# --- 1. predict.py: a score exactly on the threshold is flagged ------------------------------------------------
def test_predict_labels_a_score_exactly_on_the_threshold_as_positive(predict_module):
    probs = np.array([[0.25, 0.75], [0.75, 0.25], [0.3, 0.7], [0.0, 1.0], [np.nan, np.nan]])
    added = predict_module.label_rows(probs, ["no_jim_crow", "jim_crow"], 0.75)
    assert added["predicted_label"] == ["jim_crow", "no_jim_crow", "no_jim_crow", "jim_crow", None]
    assert added["score"] == [0.75, 0.25, 0.7, 1.0, None]
    # the positive label at id 0: its probability is the score, and exactly 0.75 is flagged too
    added = predict_module.label_rows(probs, ["jim_crow", "no_jim_crow"], 0.75, positive=0)
    assert added["predicted_label"] == ["no_jim_crow", "jim_crow", "no_jim_crow", "no_jim_crow", None]


@pytest.fixture(scope="module")
def trained(trainer_module, tiny_models, tmp_path_factory):
    """One smoke run on CSV, and the rows it held out for validation."""
    folder = tmp_path_factory.mktemp("bite-run")
    rows = make_rows(80)
    data = write_csv(folder / "laws.csv", rows)
    out = folder / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, *SMOKE[:-2]]) == 0
    with (out / "splits.csv").open(newline="") as f:
        validation = {r["id"] for r in csv.DictReader(f) if r["split"] == "validation"}
    return out, [r for r in rows if r["id"] in validation]


def test_predict_flags_the_row_that_scores_exactly_the_threshold(predict_module, trained, tmp_path):
    """A threshold equal to a row's score flags that row. The named recall_0.95 is a validation score, so scoring the
    validation rows puts a row on it (where predict.py scores them as training did); then, whatever the device, a
    second pass at exactly one row's own score (the same rows give the same scores)."""
    import pyarrow.parquet as pq

    out, validation = trained
    data = write_csv(tmp_path / "validation.csv", validation)

    def label(threshold: str, name: str) -> dict:
        argv = ["--model", str(out), "--dataset", str(data), "--output", str(tmp_path / name), "--threshold"]
        assert predict_module.main([*argv, threshold]) == 0
        return pq.read_table(tmp_path / name).to_pydict()

    named = label("recall_0.95", "named.parquet")
    t = json.loads((out / "config.json").read_text())["decision_thresholds"]["recall_0.95"]
    assert [p == "jim_crow" for p in named["predicted_label"]] == [s >= t for s in named["score"]]
    scores = sorted(set(named["score"]))
    assert len(scores) >= 3
    on = scores[len(scores) // 2]  # a score with rows above and below it
    again = label(repr(on), "again.parquet")
    assert again["score"] == named["score"]
    flagged = {i for i, p in zip(again["id"], again["predicted_label"], strict=True) if p == "jim_crow"}
    exactly = {i for i, s in zip(again["id"], again["score"], strict=True) if s == on}
    assert exactly and exactly <= flagged  # the rows exactly on the threshold are flagged
    assert flagged == {i for i, s in zip(again["id"], again["score"], strict=True) if s >= on}


# --- 2. the TF-IDF baseline sees the training rows' labels, never the test rows' ---------------------------------
def test_the_baseline_gets_test_rows_wrong_when_their_words_mean_the_opposite_of_training(trainer_module):
    """Training and validation: `red` marks the positive rows, `blue` the negative. Test: the other way round. A
    baseline fitted on training rows scores test backwards (ROC-AUC near 0); one fitted on the test rows near 1."""
    texts, labels, split = [], [], {"train": [], "validation": [], "test": []}
    for part, n, positive_word in (("train", 40, "red"), ("validation", 20, "red"), ("test", 20, "blue")):
        for i in range(n):
            label = i % 2
            word = positive_word if label else ({"red": "blue", "blue": "red"}[positive_word])
            split[part].append(len(texts))
            texts.append(f"the {word} ledger of the county, entry {i}, is kept by the {word} clerk")
            labels.append(label)
    result = trainer_module.tfidf_baseline(texts, labels, split, ["no", "yes"], seed=0)
    assert result["train_rows"] == 40 and result["n"] == 20
    assert result["roc_auc"] < 0.1 and result["f1"] < 0.5


def test_the_baseline_predicts_the_same_test_rows_whatever_their_labels(trainer_module):
    """The test labels only score the baseline: flipping them swaps the confusion matrix's rows and changes nothing
    that was chosen (C, threshold)."""
    rows = make_rows(200)
    texts, labels = [r["section_text"] for r in rows], [r["jim_crow"] for r in rows]
    split = trainer_module.grouped_split(labels, list(range(200)), 0.15, 0.15, seed=0)
    flipped = list(labels)
    for i in split["test"]:
        flipped[i] = 1 - flipped[i]
    a = trainer_module.tfidf_baseline(texts, labels, split, ["no", "yes"], seed=0)
    b = trainer_module.tfidf_baseline(texts, flipped, split, ["no", "yes"], seed=0)
    assert (a["C"], a["threshold"]) == (b["C"], b["threshold"])
    assert b["confusion_matrix"] == a["confusion_matrix"][::-1]
    assert a["f1"] > 0.9 and b["f1"] < 0.1


# --- 3. each named recall threshold is the highest that reaches its target ---------------------------------------
def recall_at(y: np.ndarray, s: np.ndarray, t: float) -> float:
    return float((s[y == 1] >= t).mean())


def highest_reaching(y: np.ndarray, s: np.ndarray, target: float) -> float:
    """By brute force: the highest validation score that, as a threshold, still finds the target share."""
    return max(t for t in set(s.tolist()) if recall_at(y, s, t) >= target)


def validation_scores(case: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    if case == "40 positives, distinct":
        pos, neg = rng.uniform(0.2, 1.0, 40), rng.uniform(0.0, 0.8, 60)
    elif case == "20 positives, targets land exactly":  # 18/20 = 0.90 and 19/20 = 0.95 exactly
        pos, neg = np.linspace(0.3, 0.99, 20), rng.uniform(0.0, 0.6, 30)
    elif case == "25 positives, ties at the targets":  # ranks 21-24 tied, and a negative on the same score
        pos = np.r_[np.linspace(0.95, 0.6, 20), [0.5] * 4, 0.1]
        neg = np.r_[rng.uniform(0.0, 0.7, 40), 0.5]
    elif case == "100 positives, several between targets":
        pos, neg = rng.uniform(0.1, 1.0, 100), rng.uniform(0.0, 0.9, 150)
    else:  # coarse scores: many ties everywhere
        pos, neg = rng.integers(3, 21, 60) / 20, rng.integers(0, 15, 80) / 20
    y = np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]
    order = rng.permutation(len(y))
    return y[order], np.r_[pos, neg][order]


CASES = [
    "40 positives, distinct",
    "20 positives, targets land exactly",
    "25 positives, ties at the targets",
    "100 positives, several between targets",
    "60 positives, coarse scores",
]


@pytest.mark.parametrize("case", CASES)
def test_each_named_recall_threshold_is_the_highest_that_reaches_its_target(trainer_module, case):
    y, s = validation_scores(case)
    named = trainer_module.named_thresholds(y, s)
    for target in trainer_module.RECALL_TARGETS:
        t = named[f"recall_{target:.2f}"]
        assert t in s  # one of the validation scores
        assert recall_at(y, s, t) >= target, target  # it reaches the target ...
        higher = s[s > t]
        assert len(higher), target  # (these cases always have a score above)
        assert recall_at(y, s, higher.min()) < target, target  # ... and one step up misses it
        assert t == highest_reaching(y, s, target)
    values = [named[f"recall_{target:.2f}"] for target in trainer_module.RECALL_TARGETS]
    assert values == sorted(values, reverse=True)  # a higher target never takes a higher threshold


def test_the_recall_thresholds_differ_where_the_positives_between_targets_do(trainer_module):
    y, s = validation_scores("100 positives, several between targets")
    named = trainer_module.named_thresholds(y, s)
    positives = np.sort(s[y == 1])[::-1]
    assert [named[f"recall_{t:.2f}"] for t in (0.90, 0.95, 0.98)] == [positives[89], positives[94], positives[97]]
    assert len({named["recall_0.90"], named["recall_0.95"], named["recall_0.98"], positives[-1]}) == 4


def test_the_threshold_table_reports_the_highest_threshold_per_target(trainer_module):
    """Through score_predictions, what metrics.json and the card are made from."""
    import types

    y, s = validation_scores("40 positives, distinct")
    probs = {"validation": np.c_[1 - s, s], "test": np.c_[1 - s, s]}
    metrics = {}
    args = types.SimpleNamespace(threshold_for="recall_0.95", seed=0)
    trainer_module.score_predictions(metrics, ["no", "yes"], {"validation": y, "test": y}, probs, args)
    for target in trainer_module.RECALL_TARGETS:
        row = metrics["thresholds"][f"recall_{target:.2f}"]
        assert row["value"] == highest_reaching(y, s, target)
        assert target <= row["validation"]["recall"] < target + 1 / y.sum() + 1e-9  # not one positive more
    assert metrics["threshold"]["value"] == highest_reaching(y, s, 0.95)


# --- 4. the dropped column, for every input format -------------------------------------------------------------
def write_table(fmt: str, folder: Path, rows: list[dict]) -> Path:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "csv":
        return write_csv(folder / "laws.csv", rows)
    if fmt == "tsv":
        with (path := folder / "laws.tsv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
            writer.writeheader()
            writer.writerows(rows)
        return path
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pylist(rows), path := folder / "laws.parquet")
        return path
    if fmt == "json":
        (path := folder / "laws.json").write_text(json.dumps(rows))
        return path
    if fmt == "jsonl":
        (path := folder / "laws.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path
    if fmt == "save_to_disk":
        datasets.Dataset.from_list(rows).save_to_disk(str(path := folder / "saved"))
        return path
    if fmt == "save_to_disk splits":  # a DatasetDict: its splits are pooled
        half = len(rows) // 2
        parts = {"train": rows[:half], "test": rows[half:]}
        datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in parts.items()}).save_to_disk(
            str(path := folder / "saved_dict")
        )
        return path
    assert fmt == "folder of files"
    (path := folder / "files").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path / "laws.parquet")
    return path


FORMATS = ["csv", "tsv", "parquet", "json", "jsonl", "save_to_disk", "save_to_disk splits", "folder of files"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_dropped_column_is_recorded_and_never_seen_in_every_input_format(
    trainer_module, tiny_models, tmp_path, monkeypatch, caplog, fmt
):
    rows = make_rows(80)
    data = write_table(fmt, tmp_path, rows)
    seen = []  # every text the model or the baseline gets
    tokenize, baseline = trainer_module.tokenize_windows, trainer_module.tfidf_baseline
    monkeypatch.setattr(
        trainer_module,
        "tokenize_windows",
        lambda tok, texts, *a, **k: seen.extend(texts) or tokenize(tok, texts, *a, **k),
    )
    monkeypatch.setattr(
        trainer_module, "tfidf_baseline", lambda texts, *a, **k: seen.extend(texts) or baseline(texts, *a, **k)
    )
    caplog.set_level(logging.INFO, logger="train")
    out = tmp_path / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, *SMOKE[:-2]]) == 0  # all 80 rows

    shares = []
    for value in ("paschal", "project experts"):
        hits = [r["jim_crow"] for r in rows if r["source"] == value]
        shares.append({"value": value, "count": len(hits), "positive": sum(hits), "share": sum(hits) / len(hits)})
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"]["used"] == 80
    assert metrics["dropped_columns"] == [{"name": "source", "why": "leak", "shares": shares}]
    p, e = shares
    card = (out / "README.md").read_text()
    assert "- **Columns removed before anything else**, so the model never sees them:" in card
    assert (
        f"  - `source`: the rows labelled `jim_crow`, per value: paschal: {p['positive']}/{p['count']} (100%); "
        f"project experts: {e['positive']}/{e['count']} ({100 * e['share']:.0f}%)."
    ) in card
    assert (
        "Dropped column 'source' before anything else: the model never sees it "
        f"(it gives the label away; paschal: {p['positive']}/{p['count']} jim_crow; "
        f"project experts: {e['positive']}/{e['count']} jim_crow)"
    ) in caplog.text
    # the column never reaches the input: no text the model or the baseline got holds its values
    assert len(seen) >= 80 and all(t.startswith("CHAPTER ") for t in seen)
    assert not any("paschal" in t or "project experts" in t for t in seen)
