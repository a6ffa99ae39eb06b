"""The scripts are self-contained copies (hf jobs ships one file): these tests fail when the copies drift."""

import difflib
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import sync_copies  # noqa: E402


def test_every_copy_matches_its_master():
    drifted = {p.name: "".join(difflib.unified_diff(p.read_text().splitlines(True), text.splitlines(True), n=1))[:2000]
               for p, text in sync_copies.expected_files().items() if p.read_text() != text}
    assert not drifted, f"copies drifted (run python tools/sync_copies.py): {drifted}"


def test_training_scripts_differ_only_in_the_presets_block():
    modern = (ROOT / "train_modernbert.py").read_text()
    roberta = (ROOT / "train_roberta.py").read_text()
    assert sync_copies.shared_part(modern) == sync_copies.shared_part(roberta)
    assert sync_copies.presets_part(modern) != sync_copies.presets_part(roberta)
    # the presets block is small and at the top
    assert len(sync_copies.presets_part(modern).splitlines()) < 90


def test_embedded_card_template_equals_the_template_file(trainer_module, roberta_module):
    template = (ROOT / "model_card_template.md").read_text()
    assert trainer_module.EMBEDDED_CARD_TEMPLATE == template
    assert roberta_module.EMBEDDED_CARD_TEMPLATE == template


def test_shared_blocks_are_marked_in_the_master():
    blocks = sync_copies.shared_blocks((ROOT / "train_modernbert.py").read_text())
    assert {"load_table", "windows", "packing"} <= set(blocks)
    assert "def load_table(" in blocks["load_table"] and "def predict_probs(" in blocks["windows"]
    assert "def packed_logits(" in blocks["packing"]
    assert "def packed_logits(" in (ROOT / "benchmarks" / "gpu_check.py").read_text()  # the GPU check times the scripts' own code


def test_the_check_detects_drift(tmp_path, monkeypatch):
    """The check is not vacuous: change one character of the RoBERTa copy and it reports it."""
    fake_root = tmp_path
    for name in ("train_modernbert.py", "train_roberta.py", "model_card_template.md"):
        (fake_root / name).write_text((ROOT / name).read_text())
    text = (fake_root / "train_roberta.py").read_text()
    (fake_root / "train_roberta.py").write_text(text.replace("def class_weights(", "def class_weights_(", 1))
    monkeypatch.setattr(sync_copies, "ROOT", fake_root)
    monkeypatch.setattr(sync_copies, "MASTER", fake_root / "train_modernbert.py")
    monkeypatch.setattr(sync_copies, "VARIANTS", [fake_root / "train_roberta.py"])
    monkeypatch.setattr(sync_copies, "OTHER_SCRIPTS", [])
    monkeypatch.setattr(sys, "argv", ["sync_copies.py", "--check"])
    assert sync_copies.main() == 1
