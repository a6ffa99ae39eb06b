"""What the hostile trial found in training (issue "What the hostile trial found"), case by case.

Each refusal exits 2 with a message that says what was found and what to do; those about flags or folders come
before the data or a model is loaded, those about the data before a model is loaded.
"""

import csv
import json
import os
import shutil

import pytest
from conftest import SMOKE, KilledJob, import_script, make_rows, write_csv


@pytest.fixture(scope="module")
def explore():
    return import_script("explore_dataset.py")


@pytest.fixture
def no_model_loaded(trainer_module, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(trainer_module, "load_model", forbidden)


@pytest.fixture
def nothing_loaded(trainer_module, no_model_loaded, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("the data was loaded before the flags and the folder were checked")

    monkeypatch.setattr(trainer_module, "load_table", forbidden)


@pytest.fixture
def refused(trainer_module, tiny_models, laws_csv, capsys):
    """Run the script with these flags (a tiny model and the synthetic data unless given); return its message."""

    def run(*argv, dataset=None):
        base = ["--dataset", str(dataset or laws_csv), "--model", str(tiny_models["bert"]), "--no-push"]
        with pytest.raises(SystemExit) as exit_info:
            trainer_module.entry_point([*base, *SMOKE, *argv])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "Traceback" not in err, err[-2000:]
        return " ".join(err.split())

    return run


def explore_refuses(explore, *argv) -> str:
    with pytest.raises(explore.UserError) as refusal:
        explore.main([*argv, "--output", "report.json"])
    return " ".join(str(refusal.value).split())


def labelled(labels: list[str], n: int = 120) -> list[dict]:
    """The synthetic rows with their 1/0 label replaced: labels[0] for positives, labels[1] for negatives; every
    other row of each class spelled with labels[2] or labels[3] when they are given."""
    rows = make_rows(n)
    for i, r in enumerate(rows):
        spelling = i // 10 % 2 * 2 if len(labels) > 2 else 0
        r["answer"] = labels[spelling + (0 if r["jim_crow"] else 1)]
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- 1. labels that differ only by case or spaces ------------------------------------------------------------
def test_labels_spelled_two_ways_are_refused_in_training_and_in_explore(refused, no_model_loaded, explore, tmp_path):
    data = write_csv(tmp_path / "answers.csv", labelled(["Yes", "No", "yes ", "no"]))
    err = refused("--label-column", "answer", "--drop-columns", "source,jim_crow", dataset=data)
    assert "the labels 'No' and 'no'; 'Yes' and 'yes ' differ only by case or spaces" in err
    assert "Spell each class one way in the file" in err
    err = explore_refuses(explore, "--dataset", str(data), "--label-column", "answer")
    assert "'Yes' and 'yes ' differ only by case or spaces" in err


# --- 2. an empty label is no label, in training as in explore ----------------------------------------------------
def test_empty_labels_are_missing_in_training_and_in_explore(trainer_module, explore, tmp_path):
    rows = labelled(["yes", "no"])
    for r in rows[::12]:
        r["answer"] = ""  # "" in JSON: no label
    data = write_jsonl(tmp_path / "answers.jsonl", rows)
    argv = ["--dataset", str(data), "--label-column", "answer", "--drop-columns", "source,jim_crow"]
    loaded = trainer_module.load_data(trainer_module.parse_args(argv), None)
    assert loaded.names == ["no", "yes"]  # not a class ""
    assert loaded.facts["rows"]["dropped_empty_or_unlabelled"] == loaded.facts["rows"]["empty_labels"] == 10
    assert explore.main([*argv[:4], "--output", "report.json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["labels"]["missing"] == 10 and [c["label"] for c in report["labels"]["classes"]] == ["no", "yes"]


def test_a_class_label_of_minus_one_is_missing_not_the_last_class(trainer_module, explore, tmp_path):
    """datasets writes -1 in a ClassLabel column for "no label"; Python's [-1] would read it as the last name."""
    import datasets

    rows = make_rows(120)
    labels = [-1 if i % 12 == 0 else r["jim_crow"] for i, r in enumerate(rows)]
    features = datasets.Features(
        {
            "section_text": datasets.Value("string"),
            "chapter_text": datasets.Value("string"),
            "flag": datasets.ClassLabel(names=["keep", "skip"]),
        }
    )
    columns = {"section_text": [r["section_text"] for r in rows], "chapter_text": [r["chapter_text"] for r in rows]}
    datasets.Dataset.from_dict({**columns, "flag": labels}, features=features).save_to_disk(tmp_path / "saved")
    argv = ["--dataset", str(tmp_path / "saved"), "--label-column", "flag"]
    loaded = trainer_module.load_data(trainer_module.parse_args(argv), None)
    assert loaded.facts["rows"]["dropped_empty_or_unlabelled"] == 10 and len(loaded.labels) == 110
    assert loaded.facts["class_counts"] == {"keep": sum(y == 0 for y in labels), "skip": sum(y == 1 for y in labels)}
    assert explore.main([*argv, "--output", "report.json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["labels"]["missing"] == 10


# --- 3. a header that names a column twice -------------------------------------------------------------------
def test_a_duplicated_header_is_refused_naming_the_columns(refused, no_model_loaded, explore, tmp_path):
    rows = make_rows()
    data = tmp_path / "twice.csv"
    lines = ["id,section_text,jim_crow,section_text"]
    lines += [f"{r['id']},{r['chapter_text']},{r['jim_crow']},{r['section_text']}" for r in rows]
    data.write_text("\n".join(lines) + "\n")
    expected = "the header names a column more than once: 'section_text' (columns 2, 4)"
    assert expected in refused("--text-columns", "section_text", dataset=data)
    assert expected in explore_refuses(explore, "--dataset", str(data), "--text-columns", "section_text")


def test_blank_trailing_header_cells_are_not_taken_for_a_column_named_twice(trainer_module, tmp_path):
    """A spreadsheet's export often ends its header in empty cells (`id,text,label,,`): the reader numbers them
    (`Unnamed: 3`), nothing is confused, and the file is read."""
    rows = make_rows(30)
    data = tmp_path / "export.csv"
    with data.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "section_text", "jim_crow", "", ""])
        writer.writerows([r["id"], r["section_text"], r["jim_crow"], "", ""] for r in rows)
    table = trainer_module.load_table(str(data))
    assert len(table) == 30 and table.column_names[:3] == ["id", "section_text", "jim_crow"]


# --- 6. a held-out column with a value per row ---------------------------------------------------------------
def test_a_holdout_column_with_too_many_or_too_small_groups_is_refused(refused, no_model_loaded):
    err = refused("--holdout-column", "id")
    assert "--holdout-column id: 80 values, 80 of them with fewer than 5 rows" in err
    assert "at most 20 values of at least 5 rows each" in err


# --- 7. a classifier's old task in config.json ---------------------------------------------------------------
def test_fine_tuning_a_classifier_keeps_nothing_of_its_old_task(trainer_module, tiny_models, tmp_path):
    folder = tmp_path / "two-class-classifier"
    shutil.copytree(tiny_models["bert"], folder)
    config = json.loads((folder / "config.json").read_text())
    old_task = {"positive_label": "jim_crow", "decision_threshold": 0.3, "decision_thresholds": {"f1": 0.3}}
    (folder / "config.json").write_text(json.dumps({**config, **old_task}))
    model, _ = trainer_module.load_model(str(folder), ["a", "b", "c", "d"], None)
    model.save_pretrained(tmp_path / "saved")
    assert not set(old_task) & set(json.loads((tmp_path / "saved" / "config.json").read_text()))


# --- 8. a column of lists as text ----------------------------------------------------------------------------
def test_a_list_column_is_refused_as_text(refused, no_model_loaded, explore, tmp_path):
    rows = make_rows()
    for r in rows:
        r["tokens"] = r["section_text"].split()
    data = write_jsonl(tmp_path / "tokens.jsonl", rows)
    err = refused("--text-columns", "tokens", dataset=data)
    assert "--text-columns: tokens holds list<" in err and "not text" in err
    assert "tokens holds list<" in explore_refuses(explore, "--dataset", str(data), "--text-columns", "tokens")


# --- 14. a learning rate typed as 2e5 --------------------------------------------------------------------------
def test_a_learning_rate_above_1_is_refused_at_once(refused, nothing_loaded):
    assert "--learning-rate must be above 0 and at most 1, not 200000.0" in refused("--learning-rate", "2e5")


def test_a_loss_that_turns_nan_stops_training_naming_the_learning_rate(trainer_module, tiny_models, laws_csv, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification

    folder = tmp_path / "diverged"
    shutil.copytree(tiny_models["bert"], folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    with torch.no_grad():
        for weight in model.parameters():
            weight.fill_(float("nan"))  # what a far too high learning rate leaves after one step
    model.save_pretrained(folder)
    argv = ["--dataset", str(laws_csv), "--model", str(folder), "--no-push", "--output-dir", str(tmp_path / "out")]
    with pytest.raises(
        trainer_module.UserError, match=r"The training loss became NaN \(step 3, three in a row\)"
    ) as refusal:
        trainer_module.main([*argv, *SMOKE])
    assert "learning rate 0.001" in str(refusal.value) and "Lower --learning-rate" in str(refusal.value)


# --- 15. a seed numpy cannot take ------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "99999999999"])
def test_a_seed_outside_0_to_2_to_the_32_is_refused(refused, nothing_loaded, seed):
    assert "--seed must be from 0 to 4294967295" in refused("--seed", seed)


# --- 17. --resume with another model of the same folder name ---------------------------------------------------
def test_resume_refuses_another_model_of_the_same_folder_name(
    trainer_module, tiny_models, laws_csv, tmp_path, killed_after_first_save
):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    first, other = tmp_path / "a" / "model", tmp_path / "b" / "model"
    shutil.copytree(tiny_models["bert"], first)
    shutil.copytree(tiny_models["bert"], other)
    config = AutoConfig.from_pretrained(other)
    config.intermediate_size = 48  # the same kind of model, of another shape: its checkpoint cannot be loaded
    AutoModelForSequenceClassification.from_config(config).save_pretrained(other)
    argv = ["--dataset", str(laws_csv), "--no-push", "--output-dir", str(tmp_path / "out"), *SMOKE, "--epochs", "2"]
    with pytest.raises(KilledJob):
        trainer_module.main([*argv, "--model", str(first)])
    killed_after_first_save()
    with pytest.raises(trainer_module.UserError, match="was made with other settings") as refusal:
        trainer_module.main([*argv, "--model", str(other), "--resume"])
    assert "model: 'model (sha256 " in str(refusal.value)


# --- 18. --report-to an integration that is not installed ----------------------------------------------------------
def test_report_to_an_integration_that_is_not_installed_is_refused_at_once(refused, nothing_loaded):
    pytest.importorskip("transformers")
    from transformers.integrations import get_available_reporting_integrations

    if "trackio" in get_available_reporting_integrations():
        pytest.skip("trackio is installed here")
    err = refused("--report-to", "trackio")
    assert "--report-to trackio: trackio is not installed here" in err
    assert "uv run --with trackio train_modernbert.py" in err and "hf jobs uv run --with trackio" in err


def test_report_to_a_name_no_integration_has_is_refused_at_once(refused, nothing_loaded):
    """A typo reached the Trainer only after the data and the model were loaded, and stopped it with a traceback."""
    err = refused("--report-to", "wandb,tensorbord")
    assert "--report-to: tensorbord is none of azure_ml," in err and "tensorboard, trackio, wandb" in err


@pytest.mark.parametrize("holding", ["nothing", "a model's files"])
def test_a_folder_without_data_files_is_refused_in_one_line(refused, no_model_loaded, tmp_path, holding):
    """datasets found no table in it, or tried to read a model's config.json as one: a traceback, exit 1."""
    folder = tmp_path / "folder"
    folder.mkdir()
    if holding != "nothing":
        (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32}))
        (folder / "README.md").write_text("# a model\n")
    err = refused(dataset=folder)
    assert f"--dataset {folder}: could not read it as a folder of data files" in err
    assert "Check that it holds CSV, Parquet or JSON files of one kind." in err


# --- 19. the label is a column dropped by default --------------------------------------------------------------
def test_a_label_column_dropped_by_default_says_how_to_keep_it(refused, nothing_loaded):
    err = refused("--label-column", "source")
    assert "--drop-columns names the label or a text column (source)" in err
    assert "drops source unless given" in err and "give --drop-columns ''" in err


# --- 20. a data folder that holds an earlier run's output folder ---------------------------------------------------
def test_a_data_folder_holding_an_output_folder_is_refused(refused, no_model_loaded, explore, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "laws.csv", make_rows())
    (data / "run").mkdir()
    (data / "run" / ".classifier-run.json").write_text("{}")
    (data / "run" / "splits.csv").write_text("row,id,split\n0,law_0000,train\n")
    expected = f"--dataset {data}: holds {data / 'run'}, written by train_*.py or predict.py"
    assert expected in refused(dataset=data)
    assert expected in explore_refuses(explore, "--dataset", str(data))


def test_the_folders_the_scripts_write_are_those_never_read_as_data(trainer_module):
    predict = import_script("predict.py")
    assert {trainer_module.MARKER, predict.MARKER} == set(trainer_module.RUN_MARKERS)


# --- 21. an output folder that cannot be written -------------------------------------------------------------------
def test_a_dangling_link_as_output_dir_is_named(refused, nothing_loaded, tmp_path):
    (tmp_path / "link").symlink_to(tmp_path / "gone")
    assert f"--output-dir {tmp_path / 'link'} is a link to {tmp_path / 'gone'}, which does not exist" in refused(
        "--output-dir", str(tmp_path / "link")
    )


def test_a_read_only_file_of_an_earlier_run_is_found_before_training(refused, nothing_loaded, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".classifier-run.json").write_text(json.dumps({"files": ["config.json", "README.md"]}))
    for name in ("config.json", "README.md"):
        (out / name).write_text("{}")
    (out / "config.json").chmod(0o444)
    real = os.access

    def as_its_owner(path, mode, **kw):  # root may write anything: answer as the file's mode does for a user
        return real(path, mode, **kw) and (not mode & os.W_OK or bool(os.stat(path).st_mode & 0o200))

    monkeypatch.setattr(os, "access", as_its_owner)
    err = refused("--output-dir", str(out))
    assert f"--output-dir {out}: config.json cannot be written (read-only)" in err


# --- 22. a header with a leading space -----------------------------------------------------------------------------
def test_text_columns_match_exactly_first_then_without_spaces(trainer_module, laws_csv, tmp_path):
    rows = [{(" section_text" if k == "section_text" else k): v for k, v in r.items()} for r in make_rows()]
    data = write_csv(tmp_path / "spaced.csv", rows)
    args = trainer_module.parse_args(["--dataset", str(data), "--text-columns", " section_text"])
    loaded = trainer_module.load_data(args, None)
    assert args.text_columns == [" section_text"] and loaded.texts[0] == rows[loaded.rows[0]][" section_text"]
    args = trainer_module.parse_args(["--dataset", str(laws_csv), "--text-columns", "chapter_text, section_text"])
    trainer_module.load_data(args, None)
    assert args.text_columns == ["chapter_text", "section_text"]
