"""The model card: rendered from a run's record without training; valid metadata; true for the run; no placeholders."""

import copy
import re

import pytest
import yaml
from conftest import ROOT

TEST = {
    "f1": 0.9412,
    "precision": 0.9231,
    "recall": 0.96,
    "accuracy": 0.9659,
    "roc_auc": 0.9901,
    "macro_f1": 0.95,
    "confusion_matrix": [[122, 4], [2, 48]],
    "n": 176,
    "intervals_95": {"f1": [0.897, 0.976], "precision": [0.85, 0.99], "recall": [0.9, 1.0], "accuracy": [0.94, 0.99]},
    "intervals_95_method": {
        "f1": "percentile bootstrap, 1000 resamples of the test rows",
        "precision": "exact binomial (Clopper-Pearson)",
        "recall": "exact binomial (Clopper-Pearson)",
        "accuracy": "exact binomial (Clopper-Pearson)",
    },
}
VAL_AT_F1 = {"precision": 0.96, "recall": 0.95, "flagged_per_1000": 280.0}
TEST_AT_F1 = {"precision": 0.9231, "recall": 0.96, "flagged_per_1000": 295.5}
HISTORY = [
    {
        "epoch": 1.0,
        "training_loss": 0.52,
        "loss": 0.31,
        "f1": 0.91,
        "precision": 0.9,
        "recall": 0.92,
        "accuracy": 0.95,
        "roc_auc": 0.98,
    },
    {
        "epoch": 2.0,
        "training_loss": 0.27,
        "loss": 0.22,
        "f1": 0.95,
        "precision": 0.94,
        "recall": 0.96,
        "accuracy": 0.97,
        "roc_auc": 0.99,
    },
]


@pytest.fixture(scope="module")
def record(trainer_module):
    """A record as build_record makes it, for a binary run on the Hub dataset with the script's task."""
    t = trainer_module
    return {
        "title": "Jim Crow law classifier, fine-tuned from answerdotai/ModernBERT-base",
        "repo_id": "someone/on-the-books-jim-crow-modernbert",
        "base_model": {
            "id": "answerdotai/ModernBERT-base",
            "on_hub": True,
            "type": "modernbert",
            "preset": "modernbert",
            "license": "apache-2.0",
            "citation": t.PRESETS["modernbert"]["citation"],
        },
        "dataset": {"id": "biglam/on_the_books", "on_hub": True, "about": t.DATASET_CARD},
        "task": t.TASK_CARD,
        "text_columns": ["chapter_text", "section_text"],
        "label_column": "jim_crow",
        "labels": ["no_jim_crow", "jim_crow"],
        "dropped_columns": [
            {
                "name": "source",
                "shares": [
                    {"value": "murray", "count": 38, "positive": 35, "share": 35 / 38},
                    {"value": "paschal", "count": 74, "positive": 74, "share": 1.0},
                ],
            }
        ],
        "rows": {
            "used": 1785,
            "dropped_empty_or_unlabelled": 0,
            "max_samples": None,
            "duplicate_groups": 170,
            "rows_in_duplicate_groups": 487,
            "longer_than_one_window": 31,
        },
        "class_counts": {"no_jim_crow": 1273, "jim_crow": 512},
        "id_column": "id",
        "split_sizes": {"train": 1435, "validation": 174, "test": 176},
        "hyperparameters": {
            "epochs": 4,
            "learning_rate": 5e-05,
            "batch_size": 16,
            "warmup": 0.1,
            "weight_decay": 0.01,
            "adam_betas": [0.9, 0.98],
            "adam_epsilon": 1e-06,
            "max_length": 1024,
            "stride": 256,
            "seed": 42,
            "validation_size": 0.1,
            "test_size": 0.1,
        },
        "class_weights": {"no_jim_crow": 0.7012, "jim_crow": 1.7421},
        "validation_history": HISTORY,
        "best_epoch": 2.0,
        "window_aggregation": {"used": "max", "validation_f1": {"max": 0.95, "mean": 0.94}},
        "validation": {**TEST, "f1": 0.9555},
        "test": TEST,
        "training_tokens": {
            "real": 1000,
            "computed": 1071,
            "padding_efficiency": 0.934,
            "real_tokens_per_second": 5000,
        },
        "baseline": {"f1": 0.8812, "precision": 0.85, "recall": 0.91, "accuracy": 0.93, "roc_auc": 0.97},
        "environment": {
            "hardware": "NVIDIA L4",
            "versions": {"transformers": "5.24.0", "torch": "2.15.0"},
            "precision": "bf16",
            "attention": "sdpa",
            "processes": 1,
            "effective_batch_size": 16,
            "card_template": "model_card_template.md",
        },
        "command": "hf jobs uv run --flavor l4x1 --secrets HF_TOKEN train_modernbert.py",
        "seeds": None,
        "holdout": None,
        "positive_label": "jim_crow",
        "positive_label_reason": "`no_jim_crow` is named as the negative",
        "threshold": {"name": "f1", "value": 0.6131, "chosen_on": "validation"},
        "thresholds": {
            "f1": {"value": 0.6131, "validation": VAL_AT_F1, "test": TEST_AT_F1},
            "recall_0.95": {"value": 0.6131, "validation": VAL_AT_F1, "test": TEST_AT_F1},
            "recall_0.98": {
                "value": 0.2011,
                "validation": {"precision": 0.81, "recall": 0.98, "flagged_per_1000": 345.0},
                "test": {"precision": 0.8, "recall": 0.98, "flagged_per_1000": 352.3},
            },
        },
        "test_at_default_threshold": {**TEST, "f1": 0.9302, "recall": 0.9, "intervals_95": None},
        "errors": {"count": 6, "file": "errors.csv"},
        "timings": {"data_load": 2.0, "model_load": 12.0, "training": 61.2, "wall": 201.3},
    }


