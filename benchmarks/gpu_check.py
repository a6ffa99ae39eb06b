# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "torch>=2.6",
#     "transformers>=5.0",
# ]
# ///
"""GPU check: how fast ModernBERT-base and RoBERTa-base fine-tune at this dataset's real length
distribution, in tokens per second and model-FLOPs utilisation (MFU) against the card's bf16 peak.

Needs only torch and transformers, and nothing from the network: both models are built from their
published configs with random weights (speed does not depend on the weights), and the token
lengths are drawn from a percentile table measured once on the real data (LENGTH_PERCENTILES).

    bash benchmarks/gpu_check.sh                        # on the GPU machine: the whole check, a few minutes
    python benchmarks/gpu_check.py --models modernbert  # one model
    python benchmarks/gpu_check.py --smoke              # tiny CPU models: tests the code, its numbers mean nothing

For each model, one epoch over the training split (about 1,428 rows), batch 16, AdamW, bf16 autocast
(on GPUs of compute capability 8.0 or newer) and tf32, as the training scripts run on a GPU, along two paths:

- padded: length-grouped batches padded to their longest window (the training scripts' way), SDPA;
- naive:  random order, every window padded to the maximum length, SDPA.

MFU = 6 x N x real tokens per second / the card's dense bf16 peak, with N the non-embedding
parameters (an embedding lookup is not a matrix product); attention-score FLOPs are not counted.

Before the timings, a padding check per model: a short window batched with a full-length one, as the
length-grouped batches mix them. transformers 5.x no longer unpads ModernBERT, and in its sliding-window
layers a pad position far past the short window's end attends to pads only (a fully masked row). The
short window's logits in the batch must equal its logits alone within the bf16 noise floor (10 x the
gap between bf16 and fp32 on the window alone), and every gradient must be finite; else the check fails.
"""

import argparse
import bisect
import gc
import json
import random
import sys
import time
from pathlib import Path

# Token lengths of chapter_text + "\n\n" + section_text, [CLS] and [SEP] included, over all 1,785 rows of
# biglam/on_the_books (local copy, sha256 644b0611...), measured with the all-MiniLM-L6-v2 WordPiece
# tokenizer (tokenizer(texts) without truncation; numpy.percentile, linear) as a proxy for the BPE
# tokenizers of ModernBERT and RoBERTa: mean 228, median 149, 98% of rows under 1,031 tokens.
# (percentile, tokens)
LENGTH_PERCENTILES = [
    (0, 31),
    (1, 45),
    (2, 49),
    (5, 58),
    (10, 71),
    (15, 82),
    (20, 92),
    (25, 101),
    (30, 109),
    (35, 117),
    (40, 127),
    (45, 136),
    (50, 149),
    (55, 163),
    (60, 180),
    (65, 199),
    (70, 221),
    (75, 247),
    (80, 280),
    (85, 329),
    (90, 410),
    (92, 443),
    (94, 508),
    (95, 553),
    (96, 629),
    (97, 757),
    (98, 1031),
    (99, 1581),
    (99.5, 2439),
    (100, 4976),
]
ROWS = 1428  # the training split: 80% of 1,785 rows
BATCH_SIZE = 16
LEARNING_RATE = 5e-5

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, in TFLOP/s, matched in this
# order against torch.cuda.get_device_name(). Pass --peak-tflops for a card not listed.
BF16_PEAK_TFLOPS = [
    ("H200", 989),
    ("H100 PCIe", 756),
    ("H100 NVL", 835),
    ("H100", 989),  # SXM
    ("A100", 312),
    ("A10G", 125),  # the A10's data-sheet figure: NVIDIA publishes no separate sheet for AWS's A10G
    ("A10", 125),
    ("L40S", 362),
    ("L4", 121),
]

