"""Found by the hostile trial (issue 24): `~` in path flags, a base model without a trained head, two runs into one
folder at once, explore's recommended command, absolute paths in what predict pushes, Ctrl-C."""

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, SMOKE, import_script, make_rows


@pytest.fixture(scope="module")
def pr():
    return import_script("predict.py")


@pytest.fixture(scope="module")
def ex():
    return import_script("explore_dataset.py")


def test_tilde_in_every_path_flag_is_the_home_folder(
    trainer_module, pr, ex, tiny_models, laws_csv, tmp_path, monkeypatch
):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    shutil.copytree(tiny_models["bert"], home / "m")
    shutil.copy(laws_csv, home / "laws.csv")
    shutil.copy(ROOT / "model_card_template.md", home / "card.md")
    data, model = ["--dataset", "~/laws.csv"], ["--model", "~/m"]
    train = [*data, *model, "--output-dir", "~/x", "--card-template", "~/card.md", "--no-push", *SMOKE]
    assert trainer_module.main(train) == 0
    assert (home / "x" / "README.md").is_file() and (home / "x" / "model.safetensors").is_file()
    assert pr.main([*data, "--model", "~/x", "--output", "~/flags.csv", "--max-samples", "20"]) == 0
    assert pr.main([*data, *model, "--output", "~/f.parquet", "--work-dir", "~/w", "--max-samples", "20"]) == 0
    assert (home / "flags.csv").is_file() and (home / "f.parquet").is_file()
    assert ex.main([*data, "--tokenizer", "~/m", "--output", "~/report.json"]) == 0
    assert (home / "report.json").is_file() and (home / "report.md").is_file()
    assert not [p for p in tmp_path.rglob("*") if p.name == "~"]


def predict_exit(pr, monkeypatch, argv) -> int:
    """predict.py through its entry point, as a user runs it: the exit code."""
    monkeypatch.setattr("sys.argv", ["predict.py", *argv])
    with pytest.raises(SystemExit) as exit_info:
        pr.run()
    return exit_info.value.code


@pytest.mark.parametrize("config_says", ["BertModel", "BertForSequenceClassification"])
def test_a_model_without_its_trained_classifier_head_is_refused(
    pr, tiny_models, laws_csv, tmp_path, monkeypatch, capsys, config_says
):
    """A base model would be scored with a random head: other scores on each run, labels LABEL_0/1. Refused from its
    config.json when that names no classifier (before the weights are loaded), else from the weights themselves."""
    from transformers import AutoModel, AutoTokenizer

    base = tmp_path / "base"
    model = AutoModel.from_pretrained(tiny_models["bert"])
    model.config.architectures = [config_says]
    model.save_pretrained(base)  # save_pretrained names the class it saves...
    model.config.architectures = [config_says]
    model.config.save_pretrained(base)  # ...so that a config naming a classifier must be written again
    AutoTokenizer.from_pretrained(tiny_models["bert"]).save_pretrained(base)
    output = tmp_path / "flags.csv"
    assert (
        predict_exit(pr, monkeypatch, ["--model", str(base), "--dataset", str(laws_csv), "--output", str(output)]) == 2
    )
    err = capsys.readouterr().err
    assert f"--model {base}: no trained classifier head was saved with it" in err and "Traceback" not in err
    assert not output.exists() and not (tmp_path / "flags.csv.shards").exists()  # no work dir left behind


