"""The scripts are self-contained copies (hf jobs ships one file): these tests fail when the copies drift."""

import difflib
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import sync_copies  # noqa: E402


def test_every_copy_matches_its_master():
    drifted = {
        p.name: "".join(difflib.unified_diff(p.read_text().splitlines(True), text.splitlines(True), n=1))[:2000]
        for p, text in sync_copies.expected_files().items()
        if p.read_text() != text
    }
    assert not drifted, f"copies drifted (run python tools/sync_copies.py): {drifted}"


def test_the_training_scripts_differ_in_the_default_model_line_only():
    modern = (ROOT / "train_modernbert.py").read_text().splitlines()
    roberta = (ROOT / "train_roberta.py").read_text().splitlines()
    assert len(modern) == len(roberta)
    differ = [(a, b) for a, b in zip(modern, roberta, strict=True) if a != b]
    assert differ == [
        (
            'DEFAULT_MODEL = "answerdotai/ModernBERT-base"  # the one line in which train_roberta.py differs',
            'DEFAULT_MODEL = "FacebookAI/roberta-base"  # the one line in which train_roberta.py differs',
        )
    ]


def test_what_a_copier_edits_sits_in_the_first_200_lines():
    lines = (ROOT / "train_modernbert.py").read_text().splitlines()
    where = {
        name: next(i for i, line in enumerate(lines) if line.startswith(name))
        for name in (
            "DEFAULT_MODEL",
            "PRESETS",
            "DATASET_ID",
            "LABEL_COLUMN",
            "DROP_COLUMNS",
            "REPO_NAME",
            "DATASET_CARD",
            "TASK_CARD",
        )
    }
    end_of_blocks = next(i for i in range(where["TASK_CARD"], len(lines)) if lines[i].startswith("# ====="))
    assert all(i < end_of_blocks for i in where.values())
    assert end_of_blocks < 200
    assert sum(line.startswith("# EDIT HERE") for line in lines) == 3


def test_embedded_card_template_equals_the_template_file(trainer_module, roberta_module):
    template = (ROOT / "model_card_template.md").read_text()
    assert trainer_module.EMBEDDED_CARD_TEMPLATE == template
    assert roberta_module.EMBEDDED_CARD_TEMPLATE == template


def test_shared_blocks_are_marked_in_the_master():
    blocks = sync_copies.shared_blocks((ROOT / "train_modernbert.py").read_text())
    assert set(blocks) == {"load_table", "windows", "labels", "hub_errors", "command", "lock"}
    assert "def load_table(" in blocks["load_table"] and "def predict_probs(" in blocks["windows"]
    assert "def predict_probs(" in (ROOT / "predict.py").read_text()


def test_the_check_detects_drift(tmp_path, monkeypatch):
    """The check is not vacuous: change one character of the RoBERTa copy and it reports it."""
    for name in ("train_modernbert.py", "train_roberta.py", "model_card_template.md"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    text = (tmp_path / "train_roberta.py").read_text()
    (tmp_path / "train_roberta.py").write_text(text.replace("def class_weights(", "def class_weights_(", 1))
    monkeypatch.setattr(sync_copies, "ROOT", tmp_path)
    monkeypatch.setattr(sync_copies, "MASTER", tmp_path / "train_modernbert.py")
    monkeypatch.setattr(sync_copies, "VARIANTS", {tmp_path / "train_roberta.py": '"FacebookAI/roberta-base"'})
    monkeypatch.setattr(sync_copies, "OTHER_SCRIPTS", [])
    monkeypatch.setattr(sys, "argv", ["sync_copies.py", "--check"])
    assert sync_copies.main() == 1