# The published configs (config.json of answerdotai/ModernBERT-base and FacebookAI/roberta-base), with
# random weights. ModernBERT's classifier_pooling is "mean" in the published config.
MODERNBERT_BASE = dict(
    vocab_size=50368,
    hidden_size=768,
    num_hidden_layers=22,
    num_attention_heads=12,
    intermediate_size=1152,
    max_position_embeddings=8192,
    global_attn_every_n_layers=3,
    local_attention=128,
    global_rope_theta=160000.0,
    local_rope_theta=10000.0,
    hidden_activation="gelu",
    norm_eps=1e-5,
    norm_bias=False,
    classifier_pooling="mean",
    pad_token_id=50283,
    cls_token_id=50281,
    sep_token_id=50282,
    bos_token_id=50281,
    eos_token_id=50282,
)
ROBERTA_BASE = dict(
    vocab_size=50265,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=514,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    hidden_act="gelu",
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
# --smoke: the same architectures, tiny, so that the whole check runs on a CPU in seconds.
SMOKE = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, vocab_size=1024)
# (config, tokens per window, stride) as in train_modernbert.py and train_roberta.py
MODELS = {
    "modernbert": ("ModernBERT-base", MODERNBERT_BASE, 1024, 256),
    "roberta": ("RoBERTa-base", ROBERTA_BASE, 512, 128),
}


# ---------------------------------------------------------------------------
# Lengths and windows
# ---------------------------------------------------------------------------
def sample_lengths(n: int, seed: int, table=LENGTH_PERCENTILES) -> list[int]:
    """n token lengths whose distribution follows the percentile table (inverse CDF, linear between points)."""
    rng = random.Random(seed)
    ps = [p for p, _ in table]
    out = []
    for _ in range(n):
        u = rng.random() * 100
        i = min(max(bisect.bisect_right(ps, u), 1), len(ps) - 1)
        (p0, v0), (p1, v1) = table[i - 1], table[i]
        out.append(round(v0 + (v1 - v0) * (u - p0) / (p1 - p0)))
    return out


def window_lengths(length: int, max_length: int, stride: int, special: int = 2) -> list[int]:
    """The lengths of the windows the tokenizer's overflow makes of one text (what tokenize_windows does):
    max_length - special content tokens each, consecutive windows sharing `stride` tokens."""
    if length <= max_length:
        return [length]
    content, per = length - special, max_length - special
    out, start = [], 0
    while True:
        out.append(min(per, content - start) + special)
        if start + per >= content:
            return out
        start += per - stride


def make_windows(
    lengths: list[int], max_length: int, stride: int, config, seed: int
) -> tuple[list[list[int]], list[int]]:
    """Random token ids for each window ([CLS]/<s> first, [SEP]/</s> last) and a random 0/1 label per row."""
    rng = random.Random(seed)
    first = getattr(config, "cls_token_id", None) or config.bos_token_id
    last = getattr(config, "sep_token_id", None) or config.eos_token_id
    specials = (first, last, config.pad_token_id)
    # ordinary ids: between the special ids and the end of the vocabulary, or below them when they sit at its end
    low, high = (
        (max(specials) + 1, config.vocab_size) if max(specials) + 100 < config.vocab_size else (3, min(specials))
    )
    windows, labels = [], []
    for length in lengths:
        label = rng.randint(0, 1)
        for n in window_lengths(length, max_length, stride):
            windows.append([first] + [rng.randrange(low, high) for _ in range(n - 2)] + [last])
            labels.append(label)
    return windows, labels


