"""Fail fast, lose nothing, leak nothing: bad input, the push path (against a fake Hub), resume, the token."""

import json
import time
import types
from pathlib import Path

import fake_hub as fake_hub_module
import pytest
from conftest import FAKE_TOKEN, RUN_FILES, SMOKE, KilledJob, make_rows, write_csv
from fake_hub import FakeHub, hub_error

FAST = SMOKE  # one epoch of 80 rows, short windows


@pytest.fixture(autouse=True)
def tiny_default_model(trainer_module, tiny_models, monkeypatch):
    """The default base model is a Hub id, which these offline tests cannot fetch: a tiny BERT stands in."""
    monkeypatch.setattr(trainer_module, "DEFAULT_MODEL", str(tiny_models["bert"]))


@pytest.fixture
def no_model_load(trainer_module, monkeypatch):
    """Any bad-input case must stop before a model is loaded."""

    def forbidden(*a, **k):
        raise AssertionError("a model was loaded before the input was checked")

    monkeypatch.setattr(trainer_module, "load_model", forbidden)
    monkeypatch.setattr(trainer_module, "train_and_evaluate", forbidden)


def fails_fast(trainer_module, capsys, argv, *expected):
    before = sorted(Path.cwd().rglob("*"))  # the default --output-dir is made here
    start = time.time()
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point([*argv, "--no-push"] if "--push" not in argv else [a for a in argv if a != "--push"])
    elapsed = time.time() - start
    assert sorted(Path.cwd().rglob("*")) == before, "a refused run left a folder or file behind"
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "Traceback" not in err
    for text in expected:
        assert text in err, (text, err[-1500:])
    assert elapsed < 20, f"took {elapsed:.1f} s to fail"
    return err


def with_rows(tmp_path, rows, name="data.csv"):
    return str(write_csv(tmp_path / name, rows))


def test_missing_dataset_path(trainer_module, no_model_load, capsys, tmp_path):
    fails_fast(trainer_module, capsys, ["--dataset", str(tmp_path / "nope.csv")], "no such file or folder", "nope.csv")


def test_unknown_hub_dataset(trainer_module, no_model_load, capsys):
    fails_fast(
        trainer_module,
        capsys,
        ["--dataset", "nobody-here/no-such-dataset"],
        "could not load it from the Hugging Face Hub",
        "https://huggingface.co/datasets/nobody-here/no-such-dataset",
        "HF_TOKEN",
    )


def test_unsupported_file_type(trainer_module, no_model_load, capsys, tmp_path):
    (tmp_path / "laws.xlsx").write_text("x")
    fails_fast(
        trainer_module, capsys, ["--dataset", str(tmp_path / "laws.xlsx")], "cannot read files ending in '.xlsx'"
    )


def test_missing_label_column_lists_the_real_columns(trainer_module, no_model_load, capsys, laws_csv):
    fails_fast(
        trainer_module,
        capsys,
        ["--dataset", str(laws_csv), "--label-column", "label"],
        "--label-column: column(s) ['label'] not in the dataset",
        "id, source, jim_crow, type, chapter_text, section_text",
    )


def test_missing_text_column(trainer_module, no_model_load, capsys, laws_csv):
    fails_fast(
        trainer_module,
        capsys,
        ["--dataset", str(laws_csv), "--text-columns", "section_text,body"],
        "--text-columns: column(s) ['body'] not in the dataset",
        "section_text",
    )


def test_one_class(trainer_module, no_model_load, capsys, tmp_path):
    rows = [{**r, "jim_crow": 1} for r in make_rows(40)]
    fails_fast(trainer_module, capsys, ["--dataset", with_rows(tmp_path, rows)], "every row has the label ['1']")


def test_float_labels_look_like_regression(trainer_module, no_model_load, capsys, tmp_path):
    rows = [{**r, "jim_crow": 0.37 * i} for i, r in enumerate(make_rows(40))]
    fails_fast(trainer_module, capsys, ["--dataset", with_rows(tmp_path, rows)], "regression target")


