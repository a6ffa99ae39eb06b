"""ModernBERT without padding: packed training batches (pack_windows + packed_logits, FlashAttention-2 on a
GPU) must give what the padded path gives. FlashAttention-2 needs a CUDA GPU, so these tests run the packed
path on the CPU with two stand-ins: block-diagonal masks, and a reference kernel written with torch that takes
what flash_attn's variable-length kernel takes (the scripts' FlashAttention-2 branch). They also check that the
choice of path falls back to SDPA where FlashAttention-2 is missing, and says so."""

import json
import logging

import pytest
import torch
from conftest import make_rows

FAST = ["--max-length", "64", "--stride", "16", "--batch-size", "8", "--learning-rate", "1e-3"]


@pytest.fixture(scope="module")
def t(trainer_module):
    return trainer_module


def tiny_modernbert(pooling: str, sliding: int = 8):
    from transformers import ModernBertConfig, ModernBertForSequenceClassification

    torch.manual_seed(0)
    config = ModernBertConfig(vocab_size=300, hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=48,
                              max_position_embeddings=128, local_attention=2 * sliding, global_attn_every_n_layers=3,
                              pad_token_id=0, cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2,
                              classifier_pooling=pooling, attn_implementation="sdpa", num_labels=2)
    return ModernBertForSequenceClassification(config).eval()


def windows_of(lengths, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [[1, *torch.randint(3, 300, (n - 2,), generator=g).tolist(), 2] for n in lengths]


def padded(windows, labels=None):
    width = max(map(len, windows))
    batch = {"input_ids": torch.tensor([w + [0] * (width - len(w)) for w in windows]),
             "attention_mask": torch.tensor([[1] * len(w) + [0] * (width - len(w)) for w in windows])}
    if labels is not None:
        batch["labels"] = torch.tensor(labels)
    return batch


def test_pack_windows_lays_windows_end_to_end_with_their_boundaries(t):
    windows = windows_of([5, 3, 7])
    batch = t.pack_windows([{"input_ids": w, "attention_mask": [1] * len(w), "labels": y} for w, y in zip(windows, [1, 0, 1])])
    assert batch["input_ids"].tolist() == [windows[0] + windows[1] + windows[2]]  # one row, no pad token anywhere
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6]]
    assert batch["cu_seq_lens_q"].tolist() == batch["cu_seq_lens_k"].tolist() == [0, 5, 8, 15]
    assert batch["max_length_q"] == batch["max_length_k"] == 7
    assert batch["labels"].tolist() == [1, 0, 1]  # one label per window, not per token
    assert "labels" not in t.pack_windows([{"input_ids": w} for w in windows])


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_packed_logits_equal_the_padded_models_logits(t, pooling):
    """Windows longer and shorter than the sliding window, in one packed row: each attends only to itself."""
    model = tiny_modernbert(pooling, sliding=8)
    windows = windows_of([40, 3, 17, 64, 9, 25])
    with torch.no_grad():
        expected = model(**padded(windows)).logits
        got = t.packed_logits(model, t.pack_windows([{"input_ids": w} for w in windows]))
    assert got.shape == expected.shape == (6, 2)
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
    # why packed_logits exists: the stock classifier, given the packed row, pools all six windows into one answer
    with torch.no_grad():
        packed = t.pack_windows([{"input_ids": w} for w in windows])
        stock = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"]).logits
    assert stock.shape == (1, 2)