REQUIRED_META = {
    "base_model",
    "datasets",
    "language",
    "license",
    "library_name",
    "pipeline_tag",
    "tags",
    "metrics",
    "model-index",
    "widget",
}
SECTIONS = [
    "## What it does",
    "## How to use it",
    "## Intended use and out of scope",
    "## Training data",
    "## Evaluation",
    "## Training procedure",
    "## Reproduction",
    "## Limitations, bias and ethics",
    "## Citation",
]
PLACEHOLDERS = re.compile(r"\{\{|\}\}|\{%|More information needed|TODO|\[More Information", re.I)
THRESHOLD_WORDS = re.compile(r"threshold|flag|positive|most positive window", re.I)


@pytest.fixture(scope="module")
def template():
    return (ROOT / "model_card_template.md").read_text()


def split_card(card: str):
    """The metadata, and the body as one line of words (the template wraps its paragraphs at 120 columns)."""
    _, front, body = card.split("---\n", 2)
    return yaml.safe_load(front), " ".join(body.split())


def multiclass(record: dict) -> dict:
    """The same record for a three-class run on a local file, with a label column the script knows nothing of."""
    r = copy.deepcopy(record)
    for key in ("threshold", "thresholds", "positive_label", "positive_label_reason", "test_at_default_threshold"):
        del r[key]
    names = ["courts", "roads", "schools"]
    per_class = {
        n: {"precision": 0.9, "recall": 0.8 + 0.05 * i, "f1": 0.85, "support": 20} for i, n in enumerate(names)
    }
    scores = {"macro_f1": 0.85, "macro_precision": 0.9, "macro_recall": 0.85, "weighted_f1": 0.86, "accuracy": 0.87}
    r.update(
        title="Text classifier: courts, roads, schools",
        labels=names,
        label_column="topic",
        id_column=None,  # rows without an id: the card's code numbers them
        task=None,
        dataset={"id": "laws.csv", "on_hub": False, "about": None},
        dropped_columns=[],
        class_counts={n: 60 for n in names},
        validation_history=[{"epoch": 1.0, "loss": 0.9, **scores, "roc_auc": 0.9}],
        best_epoch=1.0,
        test={
            **scores,
            "roc_auc": 0.93,
            "confusion_matrix": [[16, 2, 2], [1, 17, 2], [1, 1, 18]],
            "n": 60,
            "per_class": per_class,
        },
        baseline={**scores, "macro_f1": 0.7, "roc_auc": 0.8},
    )
    r["base_model"] = {
        **r["base_model"],
        "id": "tiny-bert",
        "on_hub": False,
        "type": "bert",
        "preset": "default",
        "license": None,
        "citation": None,
    }
    return r


