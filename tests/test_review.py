"""The review loop: predict.py --review writes the rows a person should label next (the model's least sure, plus a
uniform random sample, each with its evidence); the training scripts take them back with --add-labels, train on the
uncertain ones and measure the model on the random ones, apart from the test split."""

import csv
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SMOKE, import_script, make_rows, write_csv
from test_predict import save_variant, threshold_between_scores

COLLECTION = 200  # rows in the synthetic collection


@pytest.fixture(scope="module")
def pr():
    return import_script("predict.py")


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """A collection to label: the synthetic laws without their label column; ids law_0000 to law_0199."""
    rows = [{k: v for k, v in r.items() if k != "jim_crow"} for r in make_rows(COLLECTION)]
    return write_csv(tmp_path_factory.mktemp("review-data") / "collection.csv", rows)


@pytest.fixture(scope="module")
def trained(pr, tiny_models, collection, tmp_path_factory):
    """A tiny model as the training script leaves it: a tuned threshold (about half the rows flagged), metrics.json
    naming its label and id columns, and splits.csv naming the rows it was trained on (law_0000 to law_0029)."""
    folder = tmp_path_factory.mktemp("review-model")
    probe = folder / "probe.csv"
    assert pr.main(["--model", str(tiny_models["bert"]), "--dataset", str(collection), "--output", str(probe)]) == 0
    scores = np.array([float(r["score"]) for r in read(probe)])
    model = save_variant(
        tiny_models["bert"],
        folder / "model",
        threshold=threshold_between_scores(scores),
        metrics={"label_column": "jim_crow", "id_column": "id", "text_columns": ["chapter_text", "section_text"]},
    )
    write_csv(model / "splits.csv", [{"row": i, "id": f"law_{i:04d}", "split": "train"} for i in range(30)])
    return model