def test_nothing_predict_pushes_holds_a_path_of_this_machine(pr, tiny_models, laws_csv, tmp_path, monkeypatch):
    """The Parquet metadata (the settings of each shard), the dataset card's command and the slices' records name a
    local model, dataset or work dir by its name only, as the training script's card does."""
    import huggingface_hub
    from fake_hub import FakeHub

    hub = FakeHub(tmp_path / "hub", [])
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake_token")
    monkeypatch.setattr(pr, "hub_api", lambda token: hub)
    machine = [str(tmp_path.parent.parent), str(Path.home())]  # pytest's folder of every test's files, and the home
    flags = ["--model", str(tiny_models["bert"]), "--dataset", str(laws_csv), "--max-samples", "30"]
    work = ["--work-dir", str(tmp_path / "work")]
    assert pr.main([*flags, *work, "--output-dataset", "me/one", "--shard-size", "10"]) == 0
    sliced = [*flags, "--output-dataset", "me/two", "--num-shards", "2"]
    for index in (0, 1):
        assert pr.main([*sliced, "--shard-index", str(index), *work]) == 0
    assert pr.main([*sliced, "--finalize"]) == 0
    pushed = {
        f"{repo}/{name}": (hub.folder(repo) / name).read_bytes()
        for repo in ("me/one", "me/two")
        for name in hub.files(repo)
    }
    assert {"me/one/README.md", "me/two/README.md", "me/two/slices/slice-00000-of-00002.json"} <= set(pushed)
    assert "me/one/data/shard-00002.parquet" in pushed
    leaks = {name: path for name, data in pushed.items() for path in machine if path.encode() in data}
    assert not leaks
    card = pushed["me/one/README.md"].decode()
    assert f"--model {tiny_models['bert'].name} --dataset laws.csv" in card and "--work-dir work" in card


@pytest.fixture
def held(tmp_path):
    """A folder held by another run, as the scripts hold theirs (a lock the system drops when the process ends): its
    marker names that run's process, and it has written a file."""
    fcntl = pytest.importorskip("fcntl")  # POSIX; on Windows the scripts lock nothing
    import json
    import os

    descriptors = []

    def hold(folder: Path, marker: str) -> dict:
        folder.mkdir(parents=True)
        (folder / marker).write_text(json.dumps({"pid": 4242}))
        (folder / "shard-00000.parquet").write_bytes(b"first")
        descriptors.append(os.open(folder, os.O_RDONLY))
        fcntl.flock(descriptors[-1], fcntl.LOCK_EX | fcntl.LOCK_NB)
        return {p.name: p.read_bytes() for p in folder.iterdir()}

    yield hold
    for fd in descriptors:
        os.close(fd)