def test_card_metadata_is_complete_and_valid(trainer_module, template, record):
    from huggingface_hub import ModelCard, ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    card = trainer_module.render_card(record, template)
    meta, _ = split_card(card)
    assert REQUIRED_META <= set(meta)
    assert meta["language"] == "en" and meta["library_name"] == "transformers"
    assert set(trainer_module.DATASET_CARD["tags"]) | set(trainer_module.TASK_CARD["tags"]) | {"modernbert"} <= set(
        meta["tags"]
    )
    assert meta["base_model"] == "answerdotai/ModernBERT-base" and meta["datasets"] == ["biglam/on_the_books"]
    assert meta["license"] == "apache-2.0"
    parsed = ModelCard(card)  # huggingface_hub's own offline parsing
    assert isinstance(parsed.data, ModelCardData)
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "on-the-books-jim-crow-modernbert"
    assert {r.metric_type: r.metric_value for r in results} == {
        k: round(TEST[k], 4) for k in ("f1", "precision", "recall", "accuracy", "roc_auc")
    }
    assert {r.dataset_type for r in results} == {"biglam/on_the_books"} and all(
        "test" in r.dataset_split for r in results
    )
    ModelCardData(**meta, ignore_metadata_errors=False)  # raises on malformed metadata
    assert [w["text"] for w in meta["widget"]] == trainer_module.TASK_CARD["examples"]  # invented, not dataset rows