def test_empty_texts_are_dropped_and_counted_or_refused_when_nothing_is_left(
    trainer_module, no_model_load, capsys, tmp_path, caplog, tiny_models
):
    rows = [{**r, "chapter_text": "", "section_text": ""} for r in make_rows(40)]
    fails_fast(trainer_module, capsys, ["--dataset", with_rows(tmp_path, rows)], "No row has both text")
    rows = make_rows(120)
    for r in rows[:7]:
        r["chapter_text"] = r["section_text"] = ""
    with pytest.raises(AssertionError, match="a model was loaded"):  # gets past the data checks
        trainer_module.main(
            [
                "--dataset",
                with_rows(tmp_path, rows, "some_empty.csv"),
                "--no-push",
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
    assert "Dropped 7 of 120 rows with empty text or no label" in caplog.text


def test_too_few_rows_for_the_split_gives_the_numbers(
    trainer_module, no_model_load, capsys, laws_csv, tiny_models, tmp_path
):
    err = fails_fast(
        trainer_module,
        capsys,
        ["--dataset", str(laws_csv), "--max-samples", "30"],
        "Too few rows for a stratified train/validation/test split",
        "each class needs at least 20 rows",
    )
    suggested = int(err.split("--max-samples ")[1].split()[0])
    assert suggested == 73  # 33 of the 120 rows are positive: 20 / (33/120) = 72.7
    # and the suggestion works: the data checks pass and the run reaches the model
    with pytest.raises(AssertionError, match="a model was loaded"):
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--max-samples",
                str(suggested),
                "--no-push",
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )


def test_unknown_model(trainer_module, no_model_load, capsys, laws_csv):
    fails_fast(
        trainer_module,
        capsys,
        ["--dataset", str(laws_csv), "--model", "nobody-here/no-such-model"],
        "--model nobody-here/no-such-model: not found locally or on the Hub",
    )


def test_max_length_is_clamped_to_the_model(trainer_module, tiny_models, caplog):
    args = trainer_module.parse_args(["--model", str(tiny_models["roberta"]), "--max-length", "4096", "--stride", "16"])
    trainer_module.resolve_model(args, None)
    assert args.max_length == 128  # 130 positions, of which its tokenizer (model_max_length) reads 128
    args = trainer_module.parse_args(
        ["--model", str(tiny_models["modernbert"]), "--max-length", "100000", "--stride", "16"]
    )
    trainer_module.resolve_model(args, None)
    assert args.max_length == 128 and "--max-length 100000 is more than" in caplog.text


def test_push_without_token_fails_before_anything(trainer_module, no_model_load, capsys, laws_csv, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", "/nonexistent-hf-home")
    fails_fast(
        trainer_module, capsys, ["--dataset", str(laws_csv), "--push"], "needs a token with write access", "--no-push"
    )


# --- pushing, against a fake Hub at the HfApi boundary (tests/fake_hub.py) -----------------
@pytest.fixture
def fake_hub(trainer_module, tmp_path, monkeypatch):
    import huggingface_hub

    events = []
    hub = FakeHub(tmp_path, events)
    monkeypatch.setattr(huggingface_hub, "HfApi", hub)
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.setattr(trainer_module.time, "sleep", lambda s: events.append(("sleep", s)))
    original = trainer_module.train_and_evaluate
    monkeypatch.setattr(
        trainer_module, "train_and_evaluate", lambda *a, **k: events.append("train") or original(*a, **k)
    )
    return hub


REPO = "tester/laws-jim-crow-bert"  # the default repo name for a BERT-type model


def test_push_checks_first_uploads_the_run_files_in_one_commit_and_verifies(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path
):
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(out),
                "--private",
                *FAST,
            ]
        )
        == 0
    )
    events = fake_hub.events
    assert events[:3] == ["whoami", ("repo_info", REPO), "train"]  # checked, but created only at the upload
    assert events[3:] == [
        ("create_repo", REPO, True),
        ("create_commit", tuple(sorted(RUN_FILES))),
        "get_paths_info",
        ("upload_file", "metrics.json"),  # last: with the push's record
    ]
    assert fake_hub.tokens == [FAKE_TOKEN]
    assert fake_hub.files(REPO) == sorted(RUN_FILES)
    remote = fake_hub.folder(REPO)
    assert (remote / "README.md").read_bytes() == (out / "README.md").read_bytes()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["push"]["verified_files"] == len(RUN_FILES) and sorted(metrics["push"]["files"]) == sorted(RUN_FILES)
    # every phase timed, the upload and its verification included (in the local metrics.json)
    phases = {
        "data_load",
        "model_load",
        "tokenization",
        "training",
        "evaluation",
        "card",
        "upload",
        "push_verification",
    }
    assert phases <= set(metrics["timings"])
    assert (remote / "metrics.json").read_bytes() == (out / "metrics.json").read_bytes()  # the push's record too


