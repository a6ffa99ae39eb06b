"""Found by the hostile trial (issue 24): `~` in path flags, a base model without a trained head, two runs into one
folder at once, explore's recommended command, absolute paths in what predict pushes, Ctrl-C."""

import shutil
from pathlib import Path

import pytest
from conftest import ROOT, SMOKE, import_script


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
    assert predict_exit(pr, monkeypatch, ["--model", str(base), "--dataset", str(laws_csv), "--output", str(output)]) == 2
    err = capsys.readouterr().err
    assert f"--model {base}: no trained classifier head was saved with it" in err and "Traceback" not in err
    assert not output.exists()
