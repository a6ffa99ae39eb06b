"""Nothing lost, nothing wrong in silence: what a hostile new user found, case by case (issue "Nothing lost").

Each refusal comes before the dataset or the model's weights are loaded (the fixture `nothing_loaded` fails the test
otherwise), exits 2 with a message and no traceback, and leaves the user's files as they were.
"""

import csv
import json

import pytest
from conftest import FAKE_TOKEN, SMOKE, make_rows, write_csv
from fake_hub import FakeHub

FAST = SMOKE  # one epoch of 80 rows, short windows


@pytest.fixture
def nothing_loaded(trainer_module, monkeypatch):
    def forbidden(*a, **k):
        raise AssertionError("the data or a model was loaded before the input was checked")

    monkeypatch.setattr(trainer_module, "load_model", forbidden)
    monkeypatch.setattr(trainer_module, "load_table", forbidden)


@pytest.fixture
def refused(trainer_module, tiny_models, laws_csv, capsys):
    """Run the script with these flags (a tiny model and the synthetic data unless given); return its message."""

    def run(*argv, dataset=None):
        base = ["--dataset", str(dataset or laws_csv), "--model", str(tiny_models["bert"]), "--no-push"]
        with pytest.raises(SystemExit) as exit_info:
            trainer_module.entry_point([*base, *FAST, *argv])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and "Traceback" not in err, err[-2000:]
        return err

    return run


@pytest.fixture
def fake_hub(trainer_module, tmp_path, monkeypatch):
    import huggingface_hub

    hub = FakeHub(tmp_path, [])
    monkeypatch.setattr(huggingface_hub, "HfApi", hub)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    return hub


def user_folder(folder, with_checkpoints=True):
    """A project folder as a user keeps it: their README, their data, their own checkpoints."""
    folder.mkdir()
    (folder / "README.md").write_text("# My project\n")
    write_csv(folder / "train.csv", make_rows(12))
    if with_checkpoints:
        (folder / "checkpoints").mkdir()
        (folder / "checkpoints" / "my_model.bin").write_bytes(b"weeks of work")
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- 1. --output-dir writes into any folder ------------------------------------------------------------------
def test_a_folder_the_script_did_not_write_is_refused_and_left_alone(refused, nothing_loaded, tmp_path):
    folder = tmp_path / "project"
    before = user_folder(folder)
    err = refused("--output-dir", str(folder))
    assert "holds files this script did not write (README.md, checkpoints, train.csv)" in err and "--overwrite" in err
    err = refused("--output-dir", str(folder), "--overwrite")  # even then: its checkpoints/ would be deleted
    assert "holds ['checkpoints'], a folder name this script uses and deletes" in err
    assert {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_with_overwrite_the_run_writes_beside_the_users_files_and_uploads_only_its_own(
    trainer_module, tiny_models, laws_csv, tmp_path, fake_hub
):
    folder = tmp_path / "project"
    user_folder(folder, with_checkpoints=False)
    (folder / "model_old.safetensors").write_bytes(b"an older model of the user's")
    (folder / "notes").mkdir()
    (folder / "notes" / "ideas.txt").write_text("keep me")
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(folder), *FAST]
    assert trainer_module.main([*argv, "--overwrite"]) == 0
    repo = "tester/laws-jim-crow-bert"
    pushed = fake_hub.files(repo)
    assert "train.csv" not in pushed and "notes/ideas.txt" not in pushed and ".classifier-run.json" not in pushed
    assert "model_old.safetensors" not in pushed and (folder / "model_old.safetensors").is_file()
    assert (folder / "train.csv").is_file() and (folder / "notes" / "ideas.txt").read_text() == "keep me"
    assert set(pushed) == set(json.loads((folder / "metrics.json").read_text())["push"]["files"])