def test_card_has_every_section_in_order_and_no_placeholder(trainer_module, template, record):
    _, body = split_card(trainer_module.render_card(record, template))
    positions = [body.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert not PLACEHOLDERS.search(body), PLACEHOLDERS.search(body)
    assert "<!--" not in body  # the script knows this dataset and this task: nothing for the owner to fill in
    assert "Content warning" in body and trainer_module.DATASET_CARD["credit"] in body
    for r in (record, multiclass(record)):  # sections left out leave no run of blank lines outside code
        prose = re.sub(r"```.*?```", "CODE", trainer_module.render_card(r, template), flags=re.S)
        assert "\n\n\n" not in prose


def test_card_numbers_are_the_run_numbers(trainer_module, template, record):
    _, body = split_card(trainer_module.render_card(record, template))
    for value in ("0.941", "0.923", "0.960", "0.966", "0.990", "0.897 – 0.976", "0.881", "0.930"):
        assert value in body, value
    assert (
        "THRESHOLD = 0.6131" in body
        and "**`f1` = 0.6131**" in body
        and "the one `predict.py` applies by default; the test results above are at `f1`" in body
    )
    assert "The positive label is `jim_crow` (`no_jim_crow` is named as the negative)" in body
    assert "| `f1` (shipped) | 0.6131 | 0.960 | 0.950 | 0.923 | 0.960 | 296 |" in body
    assert "| `recall_0.98` | 0.2011 | 0.810 | 0.980 | 0.800 | 0.980 | 352 |" in body
    assert "![Precision and recall on validation and test" in body and "(pr_curve.png)" in body
    assert "| no_jim_crow | 122 | 4 |" in body and "| jim_crow | 2 | 48 |" in body
    assert "1435 train, 174 validation, 176 test" in body
    assert "`source`: the rows labelled `jim_crow`, per value: murray: 35/38 (92%); paschal: 74/74 (100%)." in body
    assert "| 2.0* | 0.2700 | 0.2200 | 0.950 |" in body
    assert "`no_jim_crow` 0.701, `jim_crow` 1.742" in body
    assert "6 of 176 test rows were misclassified" in body and "31 of 1785 texts" in body
    assert "487 rows in 170 groups" in body
    assert "hf jobs uv run --flavor l4x1 --secrets HF_TOKEN train_modernbert.py" in body
    assert "NVIDIA L4; precision bf16; attention sdpa" in body and "93% of the tokens computed" in body
    assert (
        "| batch size | 16 (16 per process × 1 process) |" in body
        and "warmup 10% of the steps" in body
        and "betas 0.9, 0.98" in body
    )
    assert "warner2024modernbert" in body and "onthebooks" in body


def test_each_number_on_the_card_comes_from_its_own_split_and_threshold(trainer_module, template, record):
    """Validation, test, and test at 0.5 all differ here: a sentence that read the wrong one would show it."""
    r = copy.deepcopy(record)
    r["validation"]["recall"] = 0.9
    r["test_at_default_threshold"].update(precision=0.8123, accuracy=0.9512)
    _, body = split_card(trainer_module.render_card(r, template))
    assert "| F1 | 0.941 | 0.897 – 0.976 | 0.930 | 0.881 |" in body  # this model, interval, at 0.5, baseline
    assert "| Precision | 0.923 | 0.850 – 0.990 | 0.812 | 0.850 |" in body
    assert "| Accuracy | 0.966 | 0.940 – 0.990 | 0.951 | 0.930 |" in body
    assert "At the shipped threshold (`f1`), recall on the test split is 0.96: about 4 in 100 `jim_crow` texts" in body


def test_optional_sections_appear_only_with_their_data(trainer_module, template, record):
    _, plain = split_card(trainer_module.render_card(record, template))
    assert "Across" not in plain and "Held-out" not in plain
    r = copy.deepcopy(record)
    r["seeds"] = {
        "n": 3,
        "seeds": [42, 43, 44],
        "summary": {"f1": {"mean": 0.95, "std": 0.01, "values": [0.94, 0.95, 0.96]}},
    }
    r["holdout"] = {
        "column": "source",
        "groups": [
            {
                "value": "paschal",
                "rows": 74,
                "positives": 74,
                "summary": "recall 0.730 (54 of 74 flagged)",
                "recall_at": {"f1": 0.73, "recall_0.95": 0.73, "recall_0.98": 0.9},
            }
        ],
    }
    r["baseline"] = None
    r["test"] = {**TEST, "intervals_95": None}
    _, body = split_card(trainer_module.render_card(r, template))
    assert "Across 3 seeds" in body and "0.950 ± 0.010" in body and "0.94, 0.95, 0.96" in body
    assert "| paschal | 74 | 74 | recall 0.730 (54 of 74 flagged) |" in body
    assert "Recall, `paschal` held out |" in body and "| 0.2011 | 0.810 | 0.980 | 0.800 | 0.980 | 352 | 0.900 |" in body
    assert "TF-IDF" not in body and "95% interval" not in body
    assert not PLACEHOLDERS.search(body)


def test_a_three_class_card_on_a_local_file_speaks_of_no_threshold_and_asks_the_owner(trainer_module, template, record):
    r = multiclass(record)
    meta, body = split_card(trainer_module.render_card(r, template))
    assert "widget" not in meta and "datasets" not in meta and "license" not in meta and "base_model" not in meta
    assert not {"jim-crow", "legal"} & set(meta["tags"])
    assert "Jim Crow" not in body and "On the Books" not in body and "separate schools" not in body
    words = THRESHOLD_WORDS.search(body)
    assert words is None, body[max(0, words.start() - 200) : words.end() + 100]
    assert "| Macro F1 | 0.850 |" in body and "| Weighted F1 | 0.860 |" in body and "| courts | 0.900 | 0.800 |" in body
    assert "Macro averages weigh every class equally" in body
    assert "from 0.80 to 0.90 on the test split" in body
    prompts = re.findall(r"<!-- (.*?) -->", body)
    assert len(prompts) >= 4 and any("how the labels were made" in p for p in prompts)
    assert any("licence" in p for p in prompts)
    assert not PLACEHOLDERS.search(body)
    meta_names = {m["type"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert meta_names == {"macro_f1", "macro_precision", "macro_recall", "weighted_f1", "accuracy", "roc_auc"}
    blocks = re.findall(r"```python\n(.*?)```", trainer_module.render_card(r, template), re.S)
    assert len(blocks) == 2 and "name = n  # the row's number" in blocks[1]  # no id column: rows are numbered
    for block in blocks:
        compile(block, "card-block", "exec")


def test_a_three_class_card_shows_both_averages_per_epoch_and_prints_every_label(
    trainer_module, template, record, monkeypatch, capsys
):
    import transformers
    import transformers.pipelines

    card = trainer_module.render_card(multiclass(record), template)
    assert "| Macro F1 | Weighted F1 | Accuracy |" in card and "| 0.850 | 0.860 | 0.870 |" in card
    scores = (("courts", 0.2), ("roads", 0.5), ("schools", 0.3))

    def classifier(texts, **kw):
        return [[{"label": n, "score": s} for n, s in scores] for _ in texts]

    for module in (transformers, transformers.pipelines):  # the card's `from transformers import pipeline`
        monkeypatch.setattr(module, "pipeline", lambda *a, **kw: classifier)
    capsys.readouterr()
    exec(compile(re.findall(r"```python\n(.*?)```", card, re.S)[0], "card-block-0", "exec"), {})
    assert capsys.readouterr().out.strip() == "{'courts': 0.2, 'roads': 0.5, 'schools': 0.3}"


def test_a_smoke_run_and_a_model_below_the_baseline_are_said_on_the_card(trainer_module, template, record):
    r = copy.deepcopy(record)
    r["rows"] = {**r["rows"], "used": 200, "max_samples": 200}
    r["baseline"] = {**r["baseline"], "f1": 0.99}
    _, body = split_card(trainer_module.render_card(r, template))
    assert "**A smoke run.** This model was trained on a subset of 200 rows (`--max-samples 200`)" in body
    assert (
        "**This model scores below the TF-IDF baseline** on the test split (f1 0.941 against 0.990): do not use" in body
    )
    _, plain = split_card(trainer_module.render_card(record, template))
    assert "smoke run" not in plain and "below the TF-IDF" not in plain


def test_another_label_keeps_the_dataset_credit(trainer_module, template, record):
    """The dataset's credit depends on where the data came from, not on which column is the label."""
    r = copy.deepcopy(record)
    r.update(task=None, label_column="type")
    meta, body = split_card(trainer_module.render_card(r, template))
    assert meta["datasets"] == ["biglam/on_the_books"] and "legal" in meta["tags"] and "jim-crow" not in meta["tags"]
    assert trainer_module.DATASET_CARD["credit"] in body and "Content warning" in body
    assert "<!-- Fill in: how the labels were made" in body


def test_roberta_preset_names_roberta(roberta_module, template, record):
    r = copy.deepcopy(record)
    r["base_model"] = {
        "id": "FacebookAI/roberta-base",
        "on_hub": True,
        "type": "roberta",
        "preset": "roberta",
        "license": "mit",
        "citation": roberta_module.PRESETS["roberta"]["citation"],
    }
    meta, body = split_card(roberta_module.render_card(r, template))
    assert "roberta" in meta["tags"] and meta["license"] == "mit" and "liu2019roberta" in body


def test_card_for_another_base_model_cites_no_preset_paper(trainer_module, template, record):
    r = copy.deepcopy(record)
    r["base_model"] = {
        "id": "model",
        "on_hub": False,
        "type": "bert",
        "preset": "default",
        "license": None,
        "citation": None,
    }
    meta, body = split_card(trainer_module.render_card(r, template))
    assert "bert" in meta["tags"] and "modernbert" not in meta["tags"] and "license" not in meta
    assert "warner2024modernbert" not in body and "please cite it as its authors ask" in body
    assert "`model` (a local model folder)" in body


def test_template_falls_back_to_the_embedded_copy(trainer_module, tmp_path, monkeypatch):
    text, source = trainer_module.read_template(None)
    assert source == "model_card_template.md"
    monkeypatch.setattr(
        trainer_module, "__file__", str(tmp_path / "train_modernbert.py")
    )  # as in a job: nothing beside it
    text2, source2 = trainer_module.read_template(None)
    assert source2 == "embedded copy" and text2 == text
    with pytest.raises(trainer_module.UserError, match="no such file"):
        trainer_module.read_template(str(tmp_path / "missing.md"))


def test_a_broken_template_is_refused_before_training(trainer_module, tmp_path):
    broken = tmp_path / "card.md"
    broken.write_text("# {{ title }}\n\n{% if binary %}never closed\n")
    with pytest.raises(trainer_module.UserError, match="line 3"):
        trainer_module.read_template(str(broken))