def read(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def text_of(row: dict) -> str:
    return "\n\n".join(row[c] for c in ("chapter_text", "section_text") if row[c])


def logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def test_the_queue_is_the_least_sure_rows_spread_out_plus_a_uniform_sample_with_evidence(
    pr, trained, collection, tmp_path
):
    out = tmp_path / "out" / "flagged.csv"
    argv = ["--model", str(trained), "--dataset", str(collection), "--output", str(out), "--review", "30"]
    assert pr.main([*argv, "--review-random", "8"]) == 0
    queue, scored = read(out.parent / "review.csv"), {r["id"]: r for r in read(out)}
    assert len(queue) == 30 and [r["review_reason"] for r in queue].count("random") == 8
    assert list(queue[0])[:3] == ["jim_crow", "id", "source"]  # the label to fill in comes first, empty
    assert all(r["jim_crow"] == "" for r in queue)
    ids = [r["id"] for r in queue]
    assert len(set(ids)) == 30 and not set(ids) & {f"law_{i:04d}" for i in range(30)}  # already labelled: not queued
    for r in queue:  # each row is the collection's own, with the score the output gave it
        assert r["score"] == scored[r["id"]]["score"] and r["section_text"] == scored[r["id"]]["section_text"]
        assert r["evidence_sentence"] and r["evidence_sentence"] in text_of(r)
        assert not r["evidence_window"] or r["evidence_window"] in text_of(r)
        assert bool(r["evidence_window"]) == (len(text_of(r)) > 600)  # only a long row (several windows) names one

    # the uncertain rows: nearest the threshold in log-odds, a text met already passed over while others are left
    threshold = float(queue[0]["threshold"])
    distance = {i: abs(logit(float(r["score"])) - logit(threshold)) for i, r in scored.items()}
    uncertain = [r["id"] for r in queue if r["review_reason"] == "uncertain"]
    words = {i: " ".join(re.findall(r"[a-z]+", text_of(r).lower())) for i, r in scored.items()}
    queued_words = {words[i] for i in ids}
    farthest = max(distance[i] for i in uncertain)
    eligible = [i for i in scored if i not in ids and int(i[4:]) >= 30]
    assert all(distance[i] >= farthest or words[i] in queued_words for i in eligible)
    nearest = sorted((i for i in scored if int(i[4:]) >= 30), key=distance.get)[:60]  # its candidates: 2 x --review
    if len({words[i] for i in uncertain}) < len(uncertain):  # a text twice: only once every candidate text is in
        assert {words[i] for i in nearest} <= queued_words

    # the random rows are no block of the first rows (or of the nearest): spread over the collection
    drawn = sorted(int(r["collection_row"]) for r in queue if r["review_reason"] == "random")
    assert drawn[-1] - drawn[0] > COLLECTION // 3 and not set(drawn) <= set(range(30, 38))

    # review.csv is the user's once written: the same command again stops before a row is scored
    with pytest.raises(pr.UserError, match=r"--review: .*review.csv already exists"):
        pr.main([*argv[:5], str(out.parent / "again.csv"), *argv[6:]])


def test_evidence_is_the_rows_own_best_window_and_sentence(pr, trained):
    """A long law whose one discriminatory clause sits at its end: the window and the sentence that hold it."""
    from types import SimpleNamespace

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, tokenizer = (
        AutoModelForSequenceClassification.from_pretrained(trained),
        AutoTokenizer.from_pretrained(trained),
    )
    clause = "That separate waiting rooms shall be kept for the white and colored races."
    text = "The board shall meet on the first monday of each month. " * 30 + clause
    plan = SimpleNamespace(tokenizer=tokenizer, max_length=64, stride=16, threshold=0.5, positive=1)
    scorer = SimpleNamespace(model=model, batch_size=8)
    evidence = pr.review_evidence(scorer, plan, [text, clause])
    sentences = pr.split_sentences(text)
    assert sentences[-1] == clause and len(sentences) == 31
    windows = pr.window_texts(tokenizer, [text], 64, 16)
    assert len(windows) > 5 and all(w in text for w in windows) and text.endswith(windows[-1])
    best_window, only_window = evidence["evidence_window"]
    assert best_window in windows and only_window == ""  # a text of one window: the text itself is the evidence
    assert evidence["evidence_sentence"] == [
        clause if evidence["evidence_sentence"][0] == clause else sentences[0],
        clause,
    ]
    import torch

    with torch.no_grad():  # the sentence chosen scores highest when each is scored alone
        alone = torch.softmax(
            model(**tokenizer(sentences[:2] + [clause], return_tensors="pt", padding=True)).logits, -1
        )
    best = max(range(3), key=lambda i: alone[i, 1])
    assert evidence["evidence_sentence"][0] == (sentences[:2] + [clause])[best]
    assert evidence["evidence_sentence_score"][0] == pytest.approx(float(alone[best, 1]), abs=1e-5)


def candidates_of(sizes: list[int], rng) -> list[tuple[pd.DataFrame, int]]:
    """Per slice, what review_candidates keeps for the random part: every row, with its place in a random order."""
    out, start = [], 0
    for size in sizes:
        order = rng.permutation(size)
        out.append(
            (
                pd.DataFrame(
                    {
                        "collection_row": np.arange(start, start + size),
                        "_review_random_rank": np.argsort(order),
                        "_review_distance": rng.random(size),
                        "_review_text_key": [f"text {start + i}" for i in range(size)],
                        "_review_nearest": True,
                    }
                ),
                size,
            )
        )
        start += size
    return out


def test_the_random_part_is_a_uniform_sample_of_the_whole_collection_over_slices(pr):
    """Slices of 40, 100 and 60 rows: over 3,000 queues each row is drawn with the same chance, 20 in 200."""
    rng, trials, seen = np.random.default_rng(1), 3000, np.zeros(200)
    for seed in range(trials):
        queue = pr.choose_review(candidates_of([40, 100, 60], rng), n_uncertain=5, n_random=20, seed=seed)
        drawn = queue[queue["review_reason"] == "random"]["collection_row"]
        assert len(drawn) == 20 and len(queue) == 25
        seen[drawn.to_numpy()] += 1
    share = seen / trials
    sd = np.sqrt(0.1 * 0.9 / trials)
    assert np.abs(share - 0.1).max() < 5 * sd  # each row: ~0.1; "the first 20 rows" would give 1 and 0
    for lo, hi in ((0, 40), (40, 140), (140, 200)):  # each slice its share, whatever its size
        assert abs(share[lo:hi].mean() - 0.1) < 0.01


def test_the_uncertain_part_fills_up_with_repeated_texts_only_when_distinct_ones_run_out(pr):
    frame = pd.DataFrame(
        {
            "collection_row": range(6),
            "_review_random_rank": [-1] * 6,
            "_review_distance": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "_review_text_key": ["a", "a", "b", "a", "c", "b"],
            "_review_nearest": [True] * 5 + [False],  # the last: a random-order candidate only, never "uncertain"
        }
    )
    queue = pr.choose_review([(frame, 6)], n_uncertain=4, n_random=0)
    assert sorted(queue["collection_row"]) == [0, 1, 2, 4]  # a, b, c first (nearest of each), then the nearest repeat


def test_slices_upload_candidates_and_finalize_chooses_the_queue_over_the_whole_collection(
    pr, folder_hub, trained, collection, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(trained), "--dataset", str(collection), "--output-dataset", "me/flagged"]
    flags += ["--shard-size", "50", "--num-shards", "2", "--review", "20", "--review-random", "6"]
    for i in range(2):
        assert pr.main([*flags, "--shard-index", str(i)]) == 0
    other = [*flags[:5], "me/other", *flags[6:10]]  # the same slices, without --review
    for i in range(2):
        assert pr.main([*other, "--shard-index", str(i)]) == 0
    files = folder_hub.files("me/flagged")
    assert {f"slices/slice-0000{i}-of-00002.review.parquet" for i in range(2)} <= set(files)
    assert "review.csv" not in files
    monkeypatch.setattr(pr, "load_model", lambda *a: pytest.fail("--finalize loaded the weights"))
    assert pr.main([*flags, "--finalize"]) == 0
    queue = read(folder_hub.folder("me/flagged") / "review.csv")
    assert len(queue) == 20 and [r["review_reason"] for r in queue].count("random") == 6
    rows = sorted(int(r["collection_row"]) for r in queue)
    assert rows[0] < 100 <= rows[-1]  # from both slices
    assert all(r["evidence_sentence"] in text_of(r) for r in queue)
    card = (folder_hub.folder("me/flagged") / "README.md").read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert {"config_name": "review", "data_files": [{"split": "train", "path": "review.csv"}]} in meta["configs"]
    assert "`review.csv` holds 20 rows for a person to label (14 that the model is least sure of" in card
    with pytest.raises(pr.UserError, match=r"slices 0 and 1 of 2 uploaded no review candidates: rerun their jobs"):
        pr.main([*other, "--review", "20", "--finalize"])


# --------------------------------------------------------------------------------------------------------------
# Labels back in: train_modernbert.py --add-labels
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """The dataset (the first 160 synthetic laws) and a reviewed file of 60 other laws: every third drawn at random,
    the rest uncertain, every tenth label left empty, labels written as a reviewer might (1, 0, jim_crow)."""
    folder = tmp_path_factory.mktemp("add-labels")
    rows = make_rows(220)
    dataset = write_csv(folder / "laws.csv", rows[:160])
    reviewed = []
    for i, r in enumerate(rows[160:]):
        label = "" if i % 10 == 9 else ("jim_crow" if r["jim_crow"] and i % 4 == 0 else r["jim_crow"])
        reviewed.append(
            {
                "jim_crow": label,
                **{k: v for k, v in r.items() if k != "jim_crow"},
                "review_reason": "random" if i % 3 == 0 else "uncertain",
            }
        )
    return dataset, write_csv(folder / "review.csv", reviewed), rows[160:]


def train(trainer_module, tiny_models, dataset, out, *extra):
    argv = ["--model", str(tiny_models["bert"]), "--dataset", str(dataset), "--output-dir", str(out), "--no-push"]
    return trainer_module.main([*argv, *SMOKE[:-2], *extra])


def test_reviewed_rows_train_or_measure_and_the_card_counts_them(trainer_module, tiny_models, labelled, tmp_path):
    dataset, review, truth = labelled
    out = tmp_path / "out"
    assert train(trainer_module, tiny_models, dataset, out, "--add-labels", str(review)) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    random_ids = {r["id"] for i, r in enumerate(truth) if i % 3 == 0 and i % 10 != 9}
    uncertain_ids = {r["id"] for i, r in enumerate(truth) if i % 3 and i % 10 != 9}
    assert metrics["review"] == {
        "files": ["review.csv"],
        "rows": 54,
        "random": len(random_ids),
        "uncertain": len(uncertain_ids),
        "trained_on": len(uncertain_ids),
        "measured": len(random_ids),
        "skipped_unlabelled": 6,
        "left_out_shared_text": 0,
    }
    splits = {}
    for r in read(out / "splits.csv"):
        splits.setdefault(r["split"], set()).add(r["id"])
    assert splits["collection"] == random_ids and uncertain_ids <= splits["train"]
    assert not (random_ids | uncertain_ids) & (splits["validation"] | splits["test"])  # those stay the dataset's

    # the estimate: recomputed from the collection rows' scores in predictions.csv and the shipped threshold
    scored = [r for r in read(out / "predictions.csv") if r["split"] == "collection"]
    assert {r["id"] for r in scored} == random_ids
    threshold = metrics["threshold"]["value"]
    y = np.array([r["true_label"] == "jim_crow" for r in scored])
    hit = np.array([float(r["score_jim_crow"]) >= threshold for r in scored])
    estimate = metrics["collection"]
    assert estimate["rows"] == len(scored) and estimate["positives"] == y.sum() and estimate["flagged"] == hit.sum()
    assert estimate["found"] == (y & hit).sum() and estimate["threshold"] == metrics["threshold"]["name"]
    assert estimate["recall"] == pytest.approx((y & hit).sum() / y.sum())
    if hit.sum():
        assert estimate["precision"] == pytest.approx((y & hit).sum() / hit.sum())
    from scipy.stats import binomtest

    exact = binomtest(int((y & hit).sum()), int(y.sum())).proportion_ci(0.95, method="exact")
    assert estimate["intervals_95"]["recall"] == pytest.approx([exact.low, exact.high])
    truth_labels = {r["id"]: r["jim_crow"] for r in truth}
    assert all((r["true_label"] == "jim_crow") == bool(truth_labels[r["id"]]) for r in scored)

    card = (out / "README.md").read_text()
    assert f"54 rows labelled by a person after `predict.py --review`: {len(random_ids)} drawn at random" in card
    assert "6 reviewed rows with an empty label were skipped" in card
    assert f"the {len(random_ids)} reviewed rows drawn at random from the collection" in card
    assert f"| Recall | {estimate['recall']:.3f} | {exact.low:.3f} – {exact.high:.3f} |" in card


@pytest.mark.parametrize(
    "change, message",
    [
        (
            "repeat",
            r"--add-labels: 2 reviewed row\(s\) are already in the dataset or in an earlier --add-labels file "
            r"\(law_0003, law_0004\)",
        ),
        ("unknown", r"--add-labels: 1 reviewed label\(s\) are none of the dataset's .*: law_0161: 'maybe'"),
    ],
)
def test_a_reviewed_row_already_in_the_dataset_or_with_an_unknown_label_is_refused_by_id(
    trainer_module, tiny_models, labelled, tmp_path, monkeypatch, change, message
):
    dataset, review, _ = labelled
    rows = read(review)
    if change == "repeat":
        rows[0]["id"], rows[1]["id"] = "law_0003", "law_0004"
    else:
        rows[1]["jim_crow"] = "maybe"
    edited = write_csv(tmp_path / "edited.csv", rows)
    monkeypatch.setattr(trainer_module, "load_model", lambda *a: pytest.fail("loaded the model before refusing"))
    with pytest.raises(trainer_module.UserError, match=message):
        train(trainer_module, tiny_models, dataset, tmp_path / "out", "--add-labels", str(edited))
    with pytest.raises(trainer_module.UserError, match=r"already in the dataset or in an earlier --add-labels file"):
        train(trainer_module, tiny_models, dataset, tmp_path / "out2", "--add-labels", f"{review},{review}")


def test_add_labels_flags_are_checked_at_once(trainer_module, tmp_path, capsys):
    with pytest.raises(SystemExit):
        trainer_module.parse_args(["--add-labels", str(tmp_path / "nowhere.csv")])
    assert "--add-labels: no such file" in capsys.readouterr().err
    (tmp_path / "r.csv").write_text("id\n")
    with pytest.raises(SystemExit):
        trainer_module.parse_args(["--add-labels", str(tmp_path / "r.csv"), "--holdout-column", "source"])
    assert "run it without --add-labels" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["train_modernbert.py", "train_roberta.py", "predict.py", "explore_dataset.py"])