def test_a_previous_run_of_the_script_is_its_own_folder(trainer_module, tiny_models, laws_csv, tmp_path):
    out = tmp_path / "out"
    argv = [
        "--dataset",
        str(laws_csv),
        "--model",
        str(tiny_models["bert"]),
        "--no-push",
        "--output-dir",
        str(out),
        *FAST,
    ]
    assert trainer_module.main(argv) == 0
    assert (out / ".classifier-run.json").is_file()
    assert trainer_module.main(argv) == 0  # the same folder again, no --overwrite needed


def test_an_output_dir_that_is_a_file_or_cannot_be_made(refused, nothing_loaded, tmp_path):
    (tmp_path / "a_file").write_text("x")
    assert "is a file, not a folder" in refused("--output-dir", str(tmp_path / "a_file"))
    assert "cannot write there" in refused("--output-dir", str(tmp_path / "a_file" / "below"))


# --- 5. --drop-columns is not enforced ----------------------------------------------------------------------
@pytest.mark.parametrize("drop", ["source,section_text", "jim_crow"])
def test_drop_columns_may_not_name_the_label_or_a_text_column(refused, nothing_loaded, drop):
    assert "--drop-columns names the label or a text column" in refused("--drop-columns", drop)


# --- 7 and 9. nonsense settings, refused at once -------------------------------------------------------------
@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--validation-size", "0.49", "--test-size", "0.49"], "leave at least half of the rows for training"),
        (["--max-length", "2", "--stride", "0"], "--max-length must be at least 16 tokens"),
        (["--max-samples", "0"], "--max-samples must be at least 1"),
        (["--max-samples", "-5"], "--max-samples must be at least 1"),
        (["--text-columns", "section_text,section_text"], "--text-columns lists a column twice"),
        (["--label-names", "yes,yes"], "--label-names repeats a name"),
        (["--epochs", "0"], "--epochs must be above 0"),
        (["--learning-rate=-1e-5"], "--learning-rate must be above 0"),
        (["--batch-size", "0"], "--batch-size and --seeds must be at least 1"),
        (["--stride", "40"], "--stride 40 must be below half of the window length 64"),
        (["--push-checkpoints"], "--push-checkpoints pushes to the Hub: it cannot go with --no-push"),
    ],
)
def test_nonsense_settings_are_refused_at_once(refused, nothing_loaded, argv, expected):
    assert expected in refused(*argv)


def test_duplicate_ids_are_a_warning_and_splits_csv_still_says_which_row_went_where(
    trainer_module, tiny_models, tmp_path, caplog
):
    rows = make_rows(120)
    for r in rows[60:]:
        r["id"] = r["id"].replace("law_00", "law_")[:6]  # many rows now share an id
    data = write_csv(tmp_path / "dup.csv", rows)
    out = tmp_path / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out), *FAST]
    assert trainer_module.main(argv) == 0
    assert "ids occur more than once" in caplog.text
    with (out / "splits.csv").open(newline="") as f:
        splits = list(csv.DictReader(f))
    used = sorted(int(s["row"]) for s in splits)
    assert len(used) == len(set(used)) == 80  # every row once, by its number
    assert all(s["id"] == rows[int(s["row"])]["id"] for s in splits)


# --- 8. a local copy credited to the Hub dataset; absolute paths in what is pushed ----------------------------
def test_a_local_file_is_named_not_credited_to_the_hub_dataset_and_no_path_is_pushed(
    trainer_module, tiny_models, tmp_path, fake_hub
):
    rows = make_rows(120)
    for r in rows[:40]:
        r["jim_crow"] = 1 - r["jim_crow"]  # labels flipped: not the project's data any more
    data = write_csv(tmp_path / "on_the_books_copy.csv", rows)
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "out"), *FAST]
    assert trainer_module.main(argv) == 0
    repo = fake_hub.folder("tester/on-the-books-copy-jim-crow-bert")
    card = (repo / "README.md").read_text()
    assert "`on_the_books_copy.csv` (a local file)" in card
    assert "datasets:" not in card.split("---")[1] and "On the Books: Jim Crow and Algorithms" not in card
    assert "<!-- Fill in: where these texts come from" in card
    for f in repo.rglob("*"):
        if f.suffix in (".md", ".json", ".csv"):
            assert str(tmp_path) not in f.read_text(), f.name