def test_a_failed_upload_of_the_final_metrics_is_a_warning_and_the_hub_keeps_the_first(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch, caplog
):
    def refuse(*a, **k):
        raise PermissionError("simulated")

    monkeypatch.setattr(fake_hub, "upload_file", refuse)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), *FAST]
    assert trainer_module.main(argv) == 0
    assert "push" in json.loads((out / "metrics.json").read_text())
    assert "push" not in json.loads((fake_hub.folder(REPO) / "metrics.json").read_text())
    assert "Could not upload the final metrics.json (PermissionError: simulated)" in caplog.text
    assert f"Finish with: hf upload {REPO} {out / 'metrics.json'}" in caplog.text


def test_a_file_that_landed_wrong_fails_the_verification(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch
):
    original = fake_hub.create_commit

    def corrupt(repo_id, operations, **k):
        original(repo_id, operations, **k)
        (fake_hub.folder(repo_id) / "model.safetensors").write_bytes(b"not the model")

    monkeypatch.setattr(fake_hub, "create_commit", corrupt)
    with pytest.raises(trainer_module.UserError, match=r"Verification failed: \['model.safetensors'\]"):
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(tmp_path / "out"),
                *FAST,
            ]
        )


def test_a_transient_error_of_the_commit_is_retried_once(trainer_module, fake_hub, tiny_models, laws_csv, tmp_path):
    """huggingface_hub retries each file's upload; the commit that ends it is tried again once, after 10 s."""
    fake_hub.fail_uploads = 1
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), *FAST]
        )
        == 0
    )
    commits = [e for e in fake_hub.events if isinstance(e, tuple) and e[0] == "create_commit"]
    sleeps = [e for e in fake_hub.events if isinstance(e, tuple) and e[0] == "sleep"]
    assert len(commits) == 2 and sleeps == [("sleep", 10.0)]
    assert (fake_hub.folder(REPO) / "README.md").is_file()


def test_failed_upload_keeps_everything_and_says_how_to_finish(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, capsys
):
    fake_hub.fail_uploads = 99
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point(
            ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), *FAST]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"hf upload {REPO} {out} . --include" in err and "Nothing local was deleted" in err
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert fake_hub.files(REPO) == []  # nothing went up: no card without its model
    assert len([e for e in fake_hub.events if e[0] == "create_commit"]) == 2  # tried, and tried again once


def test_permanent_upload_errors_are_not_retried(trainer_module, fake_hub, tiny_models, laws_csv, tmp_path):
    fake_hub.fail_uploads, fake_hub.error = 99, PermissionError
    with pytest.raises(trainer_module.UserError, match="Uploading the model"):
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(tmp_path / "o"),
                *FAST,
            ]
        )
    assert len([e for e in fake_hub.events if isinstance(e, tuple) and e[0] == "create_commit"]) == 1


@pytest.mark.parametrize(
    "kind,transient",
    [("network", True), ("503", True), ("429", True), ("offline", False), ("403", False), ("404", False)],
)
def test_the_errors_worth_a_retry_are_the_ones_huggingface_hub_really_raises(trainer_module, kind, transient):
    assert trainer_module.is_transient(hub_error(kind)) is transient
    assert not trainer_module.is_transient(OSError(28, "No space left on device"))