def reference_varlen_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, sliding_window=None,
                               cu_seq_lens_q=None, cu_seq_lens_k=None, max_length_q=None, max_length_k=None, **_):
    """What FlashAttention-2 computes, written with torch for the CPU. A packed row (batch of one, no mask): the windows
    kept apart only by cu_seq_lens. A padded batch (evaluation): each row's real tokens only, zeros at the padding, as
    transformers' unpad/pad around flash_attn gives. A sliding window of (sliding_window - 1) tokens each side, as
    transformers passes it to flash_attn (window_size). Any of these arguments missing or wrong changes the result."""
    if cu_seq_lens_q is not None:  # a packed row
        assert attention_mask is None and query.shape[0] == 1 and torch.equal(cu_seq_lens_q, cu_seq_lens_k)
        assert cu_seq_lens_q.dtype == torch.int32
        bounds = cu_seq_lens_q.tolist()
        assert max_length_q == max_length_k == max(b - a for a, b in zip(bounds, bounds[1:]))
        spans = [(0, a, b) for a, b in zip(bounds, bounds[1:])]
    elif attention_mask is not None:  # a padded batch, padded on the right
        assert attention_mask.dim() == 2
        spans = [(row, 0, int(n)) for row, n in enumerate(attention_mask.sum(1).tolist())]
    else:  # a batch with no padding at all
        spans = [(row, 0, query.shape[2]) for row in range(query.shape[0])]
    out = torch.zeros_like(query)
    for row, a, b in spans:
        mask = None
        if sliding_window is not None:
            pos = torch.arange(b - a)
            mask = (pos[:, None] - pos[None, :]).abs() <= sliding_window - 1
        out[row, :, a:b] = torch.nn.functional.scaled_dot_product_attention(
            query[row, :, a:b], key[row, :, a:b], value[row, :, a:b], attn_mask=mask, scale=scaling)
    return out.transpose(1, 2).contiguous(), None


@pytest.fixture(scope="module")
def flash_reference():
    """The reference kernel, registered under a name with "flash" in it, as transformers names FlashAttention."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, flash_attention_mask

    AttentionInterface.register("flash_reference", reference_varlen_attention)
    AttentionMaskInterface.register("flash_reference", flash_attention_mask)
    return "flash_reference"


def test_packed_logits_give_flash_attention_only_the_window_boundaries(t, flash_reference):
    """The FlashAttention-2 branch of packed_logits on the CPU: the reference kernel receives the packed row with
    cu_seq_lens and no mask, and the logits equal the padded SDPA model's; padded batches agree too."""
    model = tiny_modernbert("mean", sliding=8)
    windows = windows_of([40, 3, 17, 64, 9])
    with torch.no_grad():
        expected = model(**padded(windows)).logits
        model.config._attn_implementation = flash_reference  # set directly: set_attn_implementation would look for flash_attn
        got = t.packed_logits(model, t.pack_windows([{"input_ids": w} for w in windows]))
        padded_flash = model(**padded(windows)).logits
    assert torch.allclose(got, expected, atol=1e-5), (got - expected).abs().max()
    assert torch.allclose(padded_flash, expected, atol=1e-5), (padded_flash - expected).abs().max()


def test_packed_loss_through_the_trainer_equals_the_padded_loss_and_gradients(t, tmp_path):
    """PipelineTrainer.compute_loss on a packed batch and on the same windows padded: same weighted loss, same gradients."""
    from transformers import TrainingArguments

    model = tiny_modernbert("mean")
    weights = torch.tensor([0.7, 1.9])
    trainer = t.pipeline_trainer()(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to="none", use_cpu=True),
                                   compute_loss_func=lambda out, y, num_items_in_batch=None: torch.nn.functional.cross_entropy(
                                       out["logits"].float(), y, weight=weights))
    windows, labels = windows_of([30, 12, 50, 4]), [1, 0, 0, 1]
    results = []
    for batch in (padded(windows, labels), t.pack_windows([{"input_ids": w, "labels": y} for w, y in zip(windows, labels)])):
        model.zero_grad()
        loss, outputs = trainer.compute_loss(model, dict(batch), return_outputs=True)
        loss.backward()
        results.append((loss.detach(), outputs["logits"].detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]))
    (loss_pad, logits_pad, grads_pad), (loss_pack, logits_pack, grads_pack) = results
    assert "cu_seq_lens_q" in t.pack_windows([{"input_ids": w} for w in windows])  # the second batch took the packed branch
    assert loss_pack == pytest.approx(loss_pad.item(), abs=1e-6)
    assert torch.allclose(logits_pack, logits_pad, atol=1e-5)
    assert len(grads_pack) == len(grads_pad) > 0
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads_pack, grads_pad))