# --- private by default for local data -----------------------------------------------------------------------
@pytest.mark.parametrize("extra,private", [([], True), (["--public"], False)])
def test_a_model_trained_on_a_local_file_goes_to_a_private_repo_unless_public(
    trainer_module, tiny_models, laws_csv, tmp_path, fake_hub, extra, private
):
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "o"), *FAST]
    assert trainer_module.main([*argv, *extra]) == 0
    assert ("create_repo", "tester/laws-jim-crow-bert", private) in fake_hub.events
    assert fake_hub.repos["tester/laws-jim-crow-bert"]["private"] is private


# --- 9. a broken template fails before training ---------------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("# {{ title }}\n{% if threshold %}never closed\n", "Unexpected end of template"),  # does not parse
        ('# {{ title }}\n{{ "%.3f" | format(test.no_such_metric) }}\n', "The card template does not render"),
    ],
)
def test_a_broken_card_template_stops_the_run_before_training(
    trainer_module, refused, tmp_path, monkeypatch, text, expected
):
    monkeypatch.setattr(trainer_module, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    (tmp_path / "card.md").write_text(text)
    assert expected in refused("--card-template", str(tmp_path / "card.md"), "--output-dir", str(tmp_path / "out"))


# --- 10. raw tracebacks for bad files -------------------------------------------------------------------------
def test_a_latin1_csv_is_named_with_its_byte_offset(refused, nothing_loaded, tmp_path, monkeypatch, trainer_module):
    monkeypatch.undo()  # load_table itself must run here
    text = "id,jim_crow,chapter_text,section_text\n" + "law_1,0,CHAPTER 1,That the caf\u00e9 shall close.\n" * 30
    (tmp_path / "latin1.csv").write_bytes(text.encode("latin-1"))
    err = refused(dataset=tmp_path / "latin1.csv")
    assert "not UTF-8 text (byte 68: b'\\xe9 sh')" in err and "Save it as UTF-8" in err  # 68: the é of the first row
    good = text.encode("utf-8")
    (tmp_path / "cut.csv").write_bytes(good + "\u00e9".encode("utf-8")[:1])  # a last character cut in half
    assert f"not UTF-8 text (byte {len(good)}: b'\\xc3')" in refused(dataset=tmp_path / "cut.csv")


@pytest.mark.parametrize(
    "content,expected",
    [
        ("", "the file is empty: no rows"),
        ("id,jim_crow,chapter_text,section_text\n", "no rows (only a header, or nothing)"),
        ("id;jim_crow;section_text\nlaw_1;0;That the roads be mended.\n", "looks like it uses ';' between columns"),
    ],
)
def test_empty_header_only_and_semicolon_files_get_a_plain_sentence(refused, tmp_path, content, expected):
    (tmp_path / "bad.csv").write_text(content)
    assert expected in refused(dataset=tmp_path / "bad.csv")


def test_a_model_folder_without_a_tokenizer_is_named(refused, nothing_loaded, tiny_models, tmp_path):
    import shutil

    folder = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_models["bert"], folder)
    for f in folder.glob("tokenizer*"):
        f.unlink()
    err = refused("--model", str(folder))
    assert f"--model {folder}: the folder has no tokenizer files" in err and "tokenizer.save_pretrained" in err


# --- found in review ----------------------------------------------------------------------------------------
def test_a_dataset_without_an_id_column_trains_and_names_rows_by_number(trainer_module, tiny_models, tmp_path):
    rows = [{k: v for k, v in r.items() if k != "id"} for r in make_rows(120)]
    data = write_csv(tmp_path / "no_ids.csv", rows)
    out = tmp_path / "out"
    argv = ["--dataset", str(data), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out), *FAST]
    assert trainer_module.main(argv) == 0
    with (out / "splits.csv").open(newline="") as f:
        assert all(s["id"] == s["row"] for s in csv.DictReader(f))