def test_a_repo_the_hub_answers_401_repository_not_found_for_is_a_new_repo(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch
):
    def not_found(repo_id, **_):
        raise hub_error("401 RepositoryNotFoundError")

    monkeypatch.setattr(fake_hub, "repo_info", not_found)
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "o")]
    assert trainer_module.main([*argv, *FAST]) == 0
    assert ("create_repo", REPO, True) in fake_hub.events and fake_hub.files(REPO) == RUN_FILES


def test_a_card_the_hub_would_reject_stops_the_run_before_training(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch
):
    """The Hub refuses a commit whose README metadata it rejects (here: a licence that is not a licence id)."""
    monkeypatch.setitem(trainer_module.PRESETS["default"], "license", "Apache 2.0")
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), *FAST]
    with pytest.raises(trainer_module.UserError, match=r"The Hub rejects the model card's metadata: .*license"):
        trainer_module.main([*argv, "--output-dir", str(tmp_path / "pushed")])
    assert "train" not in fake_hub.events and not fake_hub.files(REPO)
    assert len(fake_hub_module.VALIDATED) == 1  # the rehearsal card, before training
    assert trainer_module.main([*argv, "--output-dir", str(tmp_path / "local"), "--no-push"]) == 0
    assert len(fake_hub_module.VALIDATED) == 1  # a card that is not pushed is not sent to the Hub


def test_a_failed_checkpoint_push_does_not_end_the_training(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch, caplog
):
    def refuse(**_):
        raise hub_error("503")

    monkeypatch.setattr(fake_hub, "upload_folder", refuse)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--push-checkpoints", *FAST]) == 0
    assert "Could not push checkpoint-" in caplog.text and "training goes on" in caplog.text
    assert fake_hub.files(REPO) == RUN_FILES


def test_token_never_appears_in_output_or_files(trainer_module, tiny_models, laws_csv, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
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
                *FAST,
            ]
        )
        == 0
    )
    captured = capfd.readouterr()
    assert FAKE_TOKEN not in captured.out + captured.err
    files = [f for f in out.rglob("*") if f.is_file()]
    assert len(files) >= 7
    for f in files:
        assert FAKE_TOKEN.encode() not in f.read_bytes(), f


def test_token_never_reaches_the_hub(trainer_module, fake_hub, tiny_models, laws_csv, tmp_path):
    trainer_module.main(
        ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(tmp_path / "o"), *FAST]
    )
    for f in fake_hub.root.rglob("*"):
        assert not f.is_file() or FAKE_TOKEN.encode() not in f.read_bytes(), f


def test_resume_continues_from_the_last_local_checkpoint(
    trainer_module, tiny_models, laws_csv, tmp_path, caplog, killed_after_first_save
):
    caplog.set_level("INFO", logger="train")
    out = tmp_path / "out"
    args = [
        "--dataset",
        str(laws_csv),
        "--model",
        str(tiny_models["bert"]),
        "--no-push",
        "--output-dir",
        str(out),
        *FAST[:4],
        "--max-samples",
        "80",
        "--epochs",
        "2",
        "--batch-size",
        "8",
    ]
    with pytest.raises(KilledJob):
        trainer_module.main(args)  # the job dies after epoch 1
    assert list((out / "checkpoints").glob("checkpoint-*"))
    killed_after_first_save()
    trainer_module.main([*args, "--resume"])
    assert "Resuming from" in caplog.text
    history = json.loads((out / "metrics.json").read_text())["validation_history"]
    assert [h["epoch"] for h in history] == [1.0, 2.0]  # epoch 1 came from the checkpoint, epoch 2 was trained


