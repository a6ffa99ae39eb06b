"""The model card: rendered from a run's facts without training; valid metadata; no placeholders."""

import copy
import re

import pytest
import yaml
from conftest import ROOT

TEST = {"f1": 0.9412, "precision": 0.9231, "recall": 0.96, "accuracy": 0.9659, "roc_auc": 0.9901, "macro_f1": 0.95,
        "confusion_matrix": [[122, 4], [2, 48]], "n": 176,
        "intervals_95": {"f1": [0.897, 0.976], "precision": [0.85, 0.99], "recall": [0.9, 1.0], "accuracy": [0.94, 0.99]}}
FACTS = {
    "repo_id": "someone/on-the-books-jim-crow-modernbert", "title": "A title", "model_name": "ModernBERT-base",
    "architecture": "modernbert", "model_citation": "@misc{warner2024modernbert,\n  title = {Smarter, Better, Faster, Longer}\n}", "on_the_books": True, "binary": True,
    "base_model": "answerdotai/ModernBERT-base", "base_model_on_hub": True,
    "base_model_link": "[answerdotai/ModernBERT-base](https://huggingface.co/answerdotai/ModernBERT-base)",
    "dataset": "biglam/on_the_books", "dataset_on_hub": True, "dataset_url": "https://huggingface.co/datasets/biglam/on_the_books",
    "dataset_link": "[`biglam/on_the_books`](https://huggingface.co/datasets/biglam/on_the_books)",
    "text_columns": ["chapter_text", "section_text"], "label_column": "jim_crow", "label_names": ["no_jim_crow", "jim_crow"],
    "positive_label": "jim_crow", "negative_label": "no_jim_crow", "class_counts": {"no_jim_crow": 1273, "jim_crow": 512},
    "rows_used": 1785, "rows_dropped_empty": 0, "max_samples": None,
    "dropped_columns": [{"name": "source", "shares": [{"value": "murray", "count": 38, "positive": 35, "share": 35 / 38},
                                                      {"value": "paschal", "count": 74, "positive": 74, "share": 1.0}]}],
    "duplicate_groups": 170, "duplicate_rows": 487, "seed": 42, "split": {"train": 1435, "validation": 174, "test": 176},
    "test": TEST, "test_at_half": {**TEST, "f1": 0.9302, "recall": 0.9, "intervals_95": None}, "threshold": 0.6131,
    "threshold_validation_f1": 0.9555,
    "baseline": {"f1": 0.8812, "precision": 0.85, "recall": 0.91, "accuracy": 0.93, "roc_auc": 0.97},
    "history": [{"epoch": 1.0, "loss": 0.31, "f1": 0.91, "precision": 0.9, "recall": 0.92, "accuracy": 0.95, "roc_auc": 0.98},
                {"epoch": 2.0, "loss": 0.22, "f1": 0.95, "precision": 0.94, "recall": 0.96, "accuracy": 0.97, "roc_auc": 0.99}],
    "best_epoch": 2.0, "errors_count": 6, "long_rows": 31, "max_length": 1024, "stride": 256, "aggregation": "max",
    "class_weights": {"no_jim_crow": 0.7012, "jim_crow": 1.7421}, "seeds": None, "holdout": None,
    "hyperparameters": {"epochs": 4, "learning rate": 5e-05}, "hardware": "NVIDIA L4", "precision": "bf16", "attention": "sdpa", "padding_efficiency": 0.934,
    "versions": {"transformers": "5.24.0", "torch": "2.15.0"}, "command": "uv run train_modernbert.py",
    "script_url": None, "wall_time": 201.3, "timings": {"training": 61.2, "model_load": 12.0},
}
REQUIRED_META = {"base_model", "datasets", "language", "license", "library_name", "pipeline_tag", "tags", "metrics", "model-index", "widget"}
SECTIONS = ["## What it does", "## How to use it", "## Intended use and out of scope", "## Training data", "## Evaluation",
            "## Training procedure", "## Reproduce", "## Limitations, bias and ethics", "## Citation"]
PLACEHOLDERS = re.compile(r"\{\{|\}\}|\{%|More information needed|TODO|\[More Information", re.I)


@pytest.fixture(scope="module")
def template():
    return (ROOT / "model_card_template.md").read_text()


def split_card(card: str):
    _, front, body = card.split("---\n", 2)
    return yaml.safe_load(front), body


def test_card_metadata_is_complete_and_valid(trainer_module, template):
    from huggingface_hub import ModelCard, ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    card = trainer_module.render_card(FACTS, template)
    meta, _ = split_card(card)
    assert REQUIRED_META <= set(meta)
    assert meta["language"] == "en" and meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-classification"
    assert set(trainer_module.DOMAIN_TAGS) | {"modernbert"} <= set(meta["tags"])
    assert meta["base_model"] == "answerdotai/ModernBERT-base" and meta["datasets"] == ["biglam/on_the_books"]
    # huggingface_hub's own offline parsing: the model-index round-trips into EvalResults
    parsed = ModelCard(card)
    assert isinstance(parsed.data, ModelCardData)
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "on-the-books-jim-crow-modernbert"
    got = {r.metric_type: r.metric_value for r in results}
    assert got == {k: round(TEST[k], 4) for k in ("f1", "precision", "recall", "accuracy", "roc_auc")}
    assert {r.dataset_type for r in results} == {"biglam/on_the_books"} and all("test" in r.dataset_split for r in results)
    ModelCardData(**meta, ignore_metadata_errors=False)  # raises on malformed metadata
    # widget sentences are the invented ones, not dataset rows
    assert [w["text"] for w in meta["widget"]] == trainer_module.WIDGET_EXAMPLES


