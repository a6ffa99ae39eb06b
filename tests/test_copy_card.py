"""A copy of the training script for another task or dataset: its card holds only words written for that task and
that data. A copier edits the EDIT HERE blocks and nothing else; these tests do the same to a copy of the script."""

import importlib.util
import json
import logging
import random
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from conftest import NEGATIVE, POSITIVE, ROOT, SMOKE, make_rows, write_csv

KINDS = {  # a four-class column: the kind of law, each with words of its own
    "schools": "the school committee shall open the schoolhouse for the children of the district",
    "roads": "the road overseers shall keep the public roads and bridges of the township in repair",
    "taxes": "the commissioners may levy a special tax on the property of the county",
    "courts": "the clerk of the superior court shall keep the records of the court",
}


def kind_rows(n: int = 160) -> list[dict]:
    """The synthetic laws of conftest, with a `kind` column of four classes that the text gives away."""
    rng, rows = random.Random(3), make_rows(n, long_every=0)
    for i, row in enumerate(rows):
        kind = list(KINDS)[i % 4]
        row["kind"] = kind
        row["section_text"] = f"Section {i}. {KINDS[kind]}, and {rng.choice(POSITIVE + NEGATIVE)}."
    return rows


def copy_script(tmp_path, name: str, edits: list[tuple[str, str]]):
    """Copy train_modernbert.py (alone, as a copier would), apply regex edits to its EDIT HERE blocks, import it."""
    text = (ROOT / "train_modernbert.py").read_text()
    blocks_end = text.index("CARD_TEMPLATE_FILE = ")
    head, tail = text[:blocks_end], text[blocks_end:]
    for pattern, replacement in edits:
        head, n = re.subn(pattern, lambda _, new=replacement: new, head, count=1, flags=re.S | re.M)
        assert n == 1, pattern
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "train_copy.py"
    path.write_text(head + tail)
    spec = importlib.util.spec_from_file_location(f"copy_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(module, argv: list[str]) -> tuple[str, dict, dict]:
    """Train the copy for a smoke run, nothing pushed; its card, the card's metadata and metrics.json."""
    assert module.main([*argv, "--no-push", *SMOKE[:-2], "--max-samples", "120"]) == 0
    out = Path(argv[argv.index("--output-dir") + 1])
    card = (out / "README.md").read_text()
    return card, yaml.safe_load(card.split("---\n")[1]), json.loads((out / "metrics.json").read_text())


def task_words(task: dict) -> list[str]:
    """Every phrase a TASK_CARD puts on a card: its title, its sentences, its widget examples and its tags."""
    words = [task["title"], task["does"], task["labels"], *task["intended_use"], *task["limitations"]]
    return words + task["examples"] + task["tags"]


def dataset_words(about: dict) -> list[str]:
    return [about[k] for k in ("name", "about", "credit", "citation", "content_warning")]


NEW_TASK = """TASK_CARD = {
    "label_column": "kind",
    "title": "Kind-of-law classifier",
    "does": "says which of four kinds a section of a session law belongs to",
    "labels": "The kinds were assigned by the archive's cataloguers.",
    "intended_use": ["**Cataloguing**: a first sort of uncatalogued sections."],
    "limitations": ["Sections of several kinds get one kind only."],
    "examples": ["The clerk of the court shall keep the minutes."],
    "tags": ["law-kinds"],
}
"""


def test_a_copy_for_another_label_gets_none_of_the_old_task_words(trainer_module, tiny_models, tmp_path, caplog):
    """LABEL_COLUMN changed to a four-class column and nothing else: no word of TASK_CARD reaches the card, its
    metadata (widget, tags) or metrics.json; the card asks for them; the log says which block was left out."""
    data = write_csv(tmp_path / "laws.csv", kind_rows())
    copy = copy_script(tmp_path, "label", [(r'^LABEL_COLUMN = "jim_crow"', 'LABEL_COLUMN = "kind"')])
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "out")]
    with caplog.at_level(logging.INFO):
        card, meta, metrics = run(copy, argv)
    left_out = "TASK_CARD describes `jim_crow`; this run predicts `kind`: its words are left out"
    assert any(left_out in r.getMessage() for r in caplog.records)
    everything = card + json.dumps(metrics)
    assert metrics["labels"] == sorted(KINDS) and metrics["task"] is None
    for phrase in task_words(trainer_module.TASK_CARD):
        assert phrase not in everything, phrase
    assert "widget" not in meta and not set(trainer_module.TASK_CARD["tags"]) & set(meta["tags"])
    assert re.search(r"Jim Crow|Murray|Paschal|North Carolina|OCR", card) is None
    assert "<!-- Say what each label means" in card and "<!-- Fill in: how the labels were made" in card

    # the same copy with a TASK_CARD that names the new label: its words are there, the old ones still not
    copy = copy_script(
        tmp_path,
        "label_and_task",
        [(r'^LABEL_COLUMN = "jim_crow"', 'LABEL_COLUMN = "kind"'), (r"^TASK_CARD = \{.*?^\}\n", NEW_TASK)],
    )
    card, meta, metrics = run(copy, [*argv[:-1], str(tmp_path / "out2")])
    assert card.splitlines()[meta_lines(card)].startswith("# Kind-of-law classifier, fine-tuned from")
    assert "says which of four kinds" in card and "cataloguers" in card and "**Cataloguing**" in card
    assert [w["text"] for w in meta["widget"]] == ["The clerk of the court shall keep the minutes."]
    assert "law-kinds" in meta["tags"] and metrics["task"]["label_column"] == "kind"
    for phrase in task_words(trainer_module.TASK_CARD):
        assert phrase not in card + json.dumps(metrics), phrase