@pytest.mark.parametrize(
    "change,expected",
    [
        (["--seed", "7"], "seed: 42 then, 7 now"),
        (["--max-samples", "90"], "max_samples: 80 then, 90 now"),
        (["--epochs", "3"], "epochs: 2.0 then, 3.0 now"),
    ],
)
def test_resume_refuses_a_checkpoint_made_with_other_settings(
    trainer_module, tiny_models, laws_csv, tmp_path, killed_after_first_save, change, expected
):
    """Another seed or subset would put the checkpoint's training rows in this run's test split; other epochs, another
    schedule. Each is refused before any training, naming what differs."""
    out = tmp_path / "out"
    args = [
        "--dataset",
        str(laws_csv),
        "--model",
        str(tiny_models["bert"]),
        "--no-push",
        "--output-dir",
        str(out),
        *FAST[:4],
        "--max-samples",
        "80",
        "--epochs",
        "2",
        "--batch-size",
        "8",
    ]
    with pytest.raises(KilledJob):
        trainer_module.main(args)
    killed_after_first_save()
    with pytest.raises(trainer_module.UserError, match="was made with other settings") as refused:
        trainer_module.main([*args, *change, "--resume"])
    assert expected in str(refused.value)


def test_resume_fetches_the_hub_checkpoint_when_none_is_local(trainer_module, fake_hub, tmp_path):
    settings = {"data": "abc", "seed": 42}
    ckpt = fake_hub.folder("tester/repo") / "last-checkpoint"
    ckpt.mkdir()
    (ckpt / "trainer_state.json").write_text("{}")
    (ckpt / "run_settings.json").write_text(json.dumps(settings))
    args = types.SimpleNamespace(output_dir=tmp_path / "out")
    found = trainer_module.find_checkpoint(args, {"api": fake_hub, "repo_id": "tester/repo"}, settings)
    assert found == str(tmp_path / "out" / "hub-checkpoint" / "last-checkpoint")  # outside the Trainer's folder


@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])  # a git blob, an LFS file
def test_the_verification_compares_content_not_only_sizes(trainer_module, fake_hub, tmp_path, name):
    from huggingface_hub import CommitOperationAdd

    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"num_labels": 2}')
    (out / "model.safetensors").write_bytes(bytes(range(256)) * 4)
    files = ["config.json", "model.safetensors"]
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(out / f)) for f in files]
    fake_hub.create_commit("tester/repo", operations)
    assert trainer_module.verify_push(fake_hub, "tester/repo", out, files) == {"verified_files": 2}
    landed = fake_hub.folder("tester/repo") / name
    data = bytearray(landed.read_bytes())
    data[5] ^= 1  # one bit, the size unchanged
    landed.write_bytes(bytes(data))
    with pytest.raises(trainer_module.UserError, match=rf"Verification failed: \['{name}'\]"):
        trainer_module.verify_push(fake_hub, "tester/repo", out, files)


def checkpoint(folder: Path, settings: dict) -> Path:
    """A checkpoint folder as the Trainer and checkpoint_keeper leave it, made with these settings."""
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text("{}")
    (folder / "run_settings.json").write_text(json.dumps(settings))
    return folder


@pytest.mark.parametrize("key,now", [("data", "a row's text changed"), ("processes", 2), ("seed", 7)])
def test_resume_refuses_a_checkpoint_made_with_any_other_setting(trainer_module, tmp_path, key, now):
    then = {"data": "9f2c", "processes": 1, "seed": 42}
    checkpoint(tmp_path / "out" / "checkpoints" / "checkpoint-12", then)
    args = types.SimpleNamespace(output_dir=tmp_path / "out")
    assert trainer_module.find_checkpoint(args, None, then).endswith("checkpoint-12")
    with pytest.raises(trainer_module.UserError, match=rf"other settings \({key}: "):
        trainer_module.find_checkpoint(args, None, {**then, key: now})


def test_resume_refuses_a_checkpoint_of_a_version_that_kept_its_counts_beside_the_settings(trainer_module, tmp_path):
    """Its padded tokens and seconds are not in its log history: continued, the card's counts would be false."""
    settings = {"data": "9f2c", "seed": 42}
    folder = checkpoint(tmp_path / "out" / "checkpoints" / "checkpoint-12", settings)
    (folder / "run_settings.json").write_text(json.dumps({"settings": settings, "progress": {"computed_tokens": 20}}))
    with pytest.raises(trainer_module.UserError, match="an earlier version of this script made it"):
        trainer_module.find_checkpoint(types.SimpleNamespace(output_dir=tmp_path / "out"), None, settings)