def plan_batches(lengths: list[int], batch_size: int, strategy: str, seed: int) -> list[list[int]]:
    """One epoch of batches: length-grouped as the Trainer's group_by_length does, or plain random."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if strategy == "grouped":
        order = list(LengthGroupedSampler(batch_size, lengths=lengths, generator=generator))
    else:
        order = torch.randperm(len(lengths), generator=generator).tolist()
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------
def build_config(key: str, smoke: bool, max_length: int):
    from transformers import ModernBertConfig, RobertaConfig

    values = dict(MODELS[key][1], num_labels=2)
    if smoke:
        values.update(
            SMOKE,
            intermediate_size=96 if key == "modernbert" else 128,
            max_position_embeddings=max_length + (2 if key == "roberta" else 0),
        )
        if key == "modernbert":
            values.update(
                local_attention=32, pad_token_id=0, cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2
            )
    return ModernBertConfig(**values) if key == "modernbert" else RobertaConfig(**values)


def build_model(config, attention: str, device):
    import torch
    from transformers import AutoModelForSequenceClassification, set_seed

    set_seed(0)
    with torch.device(device):  # initialise the weights on the GPU: seconds, not a minute on the CPU
        model = AutoModelForSequenceClassification.from_config(config, attn_implementation=attention)
    return model.train()


def native_bf16(device) -> bool:
    """bf16 where the GPU computes it natively (compute capability 8.0 or newer); a T4 only emulates it."""
    import torch

    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


def count_parameters(model) -> tuple[int, int]:
    """(all parameters, non-embedding parameters: without token, position and token-type embedding tables)."""
    import torch

    embedding = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    total = sum(p.numel() for p in model.parameters())
    return total, total - embedding


def pad_batch(seqs: list[list[int]], pad_id: int, length: int, device):
    import torch

    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids.to(device), mask.to(device)


def padding_check(key: str, args, device) -> dict:
    """A short window padded to the length of a full one in the same batch: its logits against its logits alone,
    and every gradient finite (see the module docstring)."""
    import torch

    name, _, max_length, _ = MODELS[key]
    max_length = args.smoke_max_length if args.smoke else max_length
    config = build_config(key, args.smoke, max_length)
    bf16 = native_bf16(device)
    model = build_model(config, "sdpa", device).eval()  # no dropout: the same window must give the same logits
    g = torch.Generator().manual_seed(args.seed)
    short, full = (torch.randint(5, config.vocab_size, (n,), generator=g).tolist() for n in (30, max_length))

    def logits(seqs, low_precision: bool):
        ids, mask = pad_batch(seqs, config.pad_token_id, max(len(s) for s in seqs), device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=low_precision):
            return model(input_ids=ids, attention_mask=mask).logits.float()

    with torch.no_grad():
        alone = logits([short], bf16)[0]
        noise = (alone - logits([short], False)[0]).abs().max().item()
    batched = logits([full, short], bf16)
    gap = (batched[1].detach() - alone).abs().max().item()
    batched.sum().backward()
    finite = all(torch.isfinite(p.grad).all().item() for p in model.parameters() if p.grad is not None)
    tolerance = max(10 * noise, 1e-4)
    return {
        "model": name,
        "padded_to": max_length,
        "logit_gap": gap,
        "tolerance": tolerance,
        "gradients_finite": finite,
        "passed": finite and gap <= tolerance,
    }


# ---------------------------------------------------------------------------
# One path: one epoch, timed
# ---------------------------------------------------------------------------
def run_path(key: str, path: str, windows, labels, args, device, peak) -> dict:
    import torch

    name, _, max_length, _ = MODELS[key]
    if args.smoke:
        max_length = args.smoke_max_length
    config = build_config(key, args.smoke, max_length)
    cuda = device.type == "cuda"
    bf16 = native_bf16(device)
    attention = "sdpa"
    if cuda:
        gc.collect()  # the previous path's model and optimizer, before measuring this one's peak
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = build_model(config, attention, device)
    total_params, dense_params = count_parameters(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.01)
    lengths = [len(w) for w in windows]
    batches = plan_batches(lengths, args.batch_size, "random" if path == "naive" else "grouped", args.seed)
    label_tensor = torch.tensor(labels)

    def step(batch, update=True) -> int:
        """One forward + backward (+ AdamW step); returns the tokens computed, padding included."""
        seqs = [windows[i] for i in batch]
        y = label_tensor[batch].to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            width = max_length if path == "naive" else max(len(s) for s in seqs)
            computed = len(seqs) * width
            ids, mask = pad_batch(seqs, config.pad_token_id, width, device)
            logits = model(input_ids=ids, attention_mask=mask).logits
        loss = torch.nn.functional.cross_entropy(logits.float(), y)
        loss.backward()
        if update:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return computed

    # Untimed: one forward + backward on the longest windows (start-up costs; an out-of-memory error shows at once).
    step(sorted(range(len(lengths)), key=lambda i: -lengths[i])[: args.batch_size], update=False)
    if cuda:
        torch.cuda.synchronize()
    real = computed = 0
    tick = time.perf_counter()
    for _ in range(args.epochs):
        for batch in batches:
            computed += step(batch)
            real += sum(lengths[i] for i in batch)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - tick
    tokens_per_s = real / seconds
    result = {
        "model": name,
        "path": path,
        "attention": attention,
        "precision": "bf16 autocast" if bf16 else "fp32",
        "windows": len(windows),
        "steps": len(batches) * args.epochs,
        "max_length": max_length,
        "real_tokens": real // args.epochs,
        "computed_tokens": computed // args.epochs,
        "padding_efficiency": real / computed,
        "epoch_seconds": seconds / args.epochs,
        "real_tokens_per_second": tokens_per_s,
        "peak_memory_gb": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        "parameters": total_params,
        "non_embedding_parameters": dense_params,
        "mfu": 6 * dense_params * tokens_per_s / peak if peak else None,
        "mfu_counting_padding": 6 * dense_params * computed / seconds / peak if peak else None,
    }
    return result  # the model and optimizer go with this frame; the next path starts by emptying the cache


def enable_tf32(torch) -> None:
    """What the Trainer's tf32=True sets: torch 2.9's fp32_precision where it exists (reading the old flags after it
    raises), else the old allow_tf32 flags."""
    if hasattr(torch.backends, "fp32_precision"):
        torch.backends.fp32_precision = "tf32"
    else:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True


def bf16_peak(device_name: str) -> float | None:
    for part, tflops in BF16_PEAK_TFLOPS:
        if part.lower() in device_name.lower():
            return tflops * 1e12
    return None


# ---------------------------------------------------------------------------
# Report and main
# ---------------------------------------------------------------------------
def fmt(value, spec: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, spec)


def table(results: list[dict]) -> str:
    lines = [
        "| model | path | attention | windows | real tokens | computed tokens | padding efficiency | epoch (s) "
        "| real tokens/s | peak memory (GB) | MFU | MFU counting padding |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['model']} | {r['path']} | {r['attention']} | {r['windows']:,} | {r['real_tokens']:,}"
            f" | {r['computed_tokens']:,} | "
            f"{r['padding_efficiency']:.1%} | {r['epoch_seconds']:.2f} | {r['real_tokens_per_second']:,.0f} | "
            f"{fmt(r['peak_memory_gb'], '.1f')} | {fmt(r['mfu'], '.1%')} | {fmt(r['mfu_counting_padding'], '.1%')} |"
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--models",
        default="modernbert,roberta",
        help="comma-separated, from modernbert, roberta (default: modernbert,roberta)",
    )
    p.add_argument(
        "--paths", default="padded,naive", help="comma-separated, from padded, naive (default: padded,naive)"
    )
    p.add_argument(
        "--rows",
        type=int,
        default=ROWS,
        help=f"texts per epoch; each longer than a window becomes several windows (default: {ROWS})",
    )
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"training batch size (default: {BATCH_SIZE})")
    p.add_argument("--epochs", type=int, default=1, help="epochs per path (default: 1)")
    p.add_argument("--seed", type=int, default=0, help="seed for the lengths, token ids and batch order (default: 0)")
    p.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the card's dense bf16 peak in TFLOP/s (default: looked up by GPU name)",
    )
    p.add_argument(
        "--smoke",
        action="store_true",
        help="tiny models (2 layers, width 64), 200 rows, windows of 128 tokens, fp32 on one CPU thread:"
        " tests the code in seconds (default: off)",
    )
    p.add_argument("--output", default="gpu_check.json", help="JSON file for the numbers (default: gpu_check.json)")
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    args.paths = [m.strip() for m in args.paths.split(",") if m.strip()]
    if bad := [m for m in args.models if m not in MODELS]:
        p.error(f"--models: unknown {bad}; use modernbert, roberta")
    if bad := [m for m in args.paths if m not in ("padded", "naive")]:
        p.error(f"--paths: unknown {bad}; use padded, naive")
    args.smoke_max_length = 128
    if args.smoke and args.rows == ROWS:
        args.rows = 200
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import transformers

    device = torch.device("cpu" if args.smoke or not torch.cuda.is_available() else "cuda")
    if device.type == "cuda":
        enable_tf32(torch)
        gpu = torch.cuda.get_device_name()
    else:
        gpu = "CPU"
        torch.set_num_threads(1)  # on a CPU shared with other jobs, two spinning threads ran 5 to 25 times slower
        if not args.smoke:
            print(
                "No CUDA device: this check is meant for a GPU (use --smoke to test the code on a CPU).",
                file=sys.stderr,
            )
    peak = args.peak_tflops * 1e12 if args.peak_tflops else bf16_peak(gpu) if device.type == "cuda" else None
    print(
        f"device: {gpu}; dense bf16 peak: {fmt(peak and peak / 1e12, '.0f', 'unknown (pass --peak-tflops)')} TFLOP/s"
        f"{' (--peak-tflops)' if args.peak_tflops else ''}; torch {torch.__version__},"
        f" transformers {transformers.__version__}, "
        f"CUDA {torch.version.cuda}"
    )
    lengths = sample_lengths(args.rows, args.seed)
    print(
        f"{args.rows:,} rows with token lengths drawn from the measured percentiles:"
        f" mean {sum(lengths) / len(lengths):.0f}, "
        f"median {sorted(lengths)[len(lengths) // 2]}, max {max(lengths)};"
        f" batch {args.batch_size}, {args.epochs} epoch(s)"
    )

    results, notes, failed, checks = [], [], 0, []
    for key in args.models:
        checks.append(padding_check(key, args, device))
        c = checks[-1]
        print(
            f"{c['model']} padding check: a 30-token window beside a {c['padded_to']}-token one: logit gap "
            f"{c['logit_gap']:.2e} (tolerance {c['tolerance']:.2e}), gradients finite: {c['gradients_finite']}:"
            f" {'passed' if c['passed'] else 'FAILED'}",
            flush=True,
        )
        failed += not c["passed"]
        name, _, max_length, stride = MODELS[key]
        if args.smoke:
            max_length, stride = args.smoke_max_length, 32
        config = build_config(key, args.smoke, max_length)
        windows, labels = make_windows(lengths, max_length, stride, config, args.seed)
        for path in args.paths:
            try:
                r = run_path(key, path, windows, labels, args, device, peak)
            except Exception as err:  # report and go on: the other paths' numbers are still worth having
                failed += 1
                notes.append(
                    f"{name} {path}: FAILED, {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                )
                print(notes[-1], flush=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            results.append(r)
            print(
                f"{name} {path}: {r['real_tokens_per_second']:,.0f} real tokens/s,"
                f" padding efficiency {r['padding_efficiency']:.1%}, "
                f"epoch {r['epoch_seconds']:.2f} s, MFU {fmt(r['mfu'], '.1%')}",
                flush=True,
            )

    print(f"\n{table(results)}\n")
    for note in notes:
        print(f"- {note}")
    print(
        "- MFU = 6 x non-embedding parameters x real tokens/s / dense bf16 peak;"
        " 'counting padding' uses computed tokens."
    )
    report = {
        "device": gpu,
        "peak_flops": peak,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "cuda": torch.version.cuda},
        "smoke": args.smoke,
        "rows": args.rows,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "padding_checks": checks,
        "results": results,
        "notes": notes,
    }
    Path(args.output).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