def meta_lines(card: str) -> int:
    """The line number of the card's title: the first line after the metadata that is not blank."""
    lines = card.splitlines()
    end = lines.index("---", 1)
    return next(i for i in range(end + 1, len(lines)) if lines[i].strip())


def test_a_task_card_for_the_label_but_another_positive_class_is_left_out(trainer_module, tiny_models, tmp_path):
    """`--positive-label no_jim_crow` flags the other class: the card's words (about flagging Jim Crow laws) would be
    false, so they are left out. `--label-names other,jim_crow` still flags `jim_crow`, the label TASK_CARD describes,
    though `other` sorts last."""
    t, data = trainer_module, write_csv(tmp_path / "laws.csv", make_rows(160))
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"])]
    flipped = t.parse_args([*argv, "--positive-label", "no_jim_crow"])
    task, _, left_out = t.card_words(flipped, ["jim_crow", "no_jim_crow"])
    assert task is None and left_out[0].startswith("TASK_CARD describes `jim_crow` flagging `jim_crow`; this run flags")
    assert t.card_words(t.parse_args(argv), ["no_jim_crow", "jim_crow"])[0] is t.TASK_CARD
    loaded = t.load_data(t.parse_args([*argv, "--label-names", "other,jim_crow"]), None)
    assert loaded.names == ["other", "jim_crow"] and loaded.facts["positive_label"] == "jim_crow"
    assert loaded.facts["positive_label_reason"].startswith("it is named as the label column")
    # a TASK_CARD that flags a label named otherwise: that label, though another sorts last
    task = {**t.TASK_CARD, "label_column": "flag", "positive_label": "yes"}
    args = t.parse_args(["--label-column", "flag"])
    with pytest.MonkeyPatch.context() as m:
        m.setattr(t, "TASK_CARD", task)
        labels, names, why = t.positive_class([0, 1], ["yes", "zzz"], args)
    assert (labels, names) == ([1, 0], ["zzz", "yes"]) and why.startswith("the label the task's description flags")
    rows = make_rows(160)
    assert [loaded.labels[i] for i in range(5)] == [rows[r]["jim_crow"] for r in loaded.rows[:5]]


DATASET_BLOCK = """DATASET_CARD = {
    "dataset": "town_laws.csv",
    "name": "Town laws of Smithfield",
    "about": "sections of the town's by-laws, labelled by the town archive's volunteers",
    "license": "cc-by-4.0",
    "credit": "Smithfield Town Archive (CC BY 4.0)",
    "citation": "@misc{smithfield, title = {Town laws of Smithfield}}",
    "content_warning": "Some by-laws use offensive language.",
    "language": "en",
    "tags": ["town-records"],
}
"""