def test_the_settings_a_checkpoint_records_include_the_data_and_the_processes(trainer_module, monkeypatch):
    args = types.SimpleNamespace(max_samples=None, text_columns=["t"], label_column="y")
    args.__dict__.update(dict.fromkeys(trainer_module.HYPERPARAMETERS, 1))
    data = types.SimpleNamespace(facts={"texts_and_labels_sha256": "9f2c"}, names=["no", "yes"])
    monkeypatch.setattr(trainer_module, "processes", lambda: 2)  # accelerate's count: tests/test_several_gpus.py
    settings = trainer_module.run_settings(args, {"id": "tiny-bert", "on_hub": True}, data)
    assert settings["data"] == "9f2c" and settings["processes"] == 2 and settings["labels"] == ["no", "yes"]


def test_resume_prefers_the_local_checkpoint_to_the_hubs(trainer_module, fake_hub, tmp_path):
    settings = {"data": "9f2c", "seed": 42}
    local = checkpoint(tmp_path / "out" / "checkpoints" / "checkpoint-12", settings)
    checkpoint(fake_hub.folder("tester/repo") / "last-checkpoint", settings)
    args = types.SimpleNamespace(output_dir=tmp_path / "out")
    hub = {"api": fake_hub, "repo_id": "tester/repo", "create": None}
    assert trainer_module.find_checkpoint(args, hub, settings) == str(local)
    assert "snapshot_download" not in fake_hub.events and not (tmp_path / "out" / "hub-checkpoint").exists()


def test_a_resumed_run_counts_the_tokens_and_seconds_logged_before_it(trainer_module):
    """Each epoch's log carries its computed tokens and seconds; a checkpoint brings its log history back, so the
    counts cover the whole training (tests/test_claims.py checks it end to end)."""
    cls = trainer_module.classifier_trainer(types.SimpleNamespace(), ["no", "yes"], [1.0, 1.0])
    trainer = cls.__new__(cls)  # only the counting: no model, no training
    before = [{"loss": 0.5, "computed_tokens": 300, "training_seconds": 1000.0, "step": 4}, {"eval_loss": 0.4}]
    trainer.state = types.SimpleNamespace(log_history=before, num_input_tokens_seen=400)  # the Trainer's real tokens
    trainer.computed_tokens, trainer.tick = 100, time.time()  # this session's steps, not logged yet
    trainer.all_computed_tokens = lambda: trainer.computed_tokens  # one process
    counts = trainer.token_counts()
    assert (counts["real"], counts["computed"]) == (400, 400) and counts["padding_efficiency"] == 1.0
    assert counts["real_tokens_per_second"] == pytest.approx(400 / 1000, rel=1e-3)  # the seconds before it counted


@pytest.mark.parametrize("found", ["new", "empty", "an earlier run"])
def test_a_run_refused_at_its_last_check_leaves_the_folder_as_it_found_it(
    trainer_module, tiny_models, laws_csv, tmp_path, capsys, found
):
    out = tmp_path / "out"
    if found != "new":
        out.mkdir()
    if found == "an earlier run":
        (out / trainer_module.MARKER).write_text(json.dumps({"pid": 4242, "files": ["README.md"]}))
        (out / "README.md").write_text("# the earlier run's card\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else None
    (tmp_path / "card.md").write_text('{{ "%.3f" | format(test.no_such_metric) }}\n')  # the card rehearsal refuses
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), "--no-push"]
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point([*argv, *SMOKE, "--card-template", str(tmp_path / "card.md")])
    assert exit_info.value.code == 2 and "The card template does not render" in capsys.readouterr().err
    assert ({p.name: p.read_bytes() for p in out.iterdir()} if out.exists() else None) == before