def test_a_second_predict_into_the_same_output_refuses_while_the_first_runs(
    pr, tiny_models, laws_csv, tmp_path, monkeypatch, capsys, held
):
    work = tmp_path / "flags.csv.shards"
    before = held(work, pr.MARKER)
    argv = ["--model", str(tiny_models["bert"]), "--dataset", str(laws_csv), "--output", str(tmp_path / "flags.csv")]
    assert predict_exit(pr, monkeypatch, [*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"{work}: another run (pid 4242) is writing to it" in err and "choose another --output" in err
    assert {p.name: p.read_bytes() for p in work.iterdir()} == before
    assert not (tmp_path / "flags.csv").exists()


def test_a_second_training_into_the_same_output_dir_refuses_while_the_first_runs(
    trainer_module, tiny_models, laws_csv, tmp_path, capsys, held
):
    out = tmp_path / "out"
    before = held(out, trainer_module.MARKER)
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), "--no-push"]
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point([*argv, *SMOKE, "--overwrite"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert f"{out}: another run (pid 4242) is writing to it" in err and "choose another --output-dir" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def resume_command(err: str, script: str) -> list[str]:
    """The flags of the command that the Ctrl-C line gives, after `uv run SCRIPT`."""
    import shlex

    line = err.split("Interrupted (Ctrl-C)", 1)[1].splitlines()[0]  # after a progress bar's \r, on its line
    return shlex.split(line.split(f"uv run {script} ", 1)[1])


def test_ctrl_c_in_training_says_what_was_kept_and_how_to_continue(
    trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch, capsys
):
    from transformers.trainer_callback import CallbackHandler

    original = CallbackHandler.on_save

    def interrupted_after_the_first_save(self, *a, **k):
        original(self, *a, **k)
        raise KeyboardInterrupt

    monkeypatch.setattr(CallbackHandler, "on_save", interrupted_after_the_first_save)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), "--no-push"]
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point([*argv, *SMOKE[:-2], "--epochs", "2"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 130 and "Traceback" not in err
    kept = next((out / "checkpoints").glob("checkpoint-*"))
    assert f"Interrupted (Ctrl-C): the last checkpoint is kept in {kept}" in err
    monkeypatch.setattr(CallbackHandler, "on_save", original)
    resumed = resume_command(err, "train_modernbert.py")
    assert resumed[-1] == "--resume"
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point(resumed)  # the command given continues the run
    assert exit_info.value.code == 0 and (out / "model.safetensors").is_file()


def test_ctrl_c_after_the_model_is_saved_says_it_is_saved(
    trainer_module, tiny_models, laws_csv, tmp_path, monkeypatch, capsys
):
    """Stopped after the files are written (while pushing, say): the model is on disk, not "nothing to continue"."""

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "log_summary", stopped)
    out = tmp_path / "out"
    argv = ["--dataset", str(laws_csv), "--model", str(tiny_models["bert"]), "--output-dir", str(out), "--no-push"]
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point([*argv, *SMOKE])
    err = capsys.readouterr().err
    assert exit_info.value.code == 130 and (out / "model.safetensors").is_file() and (out / "README.md").is_file()
    assert f"Interrupted (Ctrl-C): the model, its card and the run's files are saved in {out}. Push them" in err
    assert not trainer_module.SAVED  # the next run in this process starts with nothing saved


def test_ctrl_c_in_predict_says_what_was_kept_and_how_to_continue(
    pr, tiny_models, laws_csv, tmp_path, monkeypatch, capsys
):
    real, calls = pr.score_texts, []

    def interrupted_in_the_second_shard(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(pr, "score_texts", interrupted_in_the_second_shard)
    output = tmp_path / "flags.csv"
    argv = ["--model", str(tiny_models["bert"]), "--dataset", str(laws_csv), "--output", str(output)]
    assert predict_exit(pr, monkeypatch, [*argv, "--max-samples", "30", "--shard-size", "10", "--overwrite"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"Interrupted (Ctrl-C): 1 finished shard is kept in {tmp_path / 'flags.csv.shards'}" in err
    monkeypatch.setattr(pr, "score_texts", real)
    resumed = resume_command(err, "predict.py")
    assert resumed[-1] == "--resume" and "--overwrite" not in resumed
    assert predict_exit(pr, monkeypatch, resumed) == 0 and len(output.read_text().splitlines()) == 31


def test_explore_recommends_a_command_that_training_accepts_for_a_class_label_with_an_unused_name(
    trainer_module, ex, tiny_models, tmp_path
):
    """A ClassLabel may name a class that no row has (a name kept for later): explore counts the classes that have
    rows, and training now learns those same classes instead of refusing a class of 0 rows."""
    import json
    import shlex

    from datasets import ClassLabel, Dataset

    data = tmp_path / "data"
    table = Dataset.from_list(make_rows(120))
    table.cast_column("jim_crow", ClassLabel(names=["no_jim_crow", "jim_crow", "unsure"])).save_to_disk(str(data))
    assert ex.main(["--dataset", str(data), "--output", str(tmp_path / "report.json")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert "unsure" in " ".join(report["recommendations"]["warnings"])  # said, not hidden
    command = shlex.split(report["recommendations"]["command"])
    assert command[:3] == ["uv", "run", "train_modernbert.py"]
    out = tmp_path / "out"
    argv = [*command[3:], "--model", str(tiny_models["bert"]), "--output-dir", str(out), "--no-push", *SMOKE]
    with pytest.raises(SystemExit) as exit_info:
        trainer_module.entry_point(argv)
    assert exit_info.value.code == 0
    assert json.loads((out / "metrics.json").read_text())["labels"] == ["no_jim_crow", "jim_crow"]


def test_explore_calls_a_free_text_label_column_free_text(ex, laws_csv, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ex.run(["--dataset", str(laws_csv), "--text-columns", "chapter_text", "--label-column", "section_text"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "--label-column section_text: this looks like free text, not labels" in err and "rare" not in err