def test_a_local_file_named_by_dataset_card_is_credited_and_another_name_is_not(
    trainer_module, tiny_models, tmp_path, caplog
):
    data = write_csv(tmp_path / "town_laws.csv", make_rows(160))
    copy = copy_script(
        tmp_path,
        "data",
        [
            (r'^DATASET_ID = "biglam/on_the_books"', f"DATASET_ID = {str(data)!r}"),
            (r"^DATASET_CARD = \{.*?^\}\n", DATASET_BLOCK),
        ],
    )
    about = copy.DATASET_CARD
    card, meta, metrics = run(copy, ["--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "out")])
    assert "Town laws of Smithfield, `town_laws.csv` (a local file): sections of the town's by-laws" in card
    assert "Licence CC-BY-4.0. Credit: Smithfield Town Archive (CC BY 4.0)." in card
    assert "Please credit the data: Smithfield Town Archive" in card and about["citation"] in card
    assert "> **Content warning.** Some by-laws use offensive language." in card
    assert meta["language"] == "en" and "town-records" in meta["tags"] and "datasets" not in meta  # not a Hub id
    assert metrics["dataset"] == {"id": "town_laws.csv", "on_hub": False, "about": about}
    assert "<!-- Fill in: where these texts come from" not in card
    for phrase in dataset_words(trainer_module.DATASET_CARD):
        assert phrase not in card, phrase
    assert not {"glam", "north-carolina"} & set(meta["tags"])

    # the same rows under another name: nobody is credited, the card asks, the log says why
    other = shutil.copy(data, tmp_path / "other.csv")
    with caplog.at_level(logging.INFO):
        card, meta, metrics = run(
            copy, ["--dataset", str(other), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "o2")]
        )
    assert "DATASET_CARD describes `town_laws.csv`; this run's data is" in caplog.text
    assert "<!-- Fill in: where these texts come from" in card and metrics["dataset"]["about"] is None
    for phrase in dataset_words(about):
        assert phrase not in card, phrase
    assert "language" not in meta and "town-records" not in meta["tags"]


def test_which_dataset_a_block_describes(trainer_module, tmp_path, monkeypatch):
    t = trainer_module
    monkeypatch.chdir(tmp_path)
    (tmp_path / "on_the_books").mkdir()  # a local folder named like the Hub dataset's last part
    (tmp_path / "mine.csv").write_text("a,b\n1,2\n")
    assert t.describes_dataset("biglam/on_the_books", "biglam/on_the_books")
    assert not t.describes_dataset("biglam/on_the_books", "on_the_books")  # a Hub id names no local folder
    assert not t.describes_dataset("biglam/on_the_books", "someone/on_the_books")
    assert t.describes_dataset("mine.csv", str(tmp_path / "mine.csv")) and t.describes_dataset(
        "data/mine.csv", "mine.csv"
    )
    assert t.describes_dataset("mine.csv", "elsewhere/mine.csv")  # a path is named by its last part (a missing one
    assert not t.describes_dataset("mine.csv", "elsewhere/other.csv")  # never gets this far: load_table refuses it)
    assert not t.describes_dataset(None, "mine.csv")


def test_the_dropped_column_sentence_fits_the_column(trainer_module, tiny_models, tmp_path):
    """A copy for `type` that keeps the other label out: `jim_crow` is "another label", not a column that tells who
    labelled a row; `source` keeps that sentence and its per-value table."""
    data = write_csv(tmp_path / "laws.csv", make_rows(160))
    copy = copy_script(
        tmp_path,
        "drop",
        [
            (r'^LABEL_COLUMN = "jim_crow"', 'LABEL_COLUMN = "type"'),
            (r"^DROP_COLUMNS = \{.*?\}", 'DROP_COLUMNS = {"source": "leak", "jim_crow": "label"}'),
        ],
    )
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "out")]
    card, _, metrics = run(copy, [*argv, "--positive-label", "public laws"])
    assert "  - `jim_crow`: kept out: it is another label of the same rows.\n" in card
    assert re.search(r"  - `source`: the rows labelled `public laws`, per value: paschal: \d+/\d+", card)
    assert "(who labelled a row, say) would let a model learn that" in card
    assert [(d["name"], d["why"]) for d in metrics["dropped_columns"]] == [("source", "leak"), ("jim_crow", "label")]


def test_a_copy_whose_task_card_names_no_such_threshold_stops_at_once(tiny_models, tmp_path, capsys):
    copy = copy_script(tmp_path, "typo", [(r'"threshold": \("recall_0\.98"', '"threshold": ("recall_0.97"')])
    with pytest.raises(SystemExit) as exit_info:
        copy.parse_args(["--model", str(tiny_models["bert"])])
    assert exit_info.value.code == 2
    assert "TASK_CARD's threshold 'recall_0.97' is not one of ['f1', 'recall_0.90'" in capsys.readouterr().err