def test_help_answers_at_once_and_gives_every_default(script):
    """--help loads no heavy library (torch, transformers, datasets) and every flag's help ends with its default (an
    argparse % in a help text, such as "20% of", would break --help itself)."""
    import subprocess
    import sys

    from conftest import ROOT

    code = "import runpy, sys; sys.argv = [sys.argv[1], '--help']\ntry:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
    code += "except SystemExit:\n    pass\nprint('HEAVY', sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / script)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.rstrip().endswith("HEAVY []")
    options = done.stdout.split("options:", 1)[1].split("\nEnvironment")[0]
    entries = [" ".join(e.split()) for e in re.split(r"\n  (?=-)", options) if e.strip().startswith("-")]
    assert len(entries) > 5
    assert [e for e in entries if not re.search(r"\(default|no default\)", e) and not e.startswith("-h")] == []


def test_a_reviewed_row_sharing_a_text_with_a_test_row_is_left_out_and_still_listed(trainer_module):
    """Reviewed rows never reach validation or test; an uncertain one whose text a test row shares is not trained on,
    and splits.csv still lists it (as left_out), so that the next queue does not offer it again."""
    from types import SimpleNamespace

    t = trainer_module
    labels, groups = [i % 2 for i in range(40)], list(range(40))
    args = SimpleNamespace(validation_size=0.2, test_size=0.2, seed=7)
    test_row = t.grouped_split(labels, groups, 0.2, 0.2, 7)["test"][0]
    origin = ["dataset"] * 40 + ["uncertain", "uncertain", "random", "added"]
    data = t.Data(
        texts=[f"text {i}" for i in range(44)],
        labels=labels + [1, 0, 1, 0],
        names=["no", "yes"],
        ids=[str(i) for i in range(44)],
        groups=groups + [test_row, 40, 41, 42],  # row 40 shares the test row's text
        holdout=None,
        facts={"review": {}},
        origin=origin,
    )
    split = t.split_rows(data, args, 7)
    assert split["left_out"] == [40] and split["collection"] == [42]
    assert {41, 43} <= set(split["train"]) and not {40, 41, 42, 43} & set(split["validation"] + split["test"])
    assert {k: split[k] for k in ("train", "validation", "test")} == {
        k: sorted(v) for k, v in t.grouped_split(labels, groups, 0.2, 0.2, 7).items() if k != "train"
    } | {"train": sorted(t.grouped_split(labels, groups, 0.2, 0.2, 7)["train"] + [41, 43])}
    assert data.facts["review"] == {"left_out_shared_text": 1, "trained_on": 2, "measured": 1}

    # a random row whose text a training row holds measures nothing; an uncertain row sharing a random row's text is
    # not trained on (it would be tested on after training)
    train_row = t.grouped_split(labels, groups, 0.2, 0.2, 7)["train"][0]
    data.groups = groups + [train_row, 40, 41, 41]
    data.origin = ["dataset"] * 40 + ["random", "uncertain", "random", "uncertain"]
    split = t.split_rows(data, args, 7)
    assert split["collection"] == [42] and split["left_out"] == [40, 43] and 41 in split["train"]