def test_of_two_runs_that_found_the_folder_new_the_second_to_make_it_stops(trainer_module, tmp_path, monkeypatch):
    fcntl = pytest.importorskip("fcntl")  # POSIX; on Windows the scripts lock nothing
    import os

    monkeypatch.setattr(trainer_module, "WRITING", [])
    out = tmp_path / "out"
    trainer_module.check_output_dir(out, types.SimpleNamespace(overwrite=False, resume=False))
    assert not out.exists()  # checked, not made: a run refused later leaves nothing behind
    out.mkdir()  # the other run made it first, marked it and holds it
    (out / trainer_module.MARKER).write_text(json.dumps({"pid": 4242}))
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(trainer_module.UserError, match=r"another run \(pid 4242\) is writing to it"):
            trainer_module.make_output_dir(out)
    finally:
        os.close(fd)
    assert json.loads((out / trainer_module.MARKER).read_text()) == {"pid": 4242}  # theirs, untouched
    trainer_module.make_output_dir(out)  # once it has finished, a run may write there
    assert json.loads((out / trainer_module.MARKER).read_text())["pid"] == os.getpid()
    trainer_module.release_folders()


def test_only_the_first_process_checks_and_makes_the_output_folder(trainer_module, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer_module, "is_main", lambda: False)  # accelerate's rank: tests/test_several_gpus.py
    monkeypatch.setattr(trainer_module, "WRITING", [])
    trainer_module.check_output_dir(tmp_path / "out", types.SimpleNamespace(overwrite=False, resume=False))
    trainer_module.make_output_dir(tmp_path / "out")
    assert not (tmp_path / "out").exists() and trainer_module.WRITING == []


def test_resume_stops_when_the_hub_checkpoint_cannot_be_fetched(trainer_module, fake_hub, tmp_path, monkeypatch):
    """Starting over instead would replace the Hub's checkpoint at the first save (--push-checkpoints)."""

    def offline_now(**_):  # what snapshot_download raises when the network fails and nothing is cached
        from huggingface_hub.errors import LocalEntryNotFoundError

        raise LocalEntryNotFoundError("An error happened while trying to locate the files on the Hub")

    monkeypatch.setattr(fake_hub, "snapshot_download", offline_now)
    args = types.SimpleNamespace(output_dir=tmp_path / "out")
    with pytest.raises(trainer_module.UserError, match="could not fetch last-checkpoint/ from tester/repo.*Nothing"):
        trainer_module.find_checkpoint(args, {"api": fake_hub, "repo_id": "tester/repo", "create": None}, {})


def test_resume_never_takes_an_earlier_fetch_for_the_hub_checkpoint(trainer_module, fake_hub, tmp_path):
    """Offline, snapshot_download returns a non-empty local_dir as it is: an earlier fetch must not stand in."""
    settings = {"data": "abc", "seed": 42}
    earlier = tmp_path / "out" / "hub-checkpoint" / "last-checkpoint"
    earlier.mkdir(parents=True)
    (earlier / "trainer_state.json").write_text("{}")
    (earlier / "run_settings.json").write_text(json.dumps(settings))
    args = types.SimpleNamespace(output_dir=tmp_path / "out")
    hub = {"api": fake_hub, "repo_id": "tester/repo", "create": None}  # the repo exists, with no checkpoint
    assert trainer_module.find_checkpoint(args, hub, settings) is None
    fake_hub.events.clear()
    assert trainer_module.find_checkpoint(args, {**hub, "create": True}, settings) is None  # a repo yet to be made
    assert "snapshot_download" not in fake_hub.events