def test_card_has_every_section_in_order_and_no_placeholder(trainer_module, template):
    _, body = split_card(trainer_module.render_card(FACTS, template))
    positions = [body.find(s) for s in SECTIONS]
    assert all(p >= 0 for p in positions) and positions == sorted(positions)
    assert not PLACEHOLDERS.search(body), PLACEHOLDERS.search(body)
    assert "Content warning" in body


def test_card_numbers_are_the_run_numbers(trainer_module, template):
    _, body = split_card(trainer_module.render_card(FACTS, template))
    for value in ("0.941", "0.923", "0.960", "0.966", "0.990", "0.897 – 0.976", "0.881", "0.930"):
        assert value in body, value
    assert "THRESHOLD = 0.6131" in body and "**0.6131**" in body
    assert "| no_jim_crow | 122 | 4 |" in body and "| jim_crow | 2 | 48 |" in body
    assert "1435 train, 174 validation, 176 test" in body
    assert "paschal: 74/74 jim_crow, 100%" in body and "murray: 35/38 jim_crow, 92%" in body
    assert "| 2.0* | 0.2200 | 0.950 |" in body
    assert "`no_jim_crow` 0.701, `jim_crow` 1.742" in body
    assert "6 of 176 test rows were misclassified" in body and "31 of 1785 texts" in body
    assert "487 rows in 170 groups" in body
    assert "uv run train_modernbert.py" in body and "NVIDIA L4" in body and "bf16" in body
    assert "attention sdpa; 93% of the tokens computed in training batches were real text" in body
    assert "warner2024modernbert" in body and "onthebooks" in body


def test_optional_sections_appear_only_with_their_data(trainer_module, template):
    _, plain = split_card(trainer_module.render_card(FACTS, template))
    assert "Across" not in plain and "Held-out" not in plain
    facts = copy.deepcopy(FACTS)
    facts["seeds"] = {"n": 3, "seeds": [42, 43, 44], "summary": {"f1": {"mean": 0.95, "std": 0.01, "values": [0.94, 0.95, 0.96]}}}
    facts["holdout"] = {"column": "source", "groups": [{"value": "paschal", "rows": 74, "positives": 74, "summary": "recall 0.730 (54 of 74 flagged)"}]}
    facts["baseline"] = None
    facts["test"] = {**TEST, "intervals_95": None}
    _, body = split_card(trainer_module.render_card(facts, template))
    assert "Across 3 seeds" in body and "0.950 ± 0.010" in body and "0.94, 0.95, 0.96" in body
    assert "| paschal | 74 | 74 | recall 0.730 (54 of 74 flagged) |" in body
    assert "TF-IDF" not in body and "95% interval" not in body
    assert not PLACEHOLDERS.search(body)


def test_generic_dataset_card_makes_no_jim_crow_claims(trainer_module, template):
    facts = copy.deepcopy(FACTS)
    facts.update(on_the_books=False, dataset="me/letters", dataset_link="`letters.csv`", dataset_on_hub=False, binary=False,
                 label_names=["a", "b", "c"], positive_label="c", negative_label="a", class_counts={"a": 5, "b": 5, "c": 5},
                 dropped_columns=[], threshold=0.5, test_at_half=None)
    facts["test"] = {**TEST, "confusion_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                     "per_class": {n: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1} for n in "abc"}}
    meta, body = split_card(trainer_module.render_card(facts, template))
    assert "jim-crow" not in meta["tags"] and "widget" not in meta and "datasets" not in meta
    assert "Jim Crow" not in body and "| a | 1.000 | 1.000 | 1.000 | 1 |" in body
    assert not PLACEHOLDERS.search(body)


def test_roberta_card_names_roberta(roberta_module, template):
    facts = {**FACTS, "base_model": "FacebookAI/roberta-base", "architecture": "roberta", "model_citation": roberta_module.MODEL_CITATION}
    meta, body = split_card(roberta_module.render_card(facts, template))
    assert "roberta" in meta["tags"] and meta["license"] == "mit" and "liu2019roberta" in body


def test_card_for_another_base_model_cites_no_preset_paper(trainer_module, template):
    facts = {**FACTS, "model_name": "all-MiniLM-L6-v2", "architecture": "bert", "model_citation": None}
    meta, body = split_card(trainer_module.render_card(facts, template))
    assert "bert" in meta["tags"] and "modernbert" not in meta["tags"]
    assert "warner2024modernbert" not in body and "please cite it as its authors ask" in body
    assert "| all-MiniLM-L6-v2 (this model) |" in body


def test_template_falls_back_to_the_embedded_copy(trainer_module, tmp_path, monkeypatch):
    text, source = trainer_module.read_template(None)
    assert source.endswith("model_card_template.md")
    monkeypatch.setattr(trainer_module, "__file__", str(tmp_path / "train_modernbert.py"))  # as in an hf job: no file beside it
    text2, source2 = trainer_module.read_template(None)
    assert source2 == "embedded copy" and text2 == text
    with pytest.raises(trainer_module.UserError, match="no such file"):
        trainer_module.read_template(str(tmp_path / "missing.md"))