def test_an_id_column_the_user_names_must_exist(refused, nothing_loaded, monkeypatch, trainer_module):
    monkeypatch.undo()
    assert "--id-column: column(s) ['law_id'] not in the dataset" in refused("--id-column", "law_id")


def test_a_split_that_would_lose_a_class_is_refused_before_training(refused, tmp_path, monkeypatch, trainer_module):
    """Rows that share a text stay together: when every positive row shares one chapter title, the positives form
    one group, and validation and test could hold none; F1 and the thresholds would mean nothing."""
    monkeypatch.setattr(trainer_module, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    rows = make_rows(120)
    for r in rows:
        if r["jim_crow"]:
            r["chapter_text"] = "AN ACT CONCERNING THE RACES"
    err = refused("--max-samples", "120", dataset=write_csv(tmp_path / "one_group.csv", rows))
    assert "Cannot split the rows" in err or "split has no rows of class" in err


def test_a_run_that_fails_before_its_push_leaves_no_repo_on_the_hub(
    trainer_module, tiny_models, tmp_path, fake_hub, monkeypatch
):
    monkeypatch.setattr(trainer_module, "load_model", lambda *a, **k: pytest.fail("a model was loaded"))
    rows = [{**r, "jim_crow": 1} for r in make_rows(40)]  # one class: refused after the Hub check
    argv = ["--dataset", str(write_csv(tmp_path / "one.csv", rows)), "--model", str(tiny_models["bert"]), *FAST]
    with pytest.raises(trainer_module.UserError, match="at least two classes"):
        trainer_module.main([*argv, "--output-dir", str(tmp_path / "out")])
    assert "whoami" in fake_hub.events and not [e for e in fake_hub.events if e[0] == "create_repo"]


def test_the_stride_follows_a_smaller_window_when_it_is_not_given(trainer_module, tiny_models):
    args = trainer_module.parse_args(["--model", str(tiny_models["modernbert"]), "--max-length", "64"])
    trainer_module.resolve_model(args, None)  # the ModernBERT preset's stride is 256
    assert (args.max_length, args.stride) == (64, 16)


# --- found by trying it as a new user ----------------------------------------------------------------------
def test_another_dataset_gets_its_own_folder_and_repo_name(trainer_module, tiny_models, monkeypatch):
    t = trainer_module
    args = t.parse_args(["--dataset", "my_labels.csv", "--label-column", "topic", "--model", str(tiny_models["bert"])])
    assert t.default_name(args, "bert") == (
        "my-labels-topic-bert",
        "named after the data and label (REPO_NAME is not set)",
    )
    assert t.default_name(t.parse_args([]), "modernbert")[0] == "on-the-books-jim-crow-modernbert"  # the script's own
    # a copy that sets REPO_NAME gets it for its own data and label, and never for other data or another label
    monkeypatch.setattr(t, "REPO_NAME", "nc-law-type-{model_type}")
    assert t.default_name(t.parse_args([]), "bert") == (
        "nc-law-type-bert",
        "REPO_NAME: the run's data and label are the script's defaults",
    )
    name, why = t.default_name(t.parse_args(["--label-column", "type"]), "bert")
    assert (name, why) == (
        "on-the-books-type-bert",
        "named after the data and label, not REPO_NAME: --label-column is not LABEL_COLUMN",
    )
    name, why = t.default_name(args, "bert")
    assert name == "my-labels-topic-bert" and why.endswith("--dataset is not DATASET_ID")


def test_a_copy_that_changed_its_label_alone_does_not_take_the_original_repo_name(trainer_module, monkeypatch):
    """LABEL_COLUMN changed (so --label-column's default too) and nothing else: the folder and the repo are named
    after the new label, never the Jim Crow model's, which a rerun or a push would replace."""
    monkeypatch.setattr(trainer_module, "LABEL_COLUMN", "type")
    name, _ = trainer_module.default_name(trainer_module.parse_args(["--label-column", "type"]), "modernbert")
    assert name == "on-the-books-type-modernbert"


def test_a_rerun_into_its_own_folder_replaces_the_earlier_runs_files_and_leaves_none_stale(
    trainer_module, tiny_models, laws_csv, tmp_path, caplog
):
    out = tmp_path / "out"
    argv = [
        "--dataset",
        str(laws_csv),
        "--model",
        str(tiny_models["bert"]),
        "--no-push",
        "--output-dir",
        str(out),
        *FAST,
    ]
    assert trainer_module.main(argv) == 0
    assert (out / "pr_curve.png").is_file()
    assert trainer_module.main([*argv, "--label-column", "type"]) == 0  # two classes again, but another task
    topic = write_csv(tmp_path / "topics.csv", [{**r, "topic": "abc"[i % 3]} for i, r in enumerate(make_rows(150))])
    argv3 = ["--dataset", str(topic), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv3, "--label-column", "topic", "--drop-columns", "jim_crow,source", *FAST]) == 0
    assert "holds an earlier run of this script: its files are replaced" in caplog.text
    assert not (out / "pr_curve.png").exists()  # the three-class run draws none: the two-class run's is gone