def test_review_flags_that_cannot_work_are_refused_at_once(pr, capsys):
    argv = ["--model", "m", "--dataset", "d.csv", "--output", "out.csv", "--review", "10", "--num-shards", "2"]
    with pytest.raises(SystemExit):
        pr.parse_args([*argv, "--shard-index", "0"])
    assert "--review with --num-shards needs --output-dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        pr.parse_args([*argv[:6], "--review-random", "3"])
    assert "--review-random is a part of --review" in capsys.readouterr().err


def test_finalize_refuses_a_bigger_queue_than_the_slices_prepared_and_the_repo_keeps_its_review(
    pr, folder_hub, trained, collection, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    flags = ["--model", str(trained), "--dataset", str(collection), "--output-dataset", "me/q", "--max-samples", "60"]
    for i in range(2):
        assert pr.main([*flags, "--num-shards", "2", "--review", "10", "--shard-index", str(i)]) == 0
    with pytest.raises(pr.UserError, match=r"the slices prepared candidates for a smaller queue \(8 uncertain, 2"):
        pr.main([*flags, "--num-shards", "2", "--review", "30", "--finalize"])
    # one run into a repo that holds an earlier review.csv: refused unless --overwrite, which deletes it first
    single = [
        "--model",
        str(trained),
        "--dataset",
        str(collection),
        "--output-dataset",
        "me/one",
        "--max-samples",
        "40",
    ]
    assert pr.main([*single, "--review", "6"]) == 0
    assert "review.csv" in folder_hub.files("me/one")
    with pytest.raises(pr.UserError, match="already holds"):
        pr.main([*single, "--review", "6"])
    assert pr.main([*single, "--overwrite"]) == 0
    assert "review.csv" not in folder_hub.files("me/one")  # this run wrote no queue: no earlier queue is left


def test_a_review_file_that_cannot_be_used_is_refused_with_its_name(trainer_module, tiny_models, labelled, tmp_path):
    dataset, review, _ = labelled
    rows = read(review)
    empty = write_csv(tmp_path / "empty.csv", [{**r, "jim_crow": ""} for r in rows])
    with pytest.raises(trainer_module.UserError, match=r"no reviewed row has a label in jim_crow \(60 left empty\)"):
        train(trainer_module, tiny_models, dataset, tmp_path / "o1", "--add-labels", str(empty))
    no_id = write_csv(tmp_path / "no_id.csv", [{k: v for k, v in r.items() if k != "id"} for r in rows])
    with pytest.raises(trainer_module.UserError, match=rf"--add-labels {re.escape(str(no_id))}: no column id"):
        train(trainer_module, tiny_models, dataset, tmp_path / "o2", "--add-labels", str(no_id))


def test_a_random_sample_without_positives_reports_recall_as_unknown_not_zero(trainer_module):
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    metrics = {"threshold": {"name": "f1", "value": 0.5}}
    none_positive = trainer_module.score_collection([0, 0, 0], probs, ["no", "yes"], metrics, seed=0)
    assert none_positive["recall"] is None and none_positive["f1"] is None
    assert none_positive["intervals_95"]["recall"] is None and none_positive["precision"] == 0.0
    none_flagged = trainer_module.score_collection([1, 0, 0], probs[[0, 0, 2]], ["no", "yes"], metrics, seed=0)
    assert none_flagged["precision"] is None and none_flagged["recall"] == 0.0 and none_flagged["flagged"] == 0
    assert "these rows" in none_flagged["intervals_95_method"]["f1"]


def test_a_multi_class_sample_gets_the_exact_interval_of_its_accuracy_only(trainer_module):
    from scipy.stats import binomtest

    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    scored = trainer_module.score_collection([0, 1, 2, 1, 2], probs, ["a", "b", "c"], {}, seed=0)
    exact = list(binomtest(4, 5).proportion_ci(0.95, method="exact"))  # 4 of 5 rows right
    assert scored["accuracy"] == 0.8 and scored["intervals_95"] == {"accuracy": pytest.approx(exact)}
    assert "threshold" not in scored and "found" not in scored