@pytest.mark.parametrize("in_a_job", [False, True])
def test_push_checkpoints_uses_its_own_callback_and_never_the_trainers_push(
    trainer_module, tiny_models, tmp_path, monkeypatch, in_a_job
):
    """The Trainer's own hub push would upload its whole output folder (training_args.bin, a fetched hub checkpoint):
    only last-checkpoint/ may reach the repo while training."""
    import transformers

    t = trainer_module
    seen = {}

    class Stop(Exception):
        pass

    def spy(self, *a, **k):
        keepers = [c for c in self.callback_handler.callbacks if type(c).__name__ == "KeepCheckpoint"]
        seen.update(
            push=self.args.push_to_hub,
            pushes_to=[c.pushes_to for c in keepers],
            token=self.args.hub_token,
            weights_only=self.args.save_only_model,
        )
        raise Stop

    if in_a_job:
        monkeypatch.setenv("JOB_ID", "job-1")
    else:
        monkeypatch.delenv("JOB_ID", raising=False)
    monkeypatch.setattr(transformers.Trainer, "train", spy)
    args = t.parse_args(
        [
            "--model",
            str(tiny_models["bert"]),
            "--max-length",
            "64",
            "--stride",
            "16",
            "--epochs",
            "1",
            "--learning-rate",
            "1e-3",
            "--batch-size",
            "8",
        ]
    )
    t.resolve_model(args, None)
    rows = make_rows(60)
    data = t.Data(
        [r["section_text"] for r in rows],
        [r["jim_crow"] for r in rows],
        ["no", "yes"],
        [r["id"] for r in rows],
        list(range(60)),
        None,
        {},
    )
    split = {"train": list(range(40)), "validation": list(range(40, 50)), "test": list(range(50, 60))}
    hub = {"api": None, "repo_id": "me/repo"}
    args.push_checkpoints = True
    with pytest.raises(Stop):
        t.train_and_evaluate(args, data, t.Job(0, split, tmp_path, push_to=hub), t.Clock(), None)
    # pushed checkpoints keep the optimizer state, in a job too: --resume needs it
    assert seen == {"push": False, "pushes_to": ["me/repo"], "token": None, "weights_only": False}
    # without --push-checkpoints: the full state on a local disk (--resume), weights only in a job (its disk is wiped)
    args.push_checkpoints = False
    with pytest.raises(Stop):
        t.train_and_evaluate(args, data, t.Job(0, split, tmp_path), t.Clock(), None)
    assert seen == {"push": False, "pushes_to": [None], "token": None, "weights_only": in_a_job}


def test_a_verified_push_leaves_only_the_final_files_in_the_repo(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path
):
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(out),
                "--push-checkpoints",
                *FAST,
            ]
        )
        == 0
    )
    events = fake_hub.events
    commit = next(i for i, e in enumerate(events) if isinstance(e, tuple) and e[0] == "create_commit")
    assert ("upload_folder", "last-checkpoint") in events[:commit]  # the checkpoint was on the Hub while training
    assert events[commit + 1 :] == [
        "get_paths_info",
        ("delete_folder", "last-checkpoint"),
        ("upload_file", "metrics.json"),
    ]
    assert "snapshot_download" not in events  # the verification downloads nothing
    assert fake_hub.files(REPO) == sorted(RUN_FILES)
    assert json.loads((out / "metrics.json").read_text())["push"]["removed"] == ["last-checkpoint"]


def test_a_failed_clean_up_is_a_warning_not_a_failure(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch, caplog
):
    def refuse(*a, **k):
        raise PermissionError("simulated")

    monkeypatch.setattr(fake_hub, "delete_folder", refuse)
    out = tmp_path / "out"
    assert (
        trainer_module.main(
            [
                "--dataset",
                str(laws_csv),
                "--model",
                str(tiny_models["bert"]),
                "--output-dir",
                str(out),
                "--push-checkpoints",
                *FAST,
            ]
        )
        == 0
    )
    assert (fake_hub.folder(REPO) / "last-checkpoint").is_dir()
    assert json.loads((out / "metrics.json").read_text())["push"]["removed"] == []
    assert "Could not remove last-checkpoint/ from tester/laws-jim-crow-bert" in caplog.text


def test_no_checkpoint_on_the_hub_is_nothing_to_remove(
    trainer_module, fake_hub, tiny_models, laws_csv, tmp_path, monkeypatch, caplog
):
    def refuse(*a, **k):  # every checkpoint push fails: the repo has no last-checkpoint/ at the end
        raise PermissionError("simulated")

    monkeypatch.setattr(fake_hub, "upload_folder", refuse)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out)]
    assert trainer_module.main([*argv, "--push-checkpoints", *FAST]) == 0
    assert ("delete_folder", "last-checkpoint") in fake_hub.events and fake_hub.files(REPO) == sorted(RUN_FILES)
    assert json.loads((out / "metrics.json").read_text())["push"]["removed"] == []
    assert "Could not push checkpoint-" in caplog.text and "Could not remove" not in caplog.text