NO_FLASH = "neither flash-attn nor kernels is installed; hf jobs uv run --with kernels ... adds it"


@pytest.mark.parametrize("requested,model_type,cuda,bf16,flash_problem,implementation,packed,why", [
    ("auto", "modernbert", True, True, None, "flash_attention_2", True, "--attention auto"),
    ("auto", "modernbert", False, False, None, None, False, "no CUDA GPU"),
    ("auto", "modernbert", True, False, None, None, False, "no bf16"),
    ("auto", "modernbert", True, True, NO_FLASH, None, False, "FlashAttention-2 not used: " + NO_FLASH),
    ("auto", "roberta", True, True, None, None, False, "only ModernBERT is packed"),
    ("auto", "bert", False, False, None, None, False, "FlashAttention-2 not used: no CUDA GPU"),
    ("sdpa", "modernbert", True, True, None, "sdpa", False, "--attention sdpa"),
    ("flash_attention_2", "modernbert", True, True, None, "flash_attention_2", True, "--attention flash_attention_2"),
    ("flash_attention_2", "roberta", True, True, None, "flash_attention_2", False, "--attention flash_attention_2"),
])
def test_choose_attention(t, requested, model_type, cuda, bf16, flash_problem, implementation, packed, why):
    choice = t.choose_attention(requested, model_type, cuda, bf16, flash_problem)
    assert (choice["requested"], choice["implementation"], choice["packed"]) == (requested, implementation, packed)
    assert why in choice["why"]


def test_asking_for_flash_attention_where_it_cannot_run_is_refused(t):
    with pytest.raises(t.UserError, match="needs a CUDA GPU and FlashAttention-2 \\(no CUDA GPU here\\)"):
        t.choose_attention("flash_attention_2", "modernbert", False, False, None)
    with pytest.raises(t.UserError, match="neither flash-attn nor kernels is installed"):
        t.choose_attention("flash_attention_2", "modernbert", True, True, NO_FLASH)


def test_the_flash_attention_problem_names_what_is_missing(t, monkeypatch):
    from importlib import metadata

    from transformers.utils import import_utils

    monkeypatch.setattr(import_utils, "is_flash_attn_2_available", lambda *a, **k: False)
    monkeypatch.setattr(import_utils, "is_kernels_available", lambda *a, **k: False)
    monkeypatch.setattr(metadata, "version", lambda name: (_ for _ in ()).throw(metadata.PackageNotFoundError(name)))
    assert t.flash_attention_problem() == NO_FLASH
    monkeypatch.setattr(metadata, "version", lambda name: "0.1.0")
    assert t.flash_attention_problem().startswith("kernels 0.1.0 is installed, but this transformers takes kernels>=")
    monkeypatch.setattr(import_utils, "is_kernels_available", lambda *a, **k: True)
    assert t.flash_attention_problem() is None


def test_auto_falls_back_to_the_default_attention_when_flash_attention_fails_to_load(t, tiny_models, caplog):
    """On this CPU machine loading with FlashAttention-2 raises ImportError: auto mode warns and trains padded."""
    choice = {"requested": "auto", "implementation": "flash_attention_2", "packed": True, "why": "--attention auto on a bf16 GPU with FlashAttention-2"}
    with caplog.at_level(logging.WARNING):
        model, _, loaded = t.load_model(str(tiny_models["modernbert"]), ["a", "b"], None, choice)
    assert loaded["packed"] is False and loaded["loaded"] == model.config._attn_implementation == "sdpa"
    assert "failed to load (ImportError)" in loaded["why"] and "FlashAttention-2 did not load" in caplog.text
    with pytest.raises(ImportError):  # asked for by name: no silent fallback
        t.load_model(str(tiny_models["modernbert"]), ["a", "b"], None, {**choice, "requested": "flash_attention_2"})