def test_a_refused_rerun_into_its_own_folder_keeps_the_earlier_model(trainer_module, tiny_models, laws_csv, tmp_path):
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(out)]
    assert trainer_module.main([*argv, *FAST]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".classifier-run.json"}
    with pytest.raises(trainer_module.UserError, match="no_such_column"):  # refused after the folder was claimed
        trainer_module.main([*argv, "--label-column", "no_such_column", *FAST])
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != ".classifier-run.json"} == before
    assert trainer_module.main([*argv, *FAST]) == 0  # and the next run still knows them as its own


def test_overwrite_says_which_of_your_files_it_replaces(trainer_module, tiny_models, laws_csv, tmp_path, caplog):
    folder = tmp_path / "project"
    user_folder(folder, with_checkpoints=False)
    (folder / "model.safetensors").write_bytes(b"their own model")
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--no-push", "--output-dir", str(folder)]
    assert trainer_module.main([*argv, *FAST, "--overwrite"]) == 0
    assert "this run's files replace yours of the same name" in caplog.text
    assert "['README.md', 'model.safetensors']" in caplog.text


def test_a_spreadsheets_semicolon_csv_with_commas_in_its_text_is_named(refused, tmp_path):
    text = "ref;body;label\n" + "".join(
        f'r{i};"That the roads, bridges and ferries be mended";{i % 2}\n' for i in range(40)
    )
    (tmp_path / "excel.csv").write_text(text)
    assert "looks like it uses ';' between columns (its first line: 'ref;body;label')" in refused(
        dataset=tmp_path / "excel.csv"
    )


def test_yes_and_no_labels_flag_yes(trainer_module):
    args = trainer_module.parse_args([])
    assert trainer_module.positive_class([0, 1], ["no", "yes"], args)[1:] == (
        ["no", "yes"],
        "`no` is named as the negative",
    )
    assert trainer_module.positive_class([0, 1], ["No", "Yes"], args)[1][1] == "Yes"


def test_the_weights_are_as_readable_as_the_other_files(trainer_module, tiny_models, laws_csv, tmp_path):
    out = tmp_path / "out"
    argv = [
        "--dataset",
        str(laws_csv),
        "--model",
        str(tiny_models["bert"]),
        "--no-push",
        "--output-dir",
        str(out),
        *FAST,
    ]
    assert trainer_module.main(argv) == 0
    assert (out / "model.safetensors").stat().st_mode & 0o777 == (out / "config.json").stat().st_mode & 0o777
