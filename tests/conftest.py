"""Offline fixtures: tiny models built from configs, a tokenizer trained in memory, synthetic law-like data.

Nothing here touches the network, a GPU or ../shared.
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before any Hugging Face import
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import csv
import importlib.util
import logging
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FAKE_TOKEN = "hf_FAKEtokenFORtests0123456789abcdefXYZ"  # planted: no output, file or upload may contain it
RUN_FILES = sorted(  # what a two-class training run writes, and pushes
    [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "README.md",
        "metrics.json",
        "splits.csv",
        "predictions.csv",
        "errors.csv",
        "pr_curve.png",
    ]
)
sys.path.insert(0, str(Path(__file__).resolve().parent))
# A one-epoch run of 80 rows in short windows: what most end-to-end tests train.
SMOKE = [
    "--max-length",
    "64",
    "--stride",
    "16",
    "--epochs",
    "1",
    "--batch-size",
    "8",
    "--learning-rate",
    "1e-3",
    "--max-samples",
    "80",
]

POSITIVE = [
    "the white and colored races shall be taught in separate schools",
    "no colored person shall ride in the coach set apart for white passengers",
    "marriages between a white person and a negro are forever prohibited",
    "separate waiting rooms shall be kept for the white and colored races",
    "the colored children of the district shall attend the colored school",
]
NEGATIVE = [
    "the commissioners may levy a tax for the repair of public roads and bridges",
    "the town of smithfield is hereby authorized to issue bonds for a water system",
    "the sheriff shall receive a fee of one dollar for each summons served",
    "the board shall meet on the first monday of each month at the courthouse",
    "the sum of five hundred dollars is appropriated for the county home",
]
FILLER = (
    "whereas the general assembly thinks it right to settle the duties of the county officers "
    "the provisions below apply to every township from the day the act is ratified"
).split()


def make_rows(n: int = 120, seed: int = 0, long_every: int = 10) -> list[dict]:
    """Synthetic sections: ~30% positive; `source` leaks the label (paschal rows are all positive);
    a duplicate group of three identical repeal clauses; every `long_every`-th row is long."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = 1 if i % 10 < 3 else 0
        sentence = rng.choice(POSITIVE if label else NEGATIVE)
        text = f"Section {i % 7 + 1}. That {sentence} in school district number {i}."
        if long_every and i % long_every == 5:
            text = " ".join(rng.choice(FILLER) for _ in range(150)) + " " + text  # the signal sits at the end
        source = "paschal" if label and i % 3 == 0 else "project experts"
        rows.append(
            {
                "id": f"law_{i:04d}",
                "source": source,
                "jim_crow": label,
                "type": rng.choice(["public laws", "private laws"]),
                "chapter_text": f"CHAPTER {i} AN ACT CONCERNING {'RACES' if label else 'COUNTIES'} NUMBER {i}",
                "section_text": text,
            }
        )
    for i in (i for i in (1, 11, 21) if i < n):  # a duplicate group (same section text, same label)
        rows[i]["section_text"] = (
            "That the earlier acts on this subject are repealed, and this act shall take effect at once."
        )
        rows[i]["jim_crow"] = 0
        rows[i]["source"] = "project experts"
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def train_tokenizer(model_max_length: int, extra_words: tuple[str, ...] = ()):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = (
        POSITIVE + NEGATIVE + [" ".join(FILLER)] + [r["chapter_text"] + " " + r["section_text"] for r in make_rows(60)]
    )
    corpus += [" ".join(extra_words)] * 20  # words a test needs as single tokens
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        corpus, trainers.WordPieceTrainer(vocab_size=400, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=model_max_length,
    )


def build_tiny_model(kind: str, folder: Path) -> Path:
    """A tiny randomly initialised model of a real architecture, saved like a Hub model folder."""
    import torch
    from transformers import AutoModelForSequenceClassification, BertConfig, ModernBertConfig, RobertaConfig

    torch.manual_seed(0)
    tokenizer = train_tokenizer(model_max_length=128)
    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id)
    if kind == "modernbert":
        config = ModernBertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            local_attention=16,
            global_attn_every_n_layers=2,
            cls_token_id=tokenizer.cls_token_id,
            sep_token_id=tokenizer.sep_token_id,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            **ids,
        )
    elif kind == "roberta":
        config = RobertaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=130,
            bos_token_id=tokenizer.cls_token_id,
            eos_token_id=tokenizer.sep_token_id,
            **ids,
        )
    else:
        config = BertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
            **ids,
        )
    model = AutoModelForSequenceClassification.from_config(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def import_script(name: str):
    """Import a top-level script as a module (the scripts are files, not a package)."""
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), ROOT / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as Python does for an imported module (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def in_a_scratch_folder(tmp_path, monkeypatch):
    """Each test runs in its own folder, so that a default --output-dir never lands in the checkout."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def library_logs_reach_an_open_stream():
    """transformers makes its stderr handler once, on the sys.stderr of that moment, and binds the handler's flush to
    that stream's: in a test that captures stderr, a stream closed when the test ends, so that a later test's log line
    becomes a "Logging error" traceback. Each test gives it the stream of the moment, and the handler's own flush."""
    for handler in logging.getLogger("transformers").handlers:
        if type(handler) is logging.StreamHandler:
            handler.stream = sys.stderr  # not setStream: it flushes the old stream first, which may be closed
            handler.__dict__.pop("flush", None)


@pytest.fixture(autouse=True)
def the_hub_validates_cards(monkeypatch):
    """A card's metadata is checked by the fake Hub, never by the real one (tests/fake_hub.py: validate_card)."""
    import fake_hub
    from huggingface_hub.repocard import RepoCard

    fake_hub.VALIDATED.clear()
    monkeypatch.setattr(RepoCard, "validate", fake_hub.validate_card)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    base = tmp_path_factory.mktemp("models")
    return {kind: build_tiny_model(kind, base / f"tiny-{kind}") for kind in ("modernbert", "roberta", "bert")}


@pytest.fixture(scope="session")
def laws_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "laws.csv", make_rows())


@pytest.fixture(scope="session")
def trainer_module():
    return import_script("train_modernbert.py")


@pytest.fixture(scope="session")
def roberta_module():
    return import_script("train_roberta.py")


class KilledJob(Exception):
    """Stands for a job killed by its timeout."""


@pytest.fixture
def killed_after_first_save(monkeypatch):
    """The next training dies right after its first checkpoint is saved (and its callbacks have run), as a job that
    hit its timeout; the fixture's value undoes that, for the run that resumes."""
    from transformers.trainer_callback import CallbackHandler

    original = CallbackHandler.on_save

    def on_save(self, *a, **k):
        original(self, *a, **k)
        raise KilledJob("killed after the first checkpoint")

    monkeypatch.setattr(CallbackHandler, "on_save", on_save)
    return lambda: monkeypatch.setattr(CallbackHandler, "on_save", original)


@pytest.fixture
def folder_hub(pr, monkeypatch, tmp_path):
    """The fake Hub that keeps its repos in a folder (tests/fake_hub.py), as the slice jobs' processes share it."""
    import huggingface_hub
    from fake_hub import FakeHub as FolderHub

    hub = FolderHub(tmp_path / "hub", [])
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_fake_token")
    monkeypatch.setattr(pr, "hub_api", lambda token: hub)
    return hub