@pytest.mark.parametrize("kernel", ["flash_reference", "masks"])
def test_packed_training_runs_end_to_end_and_matches_padded_training(t, tiny_models, laws_csv, tmp_path, monkeypatch, kernel, flash_reference):
    """The whole training script on packed batches, with the FlashAttention-2 branch (the reference kernel: packed
    training batches by cu_seq_lens, padded evaluation batches by their mask) or with block-diagonal masks:
    padding efficiency 1.0, every real token of every epoch counted, the card says so, and the run equals the padded one."""
    from transformers import AutoTokenizer

    runs = {}
    for path in ("padded", "packed"):
        if path == "packed":
            monkeypatch.setattr(t, "choose_attention", lambda *a, **k: {"requested": "auto", "implementation": "sdpa", "packed": True,
                                                                         "why": "test: forced"})
            if kernel == "flash_reference":
                load_model = t.load_model

                def load_with_reference_kernel(*args):
                    model, tokenizer, attention = load_model(*args)
                    model.config._attn_implementation = flash_reference
                    return model, tokenizer, {**attention, "loaded": flash_reference}

                monkeypatch.setattr(t, "load_model", load_with_reference_kernel)
        out = tmp_path / path
        assert t.main(["--dataset", str(laws_csv), "--model", str(tiny_models["modernbert"]), "--no-push",
                       "--output-dir", str(out), "--epochs", "2", *FAST]) == 0
        runs[path] = (out, json.loads((out / "metrics.json").read_text()))
    (_, padded_run), (packed_out, packed_run) = runs["padded"], runs["packed"]
    # the real tokens of the training windows, counted by hand: two epochs of them, on both paths
    table = t.load_table(str(laws_csv))
    texts = dict(zip(table["id"], t.build_texts(table, ["chapter_text", "section_text"])))
    with (packed_out / "splits.csv").open() as f:
        train_texts = [texts[line.split(",")[0]] for line in f.read().splitlines()[1:] if line.endswith(",train")]
    windows = t.tokenize_windows(AutoTokenizer.from_pretrained(tiny_models["modernbert"]), train_texts, 64, 16)
    expected = 2 * sum(map(len, windows["input_ids"]))
    tokens = packed_run["training_tokens"]
    assert tokens["real"] == tokens["computed"] == expected and tokens["padding_efficiency"] == 1.0
    assert padded_run["training_tokens"]["real"] == expected < padded_run["training_tokens"]["computed"]
    assert packed_run["attention"]["packed"] is True
    loaded = "flash_reference" if kernel == "flash_reference" else "sdpa"
    assert packed_run["attention"]["description"] == f"{loaded} on packed batches, no padding (test: forced)"
    assert f"attention {packed_run['attention']['description']}" in (packed_out / "README.md").read_text()
    # the same batches and the same loss: the two runs agree up to float rounding, epoch by epoch
    assert packed_run["split_sizes"] == padded_run["split_sizes"] and len(make_rows()) == packed_run["rows"]["used"]
    for packed_epoch, padded_epoch in zip(packed_run["validation_history"], padded_run["validation_history"], strict=True):
        assert packed_epoch["loss"] == pytest.approx(padded_epoch["loss"], abs=1e-4)
    assert packed_run["test"]["roc_auc"] == pytest.approx(padded_run["test"]["roc_auc"], abs=1e-6)
    # the saved model does not carry the training kernel: it loads anywhere, with the default attention
    from transformers import AutoModelForSequenceClassification

    assert not {"attn_implementation", "_attn_implementation"} & set(json.loads((packed_out / "config.json").read_text()))
    assert AutoModelForSequenceClassification.from_pretrained(packed_out).config._attn_implementation == "sdpa"
