# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "accelerate>=1.10",
#     "datasets>=4.0",
#     "huggingface_hub>=1.0",
#     "jinja2>=3.1",
#     "scikit-learn>=1.5",
#     "torch>=2.6",
#     "transformers>=5.0",
# ]
# ///
# --- MODEL PRESETS: train_modernbert.py and train_roberta.py differ only between these markers ---
"""Fine-tune ModernBERT-base to flag Jim Crow laws, evaluate it honestly, and publish it with a model card.

Data: `biglam/on_the_books`, 1,785 sections of North Carolina session laws (1866-1967)
labelled `jim_crow` 1/0 by the On the Books project (UNC Chapel Hill Libraries).
The `source` column gives the label away and is dropped before anything else.

Smoke test first (a few minutes on CPU, seconds on a GPU; nothing is pushed):

    uv run train_modernbert.py --max-samples 200 --epochs 1 --no-push

On Hugging Face Jobs (an L4, pushes to <your user>/on-the-books-jim-crow-modernbert):

    hf jobs uv run --flavor l4x1 --secrets HF_TOKEN --timeout 1h train_modernbert.py

Add `--with kernels` to train without padding: transformers then fetches a prebuilt FlashAttention-2
kernel from the Hub, and each training batch is packed into one row (see --attention).

On your own GPU, or with your own data kept local:

    uv run train_modernbert.py --hub-model-id me/jim-crow-modernbert
    uv run train_modernbert.py --dataset my_labels.csv --text-columns body --label-column label --no-push

`--dataset` takes a Hub id or a local CSV / Parquet / JSON(L) file or `save_to_disk` folder;
`--model` takes a Hub id or a local model folder. Run with `--help` for every flag.
"""

MODEL_ID = "answerdotai/ModernBERT-base"
MODEL_NAME = "ModernBERT-base"
REPO_NAME = "on-the-books-jim-crow-modernbert"
# ModernBERT reads 8,192 tokens, but activations grow with batch x length; 1,024 tokens
# covers about 97% of sections whole (the public run on this dataset used 1,024) and
# the few longer ones are read as overlapping windows, never cut off.
MAX_LENGTH = 1024
STRIDE = 256
# ModernBERT's GLUE recipe: lr 3e-5..8e-5, AdamW betas (0.9, 0.98), eps 1e-6, ~10% linear
# warmup; the public run on this dataset used 4 epochs, batch 16, lr 5e-5 (F1 0.971).
LEARNING_RATE = 5e-5
BATCH_SIZE = 16
EPOCHS = 4
WARMUP = 0.1  # a float below 1 is a share of the training steps
WEIGHT_DECAY = 0.01
ADAM_BETA2 = 0.98
ADAM_EPSILON = 1e-6
# Pure fp16 makes ModernBERT produce NaNs: on GPUs without bf16 (T4) train in fp32.
ALLOW_FP16 = False
ARCHITECTURE_TAG = "modernbert"
MODEL_LICENSE = "apache-2.0"  # the base model's licence; the data are CC BY 3.0 (credited on the card)
MODEL_CITATION = """@misc{warner2024modernbert,
  title = {Smarter, Better, Faster, Longer: A Modern Bidirectional Encoder for Fast, Memory Efficient, and Long Context Finetuning and Inference},
  author = {Benjamin Warner and Antoine Chaffin and Benjamin Clavi{\\'e} and Orion Weller and Oskar Hallstr{\\"o}m and Said Taghadouini and Alexis Gallagher and Raja Biswas and Faisal Ladhak and Tom Aarsen and Nathan Cooper and Griffin Adams and Jeremy Howard and Iacopo Poli},
  year = {2024},
  eprint = {2412.13663},
  archivePrefix = {arXiv}
}"""
# --- END MODEL PRESETS ---

import argparse
import json
import logging
import os
import re
import shlex
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

# What the scripts were built and tested for; a user's own data overrides these with flags.
DATASET_ID = "biglam/on_the_books"
TEXT_COLUMNS = ["chapter_text", "section_text"]  # chapter title + section: see README "Results"
LABEL_COLUMN = "jim_crow"
ID_COLUMN = "id"
# `source` says who judged the law; paschal rows are 100% positive and murray rows 92%,
# so a model given it would learn who labelled a law, not what the law says.
DROP_COLUMNS = ["source"]
VALIDATION_SIZE = 0.1
TEST_SIZE = 0.1
BOOTSTRAP_RESAMPLES = 1000
CARD_TEMPLATE_FILE = "model_card_template.md"

logger = logging.getLogger("train")


class UserError(Exception):
    """A problem with the input that the user can fix: printed without a traceback, exit code 2."""


# --- shared: load_table (identical in every script that loads data; tests/test_copies.py checks) ---
TABLE_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".json": "json", ".jsonl": "json"}


def looks_like_local_path(name: str) -> bool:
    """A Hub id is `owner/name`; anything with a file suffix, a leading ./ ~ / or more slashes is a path."""
    return (
        name.startswith((".", "/", "~"))
        or name.count("/") > 1
        or Path(name).suffix.lower() in TABLE_SUFFIXES
        or os.sep != "/" and os.sep in name
    )


def load_table(dataset: str, token: str | None = None):
    """Load a Hub dataset id, a local CSV/TSV/Parquet/JSON(L) file or a `save_to_disk` folder as one table.

    All splits are pooled: the scripts make their own grouped, stratified splits.
    """
    import datasets

    path = Path(dataset).expanduser()
    if path.is_dir() and any((path / f).exists() for f in ("dataset_info.json", "dataset_dict.json", "state.json")):
        table = datasets.load_from_disk(str(path))
    elif path.is_dir():
        table = datasets.load_dataset(str(path))
    elif path.is_file():
        kind = TABLE_SUFFIXES.get(path.suffix.lower())
        if kind is None:
            raise UserError(
                f"--dataset {dataset}: cannot read files ending in {path.suffix!r}. "
                f"Use one of {', '.join(TABLE_SUFFIXES)}, a save_to_disk folder, or a Hub dataset id."
            )
        extra = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        table = datasets.load_dataset(kind, data_files=str(path), **extra)
    elif looks_like_local_path(dataset):
        raise UserError(f"--dataset {dataset}: no such file or folder (looked in {Path.cwd()}). Check the path.")
    else:
        try:
            table = datasets.load_dataset(dataset, token=token)
        except Exception as err:  # the Hub raises many types: not found, gated, offline, network
            hint = "" if token else " If it is private or gated, set HF_TOKEN (hf jobs: --secrets HF_TOKEN)."
            raise UserError(
                f"--dataset {dataset}: could not load it from the Hugging Face Hub "
                f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
                f"Check the id on https://huggingface.co/datasets/{dataset}.{hint} "
                f"For a local file, pass its path (e.g. ./{dataset}.csv)."
            ) from err
    if isinstance(table, datasets.DatasetDict):
        sizes = {name: len(split) for name, split in table.items()}
        logger.info("Loaded %s: splits %s, pooled into one table", dataset, sizes)
        table = datasets.concatenate_datasets(list(table.values()))
    else:
        logger.info("Loaded %s: %d rows", dataset, len(table))
    return table


def check_columns(table, wanted: dict[str, list[str]]) -> None:
    """Fail with the list of real columns when a flag names a column that does not exist."""
    for flag, names in wanted.items():
        missing = [n for n in names if n not in table.column_names]
        if missing:
            raise UserError(
                f"{flag}: column(s) {missing} not in the dataset. "
                f"Its columns are: {', '.join(table.column_names)}."
            )


def build_texts(table, text_columns: list[str]) -> list[str]:
    """Join the text columns of each row with a blank line; missing values count as empty."""
    columns = [table[c] for c in text_columns]
    return ["\n\n".join(str(v).strip() for v in values if v is not None and str(v).strip()) for values in zip(*columns)]
# --- end shared: load_table ---


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: HF_TOKEN (needed to push; never printed or saved).",
    )
    data = p.add_argument_group("data")
    data.add_argument("--dataset", default=DATASET_ID, help=f"Hub dataset id, or a local CSV/TSV/Parquet/JSON(L) file or save_to_disk folder (default: {DATASET_ID})")
    data.add_argument("--text-columns", default=",".join(TEXT_COLUMNS), help=f"comma-separated columns joined into the input text (default: {','.join(TEXT_COLUMNS)})")
    data.add_argument("--label-column", default=LABEL_COLUMN, help=f"column holding the label (default: {LABEL_COLUMN})")
    data.add_argument("--label-names", default=None, help="comma-separated names for the sorted label values (default: a ClassLabel's names; for 0/1 labels no_<label-column>,<label-column>; else the values)")
    data.add_argument("--id-column", default=ID_COLUMN, help=f"column with a row id, written to splits.csv and errors.csv; row numbers when absent (default: {ID_COLUMN})")
    data.add_argument("--drop-columns", default=",".join(DROP_COLUMNS), help=f"comma-separated columns removed before anything else, e.g. ones that leak the label; '' for none (default: {','.join(DROP_COLUMNS)})")
    data.add_argument("--max-samples", type=int, default=None, help="train on a stratified subset of this many rows, for smoke runs (default: all rows)")
    data.add_argument("--validation-size", type=float, default=VALIDATION_SIZE, help=f"share of rows for validation: model selection and threshold (default: {VALIDATION_SIZE})")
    data.add_argument("--test-size", type=float, default=TEST_SIZE, help=f"share of rows for the test split, used once at the end (default: {TEST_SIZE})")
    train = p.add_argument_group("model and training")
    train.add_argument("--model", default=MODEL_ID, help=f"Hub model id or local model folder (default: {MODEL_ID})")
    train.add_argument("--max-length", type=int, default=MAX_LENGTH, help=f"tokens per window; longer texts become overlapping windows (default: {MAX_LENGTH})")
    train.add_argument("--stride", type=int, default=STRIDE, help=f"tokens shared by consecutive windows of a long text (default: {STRIDE})")
    train.add_argument("--epochs", type=float, default=EPOCHS, help=f"training epochs (default: {EPOCHS})")
    train.add_argument("--learning-rate", type=float, default=LEARNING_RATE, help=f"peak learning rate (default: {LEARNING_RATE})")
    train.add_argument("--batch-size", type=int, default=BATCH_SIZE, help=f"training batch size; evaluation uses twice this (default: {BATCH_SIZE})")
    train.add_argument("--attention", choices=["auto", "sdpa", "flash_attention_2"], default="auto", help="attention kernel. auto: ModernBERT trains unpadded (packed batches, FlashAttention-2) on a bf16 GPU where flash-attn or the kernels package is installed, otherwise SDPA on length-grouped padded batches (default: auto)")
    train.add_argument("--seed", type=int, default=42, help="seed for the split, the initialisation and the bootstrap (default: 42)")
    train.add_argument("--seeds", type=int, default=1, help="repeat split + training with this many seeds (seed, seed+1, ...) and report mean +- std; the pushed model is the first seed's (default: 1)")
    train.add_argument("--holdout-column", default=None, help="also train once per value of this column, testing on that value's rows (e.g. source); used for grouping only, never as input (default: off)")
    train.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir/checkpoints, else from the Hub repo's last-checkpoint/ (default: start fresh)")
    train.add_argument("--push-checkpoints", action="store_true", help="push each epoch's checkpoint to the Hub repo's last-checkpoint/ while training, so a killed job can --resume; removed once the final model is pushed and verified (default: off)")
    out = p.add_argument_group("output")
    out.add_argument("--output-dir", default=None, help=f"where the model, card and metrics are written (default: ./{REPO_NAME})")
    out.add_argument("--card-template", default=None, help=f"Jinja model card template (default: {CARD_TEMPLATE_FILE} beside the script, else the copy embedded in it)")
    out.add_argument("--hub-model-id", default=None, help=f"repo to push to (default: <your user>/{REPO_NAME})")
    out.add_argument("--private", action="store_true", help="create the Hub repo as private (default: public)")
    out.add_argument("--no-push", action="store_true", help="keep everything local; do not push (default: push)")
    args = p.parse_args(argv)
    args.text_columns = [c.strip() for c in args.text_columns.split(",") if c.strip()]
    args.drop_columns = [c.strip() for c in args.drop_columns.split(",") if c.strip()]
    args.label_names = [c.strip() for c in args.label_names.split(",")] if args.label_names else None
    args.output_dir = Path(args.output_dir or REPO_NAME)
    if not args.text_columns:
        p.error("--text-columns names no column")
    if args.label_column in args.text_columns:
        p.error(f"--label-column {args.label_column} is also in --text-columns: the model would read its answer")
    if not (0 < args.validation_size < 0.5 and 0 < args.test_size < 0.5):
        p.error("--validation-size and --test-size must each be between 0 and 0.5")
    if args.stride >= args.max_length // 2:
        p.error(f"--stride {args.stride} must be below half of --max-length {args.max_length}")
    if args.seeds < 1:
        p.error("--seeds must be at least 1")
    return args


# ---------------------------------------------------------------------------
# Data: labels, duplicates, splits
# ---------------------------------------------------------------------------
def encode_labels(values: list, label_column: str, class_names: list[str] | None, given: list[str] | None):
    """Map raw label values to ids 0..K-1 and name them. Returns (ids, names)."""
    if class_names is None:  # not a ClassLabel: the sorted unique values define the order
        floats = [v for v in values if isinstance(v, float)]
        if any(v != int(v) for v in floats):
            raise UserError(
                f"--label-column {label_column}: holds non-integer numbers (e.g. {next(v for v in floats if v != int(v))}), "
                "which looks like a regression target. This script classifies; give it a column of classes."
            )
        values = [int(v) if isinstance(v, float) else v for v in values]
        unique = sorted(set(values), key=lambda v: (str(type(v)), v))
        if unique in ([0, 1], [False, True]):
            class_names = [f"no_{label_column}", label_column]
        else:
            class_names = [str(v) for v in unique]
        if len(unique) > 100:
            raise UserError(
                f"--label-column {label_column}: has {len(unique)} distinct values, which looks like an id or a measurement, "
                "not classes. Pick the column that holds the classes."
            )
        index = {u: i for i, u in enumerate(unique)}
        ids = [index[v] for v in values]
    else:
        ids = list(values)
    if given:
        if len(given) != len(class_names):
            raise UserError(f"--label-names gives {len(given)} names, but the labels have {len(class_names)} classes: {class_names}.")
        class_names = given
    counts = [ids.count(i) for i in range(len(class_names))]
    present = [n for n, c in zip(class_names, counts) if c]
    if len(present) < 2:
        raise UserError(
            f"--label-column {label_column}: every row has the label {present}; a classifier needs at least two classes."
        )
    return ids, class_names


def duplicate_groups(table, text_columns: list[str]) -> list[int]:
    """Group rows that share the (whitespace-normalised) text of any input column, so that no text
    is seen in training and judged again in test. Returns a group number per row (union-find)."""
    parent = list(range(len(table)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for column in text_columns:
        first_row = {}
        for i, value in enumerate(table[column]):
            key = re.sub(r"\s+", " ", str(value or "")).strip()
            if not key:
                continue
            j = first_row.setdefault(key, i)
            parent[find(i)] = find(j)
    roots = [find(i) for i in range(len(table))]
    number = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [number[r] for r in roots]


def min_rows_per_class(validation_size: float, test_size: float) -> int:
    """Rows a class needs so that the smallest split still gets at least 2 of them."""
    return int(-(-2 // min(validation_size, test_size)))


def check_class_sizes(labels: list[int], names: list[str], args, all_labels: list[int]) -> None:
    """Every class needs enough rows for the three-way split. With --max-samples, say which subset size works."""
    need = min_rows_per_class(args.validation_size, args.test_size)
    counts = {n: labels.count(i) for i, n in enumerate(names)}
    small = {n: c for n, c in counts.items() if c < need}
    if not small:
        return
    full = [all_labels.count(i) for i in range(len(names))]
    if args.max_samples and min(full) >= need:
        n = int(-(-need * len(all_labels) // min(full)))  # the smallest size whose stratified share reaches `need`
        while min(Counter(all_labels[i] for i in stratified_subset(all_labels, n, args.seed)).values()) < need:
            n += 1
        fix = f"Use --max-samples {n} or more (the full data has {len(all_labels)} rows), or larger --validation-size/--test-size."
    else:
        fix = "Add rows of those classes, merge rare classes, or use larger --validation-size/--test-size."
    raise UserError(
        f"Too few rows for a stratified train/validation/test split: {small} "
        f"(each class needs at least {need} rows at validation {args.validation_size} / test {args.test_size}). {fix}"
    )


def stratified_subset(labels: list[int], n: int, seed: int) -> list[int]:
    """Row indices of a stratified random subset of n rows (for --max-samples smoke runs)."""
    from sklearn.model_selection import train_test_split

    if n >= len(labels):
        return list(range(len(labels)))
    keep, _ = train_test_split(list(range(len(labels))), train_size=n, stratify=labels, random_state=seed)
    return sorted(keep)


def grouped_split(labels: list[int], groups: list[int], validation_size: float, test_size: float, seed: int):
    """Stratified train/validation/test row indices in which every duplicate group stays in one split.

    Groups are split (stratified by their majority label), then expanded back to rows."""
    from collections import defaultdict

    from sklearn.model_selection import train_test_split

    members = defaultdict(list)
    for row, g in enumerate(groups):
        members[g].append(row)
    group_ids = list(members)
    group_label = {g: Counter(labels[r] for r in members[g]).most_common(1)[0][0] for g in group_ids}
    rest, test = train_test_split(group_ids, test_size=test_size, stratify=[group_label[g] for g in group_ids], random_state=seed)
    train, validation = train_test_split(
        rest, test_size=validation_size / (1 - test_size), stratify=[group_label[g] for g in rest], random_state=seed
    )
    return {name: sorted(r for g in part for r in members[g]) for name, part in
            (("train", train), ("validation", validation), ("test", test))}


def class_weights(train_labels: list[int], num_classes: int) -> list[float]:
    """Inverse-frequency weights w_c = N / (K * n_c): each class then carries the same total weight."""
    n = len(train_labels)
    return [n / (num_classes * max(train_labels.count(c), 1)) for c in range(num_classes)]


# ---------------------------------------------------------------------------
# Long texts: overlapping windows, and one score per row
# ---------------------------------------------------------------------------
# --- shared: windows (identical in every script that tokenises or predicts; tests/test_copies.py checks) ---
WINDOW_AGGREGATION = "max"  # how a long text's window scores become one score: see aggregate_windows


def tokenize_windows(tokenizer, texts: list[str], max_length: int, stride: int, labels: list[int] | None = None):
    """Tokenise texts, cutting any text longer than max_length into windows that overlap by `stride`
    tokens (the tokenizer's overflow support). Each window carries its row number and its row's label."""
    enc = tokenizer(
        texts, truncation=True, max_length=max_length, stride=stride,
        return_overflowing_tokens=True, return_attention_mask=True,
    )
    rows = list(enc.pop("overflow_to_sample_mapping"))
    windows = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"], "row": rows}
    if labels is not None:
        windows["labels"] = [labels[r] for r in rows]
    return windows


def aggregate_windows(window_probs, window_rows, num_rows: int, how: str = WINDOW_AGGREGATION):
    """Turn per-window class probabilities into one probability vector per row.

    "max" (the default) scores a row by its most positive window: one discriminatory clause
    anywhere in a long law is enough for the project to flag it, and a mean would dilute it
    with the law's boiler-plate. Both are measured on validation and logged (`window_aggregation`
    in metrics.json). For more than two classes "max" takes each class's maximum and renormalises."""
    import numpy as np

    window_probs = np.asarray(window_probs, dtype=np.float64)
    rows = np.asarray(window_rows)
    k = window_probs.shape[1]
    out = np.zeros((num_rows, k)) if how == "mean" else np.full((num_rows, k), -np.inf)
    if how == "mean":
        np.add.at(out, rows, window_probs)
        out /= np.bincount(rows, minlength=num_rows)[:, None]
    elif k == 2:
        positive = np.full(num_rows, -np.inf)
        np.maximum.at(positive, rows, window_probs[:, 1])
        out = np.stack([1 - positive, positive], axis=1)
    else:
        np.maximum.at(out, rows, window_probs)
        out /= out.sum(axis=1, keepdims=True)
    return out


def count_long_rows(window_rows) -> int:
    """How many rows were cut into more than one window."""
    from collections import Counter

    return sum(1 for n in Counter(window_rows).values() if n > 1)


def predict_probs(model, tokenizer, texts: list[str], max_length: int, stride: int, batch_size: int,
                  how: str = WINDOW_AGGREGATION, return_windows: bool = False):
    """Class probabilities per text: windows sorted by length, padded per batch, no gradients."""
    import numpy as np
    import torch

    windows = tokenize_windows(tokenizer, texts, max_length, stride)
    order = np.argsort([-len(ids) for ids in windows["input_ids"]], kind="stable")
    device = next(model.parameters()).device
    use_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
    model.eval()
    probs = np.zeros((len(order), model.config.num_labels), dtype=np.float32)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad(
                {"input_ids": [windows["input_ids"][i] for i in idx],
                 "attention_mask": [windows["attention_mask"][i] for i in idx]},
                return_tensors="pt",
            ).to(device)
            logits = model(**batch).logits.float()
            probs[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
    row_probs = aggregate_windows(probs, windows["row"], len(texts), how)
    return (row_probs, probs, windows["row"]) if return_windows else row_probs
# --- end shared: windows ---


# --- shared: packing (identical in the training scripts and benchmarks/gpu_check.py; tests/test_copies.py checks) ---
def pack_windows(features: list[dict]) -> dict:
    """A training batch without padding: its windows laid end to end in one row (transformers'
    DataCollatorWithFlattening), positions restarting at 0 in every window, and the window boundaries
    (cu_seq_lens) that FlashAttention-2's variable-length kernels take. Labels stay one per window."""
    import torch
    from transformers import DataCollatorWithFlattening

    flatten = DataCollatorWithFlattening(return_flash_attn_kwargs=True, return_position_ids=True)
    batch = flatten([{"input_ids": f["input_ids"]} for f in features])
    batch.pop("labels")  # the collator makes token labels for language models; a classifier has one per window
    if "labels" in features[0]:
        batch["labels"] = torch.tensor([int(f["labels"]) for f in features])
    return batch


def packed_logits(model, batch: dict):
    """ModernBERT's classifier on a packed batch (pack_windows): one logit row per window.

    In transformers 5.x ModernBertForSequenceClassification pools over its whole input row, so given a
    packed row it would pool all the windows together. Here the encoder runs on the packed row, each
    window attending only to itself, and the classifier's own pooling ("mean" or "cls"), head and
    linear layer are then applied window by window. With FlashAttention-2 the boundaries go to its
    variable-length kernels; with any other attention they become block-diagonal masks, which cost
    T x T memory: that form exists to check this function on a CPU, not for speed."""
    import torch

    ids, positions, cu = batch["input_ids"], batch["position_ids"], batch["cu_seq_lens_q"].long()
    lengths = cu.diff()
    # window number of every token; output_size spares a GPU-to-host sync to learn the result's length
    window = torch.repeat_interleave(torch.arange(len(lengths), device=ids.device), lengths, output_size=ids.shape[1])
    if "flash" in str(model.config._attn_implementation):
        extra = {k: batch[k] for k in ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")}
    else:
        same = window[:, None] == window[None, :]
        near = (positions[0][:, None] - positions[0][None, :]).abs() <= model.config.sliding_window
        extra = {"attention_mask": {"full_attention": same[None, None], "sliding_attention": (same & near)[None, None]}}
    hidden = model.model(input_ids=ids, position_ids=positions, **extra).last_hidden_state[0]
    if model.config.classifier_pooling == "cls":
        pooled = hidden[cu[:-1]]
    else:  # "mean": the average of each window's tokens
        pooled = torch.zeros(len(lengths), hidden.shape[-1], device=hidden.device, dtype=hidden.dtype).index_add_(0, window, hidden)
        pooled = pooled / lengths[:, None].to(hidden.dtype)
    return model.classifier(model.drop(model.head(pooled)))


def flash_attention_problem() -> str | None:
    """Why FlashAttention-2 cannot load here, or None when it can: from the flash-attn package, or through the
    `kernels` package, from which transformers fetches a prebuilt FlashAttention-2 kernel from the Hub
    (`hf jobs uv run --with kernels ...`). Call it only where a CUDA GPU exists."""
    from importlib.metadata import PackageNotFoundError, version

    from transformers.utils import import_utils

    if import_utils.is_flash_attn_2_available() or import_utils.is_kernels_available():
        return None
    try:
        found = version("kernels")
    except PackageNotFoundError:
        return "neither flash-attn nor kernels is installed; hf jobs uv run --with kernels ... adds it"
    low, high = getattr(import_utils, "KERNELS_MIN_VERSION", "?"), getattr(import_utils, "KERNELS_MAX_VERSION", "?")
    return f"kernels {found} is installed, but this transformers takes kernels>={low},<{high}"
# --- end shared: packing ---


# ---------------------------------------------------------------------------
# Metrics (scikit-learn), threshold, bootstrap, baseline
# ---------------------------------------------------------------------------
def classification_metrics(y_true, probs, names: list[str], threshold: float = 0.5) -> dict:
    """Binary: scores for the positive (second) class at `threshold`. More classes: argmax, macro averages."""
    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support, roc_auc_score

    y_true = np.asarray(y_true)
    probs = np.asarray(probs)
    k = len(names)
    if k == 2:
        y_pred = (probs[:, 1] >= threshold).astype(int)
        average, kwargs = "binary", {"pos_label": 1}
    else:
        y_pred = probs.argmax(axis=1)
        average, kwargs = "macro", {}
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0, labels=list(range(k)) if k > 2 else None, **kwargs)
    out = {"f1": float(f), "precision": float(p), "recall": float(r), "accuracy": float(accuracy_score(y_true, y_pred)),
           "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=list(range(k)), zero_division=0))}
    present = np.unique(y_true)
    if len(present) == k:
        out["roc_auc"] = float(roc_auc_score(y_true, probs[:, 1]) if k == 2 else roc_auc_score(y_true, probs, multi_class="ovr", labels=list(range(k))))
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=list(range(k))).tolist()
    if k > 2:
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)), zero_division=0)
        out["per_class"] = {n: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])} for i, n in enumerate(names)}
    out["n"] = int(len(y_true))
    return out


def tune_threshold(y_true, scores) -> tuple[float, float]:
    """The score threshold (predict positive when score >= t) that maximises F1 on these rows.
    Every distinct score is a candidate; ties go to the higher threshold (fewer flags)."""
    import numpy as np

    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted == 1)
    fp = np.cumsum(y_sorted != 1)
    last_of_value = np.r_[s_sorted[1:] != s_sorted[:-1], True]  # predict positive for all rows with score >= s
    positives = max(int((y == 1).sum()), 1)
    f1 = 2 * tp / (tp + fp + positives)
    f1 = np.where(last_of_value, f1, -1)
    best = int(np.argmax(f1))
    return float(s_sorted[best]), float(f1[best])


def bootstrap_intervals(y_true, y_pred, seed: int, resamples: int = BOOTSTRAP_RESAMPLES, positive: int = 1) -> dict:
    """95% percentile intervals of F1, precision, recall and accuracy over resamples of the rows."""
    import numpy as np

    y, p = np.asarray(y_true), np.asarray(y_pred)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(resamples, len(y)))
    yt, yp = y[idx] == positive, p[idx] == positive
    tp = (yt & yp).sum(1)
    fp = (~yt & yp).sum(1)
    fn = (yt & ~yp).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "f1": np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0),
            "precision": np.where(tp + fp > 0, tp / (tp + fp), 0.0),
            "recall": np.where(tp + fn > 0, tp / (tp + fn), 0.0),
            "accuracy": (y[idx] == p[idx]).mean(1),
        }
    return {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] for k, v in values.items()}


def tfidf_baseline(texts: list[str], labels: list[int], split: dict, names: list[str], seed: int) -> dict:
    """TF-IDF + class-weighted logistic regression on the same split: C (and, for two classes, the
    threshold) chosen on validation only, then scored once on test. What fine-tuning must beat."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    start = time.time()
    pick = lambda part: ([texts[i] for i in split[part]], np.array([labels[i] for i in split[part]]))
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = pick("train"), pick("validation"), pick("test")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True)
    m_tr = vectorizer.fit_transform(x_tr)
    m_va, m_te = vectorizer.transform(x_va), vectorizer.transform(x_te)
    best = None
    for c in (0.1, 1.0, 10.0, 100.0):
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed).fit(m_tr, y_tr)
        p_va = clf.predict_proba(m_va)
        threshold = tune_threshold(y_va, p_va[:, 1])[0] if len(names) == 2 else 0.5
        score = classification_metrics(y_va, p_va, names, threshold)["f1"]
        if best is None or score > best[0]:
            best = (score, c, threshold, clf)
    _, c, threshold, clf = best
    result = classification_metrics(y_te, clf.predict_proba(m_te), names, threshold)
    result.update({"C": c, "threshold": threshold, "train_rows": len(x_tr), "seconds": round(time.time() - start, 2)})
    return result


# ---------------------------------------------------------------------------
# Model and training
# ---------------------------------------------------------------------------
def check_model(model_name: str, max_length: int, token: str | None):
    """Fetch only the model's config (kilobytes) to fail fast on an unknown model, and clamp
    --max-length to what the model's position embeddings allow. Returns (config, max_length)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model_name, token=token)
    except Exception as err:
        where = "local folder has no config.json" if Path(model_name).is_dir() else "not found locally or on the Hub"
        raise UserError(
            f"--model {model_name}: {where} ({type(err).__name__}). Give a Hub model id such as {MODEL_ID} "
            "or a folder holding config.json and the tokenizer files."
        ) from err
    limit = getattr(config, "max_position_embeddings", None) or max_length
    if config.model_type in ("roberta", "xlm-roberta", "camembert"):
        limit -= 2  # RoBERTa's positions start after the padding index
    if max_length > limit:
        logger.warning("--max-length %d is more than %s supports (%d tokens); using %d. Longer texts become windows.",
                       max_length, model_name, limit, limit)
        max_length = limit
    return config, max_length


def choose_attention(requested: str, model_type: str, cuda: bool, bf16: bool, flash_problem: str | None) -> dict:
    """Which attention the model loads with, whether training batches are packed without padding, and why.

    Packing needs FlashAttention-2 (its variable-length kernels keep the packed windows apart) and a model
    whose positions can restart inside a row: ModernBERT. FlashAttention-2 runs in bf16 or fp16 only, and
    fp16 makes ModernBERT produce NaNs, so the packed path needs a bf16 GPU (an L4 or newer, not a T4).
    Everywhere else training uses SDPA on length-grouped batches, padded per batch (0.91-0.98 of the
    computed tokens are real text on this dataset). Both paths give the same logits: tests/test_packing.py."""
    if requested == "sdpa":
        return {"requested": requested, "implementation": "sdpa", "packed": False, "why": "--attention sdpa"}
    if requested == "flash_attention_2":
        if not cuda or flash_problem:
            raise UserError(f"--attention flash_attention_2 needs a CUDA GPU and FlashAttention-2 ({flash_problem or 'no CUDA GPU here'}). "
                            "Use --attention auto or sdpa.")
        return {"requested": requested, "implementation": "flash_attention_2", "packed": model_type == "modernbert",
                "why": "--attention flash_attention_2"}
    why = ("no CUDA GPU" if not cuda else "only ModernBERT is packed here" if model_type != "modernbert"
           else "this GPU has no bf16, and fp16 gives ModernBERT NaNs" if not bf16 else flash_problem)
    if why:
        return {"requested": requested, "implementation": None, "packed": False, "why": f"FlashAttention-2 not used: {why}"}
    return {"requested": requested, "implementation": "flash_attention_2", "packed": True,
            "why": "--attention auto on a bf16 GPU with FlashAttention-2"}


def attention_here(requested: str, model_type: str) -> dict:
    """choose_attention for this machine: its GPU, bf16 support and FlashAttention-2."""
    import torch

    cuda = torch.cuda.is_available()
    return choose_attention(requested, model_type, cuda, cuda and torch.cuda.is_bf16_supported(),
                            flash_attention_problem() if cuda else None)


def describe_attention(choice: dict) -> str:
    """The attention path in words, for the log and the card."""
    batches = "packed batches, no padding" if choice["packed"] else "length-grouped batches padded per batch"
    return f"{choice['loaded']} on {batches} ({choice['why']})"


def load_model(model_name: str, names: list[str], token: str | None, attention: dict | None = None):
    """The tokenizer and the classifier, loaded with the chosen attention (choose_attention). Returns
    (model, tokenizer, attention) with attention["loaded"] set to the kernel actually in use: when
    --attention auto picked FlashAttention-2 and it fails to load, this falls back to the default."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    attention = dict(attention or {"requested": "auto", "implementation": None, "packed": False, "why": "the default"})
    tokenizer = AutoTokenizer.from_pretrained(model_name, token=token)
    if not tokenizer.is_fast:
        raise UserError(f"--model {model_name}: its tokenizer has no fast (Rust) version, which windowing needs.")

    def load(implementation):
        return AutoModelForSequenceClassification.from_pretrained(
            model_name, token=token, num_labels=len(names), attn_implementation=implementation,
            id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)},
            ignore_mismatched_sizes=True,  # a classifier with another number of labels gets a fresh head
        )

    try:
        model = load(attention["implementation"])
    except (ImportError, ValueError, OSError, RuntimeError) as err:
        if attention["implementation"] is None or attention["requested"] != "auto":
            raise  # asked for by name: no silent fallback
        logger.warning("FlashAttention-2 did not load (%s: %s); training on padded batches with the default attention instead.",
                       type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        attention = {"requested": "auto", "implementation": None, "packed": False,
                     "why": f"FlashAttention-2 not used: it failed to load ({type(err).__name__})"}
        model = load(None)
    attention["loaded"] = getattr(model.config, "_attn_implementation", None) or "eager"
    return model, tokenizer, attention


def train_and_evaluate(args, texts, labels, names, split, seed, output_dir: Path, token, timings: dict,
                       resume_from: str | None = None, push_to: str | None = None, attention: dict | None = None):
    """Fine-tune one model on split["train"], select it on split["validation"], and return it with
    everything measured on validation and test. This is the whole training story. `attention` is
    attention_here's choice (None: the model's default attention on padded batches)."""
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, TrainingArguments, set_seed

    set_seed(seed)
    tick = time.time()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    fp16 = cuda and not bf16 and ALLOW_FP16
    precision = "bf16" if bf16 else "fp16" if fp16 else "fp32"
    model, tokenizer, attention = load_model(args.model, names, token, attention)
    timings["model_load"] = timings.get("model_load", 0) + time.time() - tick

    tick = time.time()
    part = {name: ([texts[i] for i in rows], [labels[i] for i in rows]) for name, rows in split.items()}
    train_windows = tokenize_windows(tokenizer, part["train"][0], args.max_length, args.stride, part["train"][1])
    val_windows = tokenize_windows(tokenizer, part["validation"][0], args.max_length, args.stride, part["validation"][1])
    # Evaluation runs in dataset order (see PipelineTrainer), so sort validation windows by
    # length once: batches are then length-grouped and still map back to their rows.
    val_order = np.argsort([-len(x) for x in val_windows["input_ids"]], kind="stable")
    val_windows = {k: [v[i] for i in val_order] for k, v in val_windows.items()}
    train_ds = Dataset.from_dict({k: v for k, v in train_windows.items() if k != "row"})
    val_ds = Dataset.from_dict({k: v for k, v in val_windows.items() if k != "row"})
    timings["tokenization"] = timings.get("tokenization", 0) + time.time() - tick

    weights = class_weights(part["train"][1], len(names))
    logger.info("Class weights (N / (K * n_c), training split): %s", {n: round(w, 3) for n, w in zip(names, weights)})
    val_rows, val_true = val_windows["row"], part["validation"][1]

    def compute_metrics(eval_pred):
        window_probs = torch.softmax(torch.tensor(eval_pred.predictions, dtype=torch.float32), -1).numpy()
        return classification_metrics(val_true, aggregate_windows(window_probs, val_rows, len(val_true)), names)

    training_args = TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        per_device_eval_batch_size=args.batch_size * 2,
        warmup_steps=WARMUP,
        weight_decay=WEIGHT_DECAY,
        adam_beta2=ADAM_BETA2,
        adam_epsilon=ADAM_EPSILON,
        lr_scheduler_type="linear",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        # A checkpoint carries the optimizer state (twice the weights) only where a later run can resume from
        # it: pushed (--push-checkpoints), or on a disk that outlives the run. A Hugging Face Job (JOB_ID set)
        # loses its disk when it ends, so there checkpoints only serve to keep the best epoch: weights only.
        save_only_model=push_to is None and bool(os.environ.get("JOB_ID")),
        load_best_model_at_end=True,
        metric_for_best_model="f1",  # positive-class F1 (macro-F1 for more than two classes), on validation
        greater_is_better=True,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: little padding
        bf16=bf16,
        fp16=fp16,
        tf32=True if cuda and torch.cuda.get_device_capability()[0] >= 8 else None,
        logging_strategy="epoch",
        report_to="none",
        seed=seed,
        data_seed=seed,
        # --push-checkpoints: the Trainer uploads each checkpoint to <repo>/last-checkpoint. It reads the
        # token from the environment; passing hub_token would pickle it into training_args.bin.
        push_to_hub=push_to is not None,
        hub_model_id=push_to,
        hub_strategy="checkpoint",
        hub_private_repo=args.private or None,
    )
    # Made once on the device the Trainer trains on: a copy per step would make the host wait each step.
    weight_tensor = torch.tensor(weights, dtype=torch.float32, device=training_args.device)

    def weighted_loss(outputs, batch_labels, num_items_in_batch=None):
        return torch.nn.functional.cross_entropy(outputs["logits"].float(), batch_labels, weight=weight_tensor)

    # Training batches are packed without padding (FlashAttention-2, see choose_attention) or padded to
    # their longest window; evaluation batches are always padded (sorted by length, little padding).
    # Count real and computed tokens in training batches: padding is compute spent on nothing.
    pad = DataCollatorWithPadding(tokenizer)
    tokens = {"real": 0, "computed": 0}

    def collate_train(features):
        if attention["packed"]:
            batch = pack_windows(features)
            tokens["real"] += batch["input_ids"].numel()
            tokens["computed"] += batch["input_ids"].numel()
        else:
            batch = pad(features)
            tokens["real"] += int(batch["attention_mask"].sum())
            tokens["computed"] += batch["attention_mask"].numel()
        return batch

    trainer = pipeline_trainer()(
        model=model,
        args=training_args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        processing_class=tokenizer,
        data_collator=pad,
        train_collator=collate_train,
        compute_metrics=compute_metrics,
        compute_loss_func=weighted_loss,
    )
    logger.info("Training on %d windows from %d rows (%s, precision %s, attention %s)", len(train_ds), len(part["train"][0]),
                "GPU " + torch.cuda.get_device_name() if cuda else "CPU", precision, describe_attention(attention))
    tick = time.time()
    if resume_from:
        logger.info("Resuming from %s", resume_from)
    trainer.train(resume_from_checkpoint=resume_from)
    train_seconds = time.time() - tick
    timings["training"] = timings.get("training", 0) + train_seconds
    tokens["padding_efficiency"] = tokens["real"] / max(tokens["computed"], 1)
    tokens["real_tokens_per_second"] = tokens["real"] / train_seconds  # per-epoch validation included in the time
    logger.info("Training took %.0f s: %d real tokens in %d computed (padding efficiency %.2f), %.0f real tokens/s",
                train_seconds, tokens["real"], tokens["computed"], tokens["padding_efficiency"], tokens["real_tokens_per_second"])

    history = [
        {"epoch": round(e["epoch"], 2), **{k[len("eval_"):]: v for k, v in e.items() if k.startswith("eval_") and not isinstance(v, list)}}
        for e in trainer.state.log_history if "eval_f1" in e
    ]
    best_epoch = max(history, key=lambda h: h["f1"])["epoch"] if history else None

    # The selected model is scored on validation (threshold, aggregation) and, once, on test.
    tick = time.time()
    model = trainer.model
    batch = args.batch_size * 2
    val_probs, val_win_probs, val_win_rows = predict_probs(model, tokenizer, part["validation"][0], args.max_length,
                                                           args.stride, batch, return_windows=True)
    aggregation = {how: classification_metrics(val_true, aggregate_windows(val_win_probs, val_win_rows, len(val_true), how), names)["f1"]
                   for how in ("max", "mean")}
    test_true = part["test"][1]
    test_probs, _, test_win_rows = predict_probs(model, tokenizer, part["test"][0], args.max_length, args.stride, batch,
                                                 return_windows=True)
    result = {"seed": seed, "precision": precision, "attention": attention, "tokens": tokens, "validation_history": history, "best_epoch": best_epoch,
              "class_weights": dict(zip(names, weights)), "window_aggregation_validation_f1": aggregation,
              "validation": classification_metrics(val_true, val_probs, names)}
    threshold = 0.5
    if len(names) == 2:
        threshold, val_f1 = tune_threshold(val_true, val_probs[:, 1])
        result["threshold"] = {"value": threshold, "chosen_on": "validation", "validation_f1": val_f1}
        result["test_at_0.5"] = classification_metrics(test_true, test_probs, names, 0.5)
    result["test"] = classification_metrics(test_true, test_probs, names, threshold)
    test_pred = (test_probs[:, 1] >= threshold).astype(int) if len(names) == 2 else test_probs.argmax(1)
    if len(names) == 2:
        result["test"]["intervals_95"] = bootstrap_intervals(test_true, test_pred, seed)
    result["rows_longer_than_one_window"] = {
        "train": count_long_rows(train_windows["row"]), "validation": count_long_rows(val_windows["row"]),
        "test": count_long_rows(test_win_rows)}
    timings["evaluation"] = timings.get("evaluation", 0) + time.time() - tick
    return trainer, tokenizer, result, test_probs, test_pred


def pipeline_trainer():
    from torch.utils.data import SequentialSampler
    from transformers import Trainer

    class PipelineTrainer(Trainer):
        """The Trainer with three changes. Training batches have their own collator (`train_collator`:
        packed or padded, and counted), evaluation batches the Trainer's `data_collator`. Evaluation keeps
        dataset order (length grouping would shuffle it), so that window predictions map back to their
        rows; training batches are still length-grouped. A packed training batch (pack_windows) is
        classified window by window (packed_logits)."""

        def __init__(self, *args, train_collator=None, **kwargs):
            super().__init__(*args, **kwargs)
            self.train_collator = train_collator or self.data_collator

        def get_train_dataloader(self):
            eval_collator, self.data_collator = self.data_collator, self.train_collator
            try:
                return super().get_train_dataloader()
            finally:
                self.data_collator = eval_collator

        def _get_eval_sampler(self, eval_dataset):
            return SequentialSampler(eval_dataset)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if "cu_seq_lens_q" not in inputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            with self.accelerator.autocast():  # the bf16 autocast that wraps model.forward, which this bypasses
                logits = packed_logits(self.accelerator.unwrap_model(model), inputs)
            loss = self.compute_loss_func({"logits": logits}, labels, num_items_in_batch=num_items_in_batch)
            return (loss, {"logits": logits}) if return_outputs else loss

    return PipelineTrainer


# ---------------------------------------------------------------------------
# Model card
# ---------------------------------------------------------------------------
# Invented for the card (not rows of the dataset): what the widget on the model page offers.
WIDGET_EXAMPLES = [
    "The board of education of each county shall provide separate schools for the children of the white and colored races.",
    "The board of commissioners may levy a special tax, not to exceed twenty cents on the hundred dollars, for the repair of public roads.",
    "It shall be unlawful for any railroad company to carry white and colored passengers in the same coach.",
]
DOMAIN_TAGS = ["legal", "glam", "lam", "jim-crow", "north-carolina", "history", "civil-rights"]
SCRIPT_URL = os.environ.get("SCRIPT_URL")  # e.g. the URL of this script in a repository; printed on the card when set
METRIC_LABELS = [("f1", "F1"), ("precision", "Precision"), ("recall", "Recall"), ("accuracy", "Accuracy"), ("roc_auc", "ROC-AUC")]


def read_template(path: str | None) -> tuple[str, str]:
    """The card template: --card-template, else model_card_template.md beside this script, else the
    embedded copy (hf jobs uploads only the script). Returns (template, where it came from)."""
    if path:
        if not Path(path).is_file():
            raise UserError(f"--card-template {path}: no such file.")
        return Path(path).read_text(encoding="utf-8"), path
    beside = Path(__file__).resolve().with_name(CARD_TEMPLATE_FILE)
    if beside.is_file():
        return beside.read_text(encoding="utf-8"), str(beside)
    return EMBEDDED_CARD_TEMPLATE, "embedded copy"


def render_card(facts: dict, template: str) -> str:
    """Render the model card from one run's facts. Pure: no training, no network."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    test = facts["test"]
    dataset_name = facts["dataset"]
    results = [
        EvalResult(task_type="text-classification", task_name="Text classification", dataset_type=dataset_name,
                   dataset_name=dataset_name, dataset_split="test (grouped, stratified, seed %d)" % facts["seed"],
                   metric_type=key, metric_name=("Macro " if not facts["binary"] and key != "accuracy" else "") + label,
                   metric_value=round(test[key], 4))
        for key, label in METRIC_LABELS if key in test
    ]
    on_the_books = facts["on_the_books"]
    card_data = ModelCardData(
        model_name=facts["repo_id"].rstrip("/").split("/")[-1],
        base_model=facts["base_model"] if facts["base_model_on_hub"] else None,
        datasets=[dataset_name] if facts["dataset_on_hub"] else None,
        language="en",
        license=MODEL_LICENSE,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=(DOMAIN_TAGS if on_the_books else []) + [facts["architecture"], "text-classification"],
        metrics=[key for key, _ in METRIC_LABELS if key in test],
        eval_results=results,
        widget=[{"text": t} for t in WIDGET_EXAMPLES] if on_the_books else None,
    )
    metric_rows = [
        {"label": label, "value": test[key], "interval": (test.get("intervals_95") or {}).get(key),
         "at_half": (facts.get("test_at_half") or {}).get(key), "baseline": (facts.get("baseline") or {}).get(key)}
        for key, label in METRIC_LABELS if key in test
    ]
    card = ModelCard.from_template(
        card_data, template_str=template, metric_rows=metric_rows, widget_examples=WIDGET_EXAMPLES,
        model_short=facts["model_name"] + " (this model)", confusion=test["confusion_matrix"],
        per_class=test.get("per_class"), intervals=test.get("intervals_95"), bootstrap_resamples=BOOTSTRAP_RESAMPLES,
        **facts,
    )
    return str(card)


def card_title(model_name: str, on_the_books: bool, names: list[str]) -> str:
    if on_the_books:
        return f"{model_name} Jim Crow law classifier for North Carolina session laws (On the Books)"
    return f"{model_name} text classifier: {', '.join(names)}"


# ---------------------------------------------------------------------------
# Hub: check before training, push after, verify
# ---------------------------------------------------------------------------
def preflight_push(args, token: str | None):
    """Before anything expensive: a token that the Hub accepts, and a repo we can create or write."""
    from huggingface_hub import HfApi

    if not token:
        raise UserError(
            "Pushing to the Hub needs a token with write access and none was found. Set HF_TOKEN "
            "(on hf jobs: --secrets HF_TOKEN; locally: hf auth login), or keep the model local with --no-push."
        )
    api = HfApi(token=token)
    try:
        user = api.whoami()["name"]
    except Exception as err:
        raise UserError(
            f"The Hub did not accept HF_TOKEN ({type(err).__name__}). Make a write token at "
            "https://huggingface.co/settings/tokens, or use --no-push."
        ) from err
    repo_id = args.hub_model_id or f"{user}/{REPO_NAME}"
    try:
        api.create_repo(repo_id, private=args.private, exist_ok=True)
    except Exception as err:
        raise UserError(
            f"Cannot create or write the model repo {repo_id} as {user} ({type(err).__name__}). "
            "Check that the token has write access to that namespace, or choose another --hub-model-id."
        ) from err
    logger.info("Push check passed: %s can write to %s%s", user, repo_id, " (private)" if args.private else "")
    return api, repo_id


def is_transient(err: Exception) -> bool:
    """Worth retrying: network failures, timeouts, rate limits and server errors; not 401/403/404 or a full disk."""
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status is not None:
        return status in (408, 429, 500, 502, 503, 504)
    network = any(c.__name__ in ("TransportError", "RequestError", "ConnectionError", "Timeout") for c in type(err).__mro__)
    return network or isinstance(err, (ConnectionError, TimeoutError))


def push_folder(api, repo_id: str, folder: Path, attempts: int = 3, wait_s: float = 10.0) -> None:
    """Upload the model files, then the card (so a card never describes files that are not there).
    Transient errors are retried; on failure nothing local is touched and the error says how to finish."""
    steps = [
        ("model files", lambda: api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message="Upload model",
                                                  ignore_patterns=["README.md", "checkpoints/*", "seed_runs/*", "holdout_runs/*"])),
        ("model card", lambda: api.upload_file(path_or_fileobj=str(folder / "README.md"), path_in_repo="README.md",
                                               repo_id=repo_id, commit_message="Upload model card")),
    ]
    for what, step in steps:
        for attempt in range(1, attempts + 1):
            try:
                logger.info("Uploading %s to https://huggingface.co/%s", what, repo_id)
                step()
                break
            except Exception as err:
                if attempt < attempts and is_transient(err):
                    logger.warning("Upload of %s failed (%s); retry %d of %d in %.0f s", what, type(err).__name__, attempt, attempts - 1, wait_s * attempt)
                    time.sleep(wait_s * attempt)
                    continue
                raise UserError(
                    f"Uploading the {what} to {repo_id} failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
                    f"Nothing local was deleted: everything is in {folder}. Finish the upload with:\n"
                    f"    hf upload {repo_id} {folder} . --exclude 'checkpoints/*' --exclude 'seed_runs/*' --exclude 'holdout_runs/*'"
                ) from err


def verify_push(api, repo_id: str, folder: Path, texts: list[str], local_probs, max_length: int, stride: int) -> dict:
    """Download what was pushed and check it: config and card equal the local ones, and the pushed
    model gives the local predictions on a few validation texts."""
    import tempfile

    import numpy as np
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        # not last-checkpoint/ (--push-checkpoints): weights and optimizer state, about 1.8 GB for ModernBERT-base
        remote = Path(api.snapshot_download(repo_id=repo_id, local_dir=tmp, ignore_patterns=["last-checkpoint/*"]))
        for name in ("config.json", "README.md"):
            if not (remote / name).is_file() or (remote / name).read_bytes() != (folder / name).read_bytes():
                raise UserError(f"Verification failed: the pushed {name} differs from {folder / name}. "
                                f"Upload again with: hf upload {repo_id} {folder} .")
        model = AutoModelForSequenceClassification.from_pretrained(remote)
        tokenizer = AutoTokenizer.from_pretrained(remote)
        remote_probs = predict_probs(model, tokenizer, texts, max_length, stride, batch_size=8)
    gap = float(np.abs(remote_probs - local_probs).max())
    if gap > 1e-3:
        raise UserError(f"Verification failed: the pushed model's predictions differ from the local model's by up to {gap:.4f}.")
    logger.info("Verified the push: config and card match, and the pushed model repeats the local predictions on %d rows", len(texts))
    return {"config_and_card_match": True, "rows_checked": len(texts), "max_probability_gap": gap}


def remove_hub_checkpoint(api, repo_id: str) -> bool:
    """After a verified push, delete the repo's last-checkpoint/ (--push-checkpoints): it let a killed job resume,
    and now only makes every download of the repo 1.8 GB larger. A failure here is a warning: the model is published."""
    try:
        api.delete_folder(path_in_repo="last-checkpoint", repo_id=repo_id,
                          commit_message="Remove last-checkpoint/: training finished and the pushed model is verified")
    except Exception as err:
        logger.warning("Could not remove last-checkpoint/ from %s (%s). The model is published; remove the folder on the "
                       "repo's Files page, or with HfApi().delete_folder('last-checkpoint', repo_id='%s').",
                       repo_id, type(err).__name__, repo_id)
        return False
    logger.info("Removed last-checkpoint/ from %s: training finished and the pushed model is verified", repo_id)
    return True


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
def find_checkpoint(args, api, repo_id: str | None) -> str | None:
    """--resume: the newest checkpoint in --output-dir/checkpoints, else the Hub repo's last-checkpoint/
    (written by --push-checkpoints). None, with a warning, when there is neither."""
    from transformers.trainer_utils import get_last_checkpoint

    local = args.output_dir / "checkpoints"
    found = get_last_checkpoint(str(local)) if local.is_dir() else None
    if found is None and api is not None:
        try:
            api.snapshot_download(repo_id=repo_id, allow_patterns=["last-checkpoint/*"], local_dir=str(local / "hub"))
            if (local / "hub" / "last-checkpoint" / "trainer_state.json").is_file():
                found = str(local / "hub" / "last-checkpoint")
        except Exception as err:
            logger.warning("--resume: could not fetch last-checkpoint/ from %s (%s)", repo_id, type(err).__name__)
    if found is None:
        logger.warning("--resume: no checkpoint in %s%s; starting from the beginning.", local, " or on the Hub" if api else "")
    return found


def library_versions() -> dict:
    from importlib.metadata import version

    return {pkg: version(pkg) for pkg in ("transformers", "torch", "datasets", "accelerate", "scikit-learn", "huggingface_hub")}


def describe_dropped(table, columns: list[str], label_column: str) -> list[dict]:
    """For each dropped column, the share of positive labels per value (when it has few values),
    so the log and the card can say why it had to go."""
    out = []
    for column in columns:
        values, labels = table[column], table[label_column]
        shares = []
        if len(set(values)) <= 20 and set(labels) <= {0, 1, True, False}:
            for value in sorted(set(values), key=str):
                hits = [y for v, y in zip(values, labels) if v == value]
                shares.append({"value": value, "count": len(hits), "positive": int(sum(hits)), "share": sum(hits) / len(hits)})
        out.append({"name": column, "shares": shares})
    return out


def summarise_seeds(runs: list[dict]) -> dict:
    import numpy as np

    keys = [k for k, _ in METRIC_LABELS if all(k in r["test"] for r in runs)]
    return {"n": len(runs), "seeds": [r["seed"] for r in runs], "summary": {
        k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "values": v}
        for k in keys for v in [[r["test"][k] for r in runs]]}}


def holdout_split(labels, groups, holdout_values, value, validation_size: float, seed: int) -> dict:
    """Test on every row whose holdout value is `value`; split the other rows into train/validation.
    Rows that share a duplicate group with a held-out row are left out of training altogether."""
    from sklearn.model_selection import train_test_split

    test = [i for i, v in enumerate(holdout_values) if v == value]
    held_groups = {groups[i] for i in test}
    rest = [i for i, v in enumerate(holdout_values) if v != value and groups[i] not in held_groups]
    rest_groups = sorted({groups[i] for i in rest})
    first_label = {}
    for i in rest:
        first_label.setdefault(groups[i], labels[i])
    strata = [first_label[g] for g in rest_groups]
    if min(Counter(strata).values()) < 2:  # a class too rare to stratify once this group is held out
        strata = None
    train_g, val_g = train_test_split(rest_groups, test_size=validation_size, random_state=seed, stratify=strata)
    val_g = set(val_g)
    return {"train": [i for i in rest if groups[i] not in val_g], "validation": [i for i in rest if groups[i] in val_g], "test": test}


def holdout_summary(metrics: dict, y_true: list[int], names: list[str]) -> str:
    """F1 where the held-out rows have both labels; otherwise recall (all positive) or specificity (all negative)."""
    cm = metrics["confusion_matrix"]
    if len(set(y_true)) > 1 or len(names) > 2:
        return f"F1 {metrics['f1']:.3f}, precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}"
    if y_true[0] == 1:
        return f"recall {cm[1][1] / max(sum(cm[1]), 1):.3f} ({cm[1][1]} of {sum(cm[1])} flagged); F1 undefined for one label"
    return f"specificity {cm[0][0] / max(sum(cm[0]), 1):.3f} ({cm[0][1]} of {sum(cm[0])} wrongly flagged); F1 undefined for one label"


def write_csv(path: Path, header: list[str], rows) -> None:
    import csv

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    started = time.time()
    timings: dict[str, float] = {}
    versions = library_versions()
    logger.info("Versions: %s", ", ".join(f"{k} {v}" for k, v in versions.items()))
    from huggingface_hub import get_token

    token = get_token()  # HF_TOKEN or the stored login; never logged or written

    # 1. Everything that can fail does so now, before a model is downloaded or trained.
    api, repo_id = (None, None) if args.no_push else preflight_push(args, token)
    repo_id = repo_id or args.hub_model_id or str(args.output_dir)  # with --no-push the card points at the local folder
    template, template_source = read_template(args.card_template)
    tick = time.time()
    table = load_table(args.dataset, token)
    check_columns(table, {"--text-columns": args.text_columns, "--label-column": [args.label_column],
                          "--holdout-column": [args.holdout_column] if args.holdout_column else []})
    missing_drop = [c for c in args.drop_columns if c not in table.column_names]
    if missing_drop:
        logger.warning("--drop-columns: %s not in the dataset; nothing to drop there.", missing_drop)
    drop = [c for c in args.drop_columns if c in table.column_names]
    dropped = describe_dropped(table, drop, args.label_column)
    holdout_values = table[args.holdout_column] if args.holdout_column else None
    keep = args.text_columns + [args.label_column] + ([args.id_column] if args.id_column in table.column_names else [])
    table = table.select_columns(list(dict.fromkeys(keep)))  # dropped (and any other) columns never reach the model
    for d in dropped:
        why = "; ".join(f"{s['value']}: {s['positive']}/{s['count']} positive" for s in d["shares"])
        logger.info("Dropped column %r before anything else: the model never sees it%s", d["name"], f" (it leaks the label: {why})" if why else "")
    if args.holdout_column:
        logger.info("--holdout-column %s is used only to group rows for the held-out runs, never as input", args.holdout_column)

    texts = build_texts(table, args.text_columns)
    raw_labels = table[args.label_column]
    usable = [i for i, (t, y) in enumerate(zip(texts, raw_labels)) if t and y is not None]
    rows_dropped_empty = len(texts) - len(usable)
    if rows_dropped_empty:
        logger.warning("Dropped %d of %d rows with empty text or no label", rows_dropped_empty, len(texts))
    if not usable:
        raise UserError(f"No row has both text in {args.text_columns} and a label in {args.label_column}: nothing to train on.")
    feature = table.features[args.label_column]
    class_names = feature.names if hasattr(feature, "names") else None
    all_labels, names = encode_labels([raw_labels[i] for i in usable], args.label_column, class_names, args.label_names)
    every_label = all_labels
    if args.max_samples:
        chosen = stratified_subset(all_labels, args.max_samples, args.seed)
        logger.info("--max-samples %d: a stratified subset of %d rows", args.max_samples, len(chosen))
        usable, all_labels = [usable[i] for i in chosen], [all_labels[i] for i in chosen]
    check_class_sizes(all_labels, names, args, every_label)
    table = table.select(usable)
    texts = [texts[i] for i in usable]
    holdout_values = [holdout_values[i] for i in usable] if holdout_values is not None else None
    ids = [str(v) for v in table[args.id_column]] if args.id_column in table.column_names else [str(i) for i in usable]
    groups = duplicate_groups(table, args.text_columns)
    group_sizes = Counter(groups).values()
    dup_groups, dup_rows = sum(n > 1 for n in group_sizes), sum(n for n in group_sizes if n > 1)
    logger.info("%d rows, labels %s; %d rows in %d groups that share an input text (each kept in one split)",
                len(texts), {n: all_labels.count(i) for i, n in enumerate(names)}, dup_rows, dup_groups)
    timings["data_load"] = time.time() - tick
    config, args.max_length = check_model(args.model, args.max_length, token)
    preset_model = args.model == MODEL_ID  # the presets' name and citation describe only that model

    import torch

    if not torch.cuda.is_available():
        logger.warning("No GPU found: training on the CPU. That works but is slow for a full run; "
                       "try --max-samples 200 --epochs 1 first, or run on hf jobs with --flavor l4x1.")
    hardware = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    attention = attention_here(args.attention, config.model_type)  # --attention flash_attention_2 where it cannot run fails now

    resume_from = find_checkpoint(args, api, repo_id) if args.resume else None

    # 2. Train and evaluate, once per seed. The first seed's model is the one published,
    #    fixed before any test score is looked at.
    args.output_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for n, seed in enumerate(range(args.seed, args.seed + args.seeds)):
        split = grouped_split(all_labels, groups, args.validation_size, args.test_size, seed)
        logger.info("Seed %d split: %s", seed, {k: len(v) for k, v in split.items()})
        run_dir = args.output_dir if n == 0 else args.output_dir / "seed_runs" / f"seed_{seed}"
        trainer, tokenizer, result, test_probs, test_pred = train_and_evaluate(
            args, texts, all_labels, names, split, seed, run_dir, token, timings,
            resume_from=resume_from if n == 0 else None, push_to=repo_id if n == 0 and args.push_checkpoints and api else None,
            attention=attention)
        result["baseline"] = tfidf_baseline(texts, all_labels, split, names, seed)
        logger.info("Seed %d: test F1 %.3f (threshold %.3f); TF-IDF baseline %.3f", seed, result["test"]["f1"],
                    result.get("threshold", {}).get("value", 0.5), result["baseline"]["f1"])
        if n == 0:
            first_split, first_probs, first_pred = split, test_probs, test_pred
            if "threshold" in result:
                trainer.model.config.decision_threshold = result["threshold"]["value"]
            model = trainer.model
            model.save_pretrained(args.output_dir)  # not trainer.save_model: with --push-checkpoints it would push a placeholder card
            tokenizer.save_pretrained(args.output_dir)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        if n > 0:
            shutil.rmtree(run_dir, ignore_errors=True)
        runs.append(result)
    first = runs[0]

    holdout = None
    if args.holdout_column:
        holdout = {"column": args.holdout_column, "groups": []}
        for value in sorted(set(holdout_values), key=str):
            split = holdout_split(all_labels, groups, holdout_values, value, args.validation_size, args.seed)
            logger.info("Held-out %s=%s: %s", args.holdout_column, value, {k: len(v) for k, v in split.items()})
            run_dir = args.output_dir / "holdout_runs" / str(value)
            _, _, r, _, _ = train_and_evaluate(args, texts, all_labels, names, split, args.seed, run_dir, token, timings,
                                               attention=attention)
            y_test = [all_labels[i] for i in split["test"]]
            holdout["groups"].append({"value": value, "rows": len(y_test), "positives": sum(y == 1 for y in y_test),
                                      "train_rows": len(split["train"]), "metrics": r["test"],
                                      "summary": holdout_summary(r["test"], y_test, names)})
            shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(args.output_dir / "holdout_runs", ignore_errors=True)
    shutil.rmtree(args.output_dir / "seed_runs", ignore_errors=True)

    # 3. Write everything a user would upload, then the card from the same facts.
    tick = time.time()
    binary = len(names) == 2
    threshold = first.get("threshold", {}).get("value", 0.5)
    write_csv(args.output_dir / "splits.csv", ["id", "split"], [(ids[i], part) for part, rows in first_split.items() for i in rows])
    errors = [(ids[i], names[all_labels[i]], names[int(p)], round(float(prob[1] if binary else prob.max()), 4))
              for i, p, prob in zip(first_split["test"], first_pred, first_probs) if int(p) != all_labels[i]]
    write_csv(args.output_dir / "errors.csv", ["id", "true_label", "predicted_label", "score"], errors)
    on_the_books = args.label_column == "jim_crow" and "section_text" in args.text_columns
    long_rows = sum(first["rows_longer_than_one_window"].values())
    hyperparameters = {
        "base model": args.model, "epochs": args.epochs, "learning rate": args.learning_rate, "batch size": args.batch_size,
        "schedule": f"linear, warmup {WARMUP:.0%}", "optimizer": f"AdamW (betas 0.9, {ADAM_BETA2}; eps {ADAM_EPSILON}; weight decay {WEIGHT_DECAY})",
        "max length (tokens per window)": args.max_length, "window stride": args.stride, "seed": args.seed,
    }
    command = "uv run " + " ".join(shlex.quote(a) for a in [Path(sys.argv[0]).name] + list(sys.argv[1:] if argv is None else argv))
    facts = {
        "repo_id": repo_id, "on_the_books": on_the_books, "binary": binary,
        "model_name": MODEL_NAME if preset_model else Path(args.model).name, "architecture": config.model_type or ARCHITECTURE_TAG,
        "model_citation": MODEL_CITATION if preset_model else None,
        "base_model": args.model, "base_model_on_hub": not Path(args.model).exists(),
        "base_model_link": f"`{Path(args.model).name}` (a local model folder)" if Path(args.model).exists()
        else f"[{args.model}](https://huggingface.co/{args.model})",
        "dataset": args.dataset if not Path(args.dataset).exists() or not on_the_books else DATASET_ID,
        "dataset_on_hub": not Path(args.dataset).exists() or on_the_books,
        "dataset_url": f"https://huggingface.co/datasets/{DATASET_ID if on_the_books else args.dataset}",
        "dataset_link": f"`{args.dataset}`" if Path(args.dataset).exists() else f"[`{args.dataset}`](https://huggingface.co/datasets/{args.dataset})",
        "text_columns": args.text_columns, "label_column": args.label_column, "label_names": names,
        "positive_label": names[-1], "negative_label": names[0],
        "class_counts": {n: all_labels.count(i) for i, n in enumerate(names)},
        "rows_used": len(texts), "rows_dropped_empty": rows_dropped_empty, "max_samples": args.max_samples,
        "dropped_columns": dropped, "duplicate_groups": dup_groups, "duplicate_rows": dup_rows,
        "seed": args.seed, "split": {k: len(v) for k, v in first_split.items()},
        "test": first["test"], "test_at_half": first.get("test_at_0.5"), "threshold": threshold,
        "threshold_validation_f1": first.get("threshold", {}).get("validation_f1"),
        "baseline": first["baseline"], "history": first["validation_history"], "best_epoch": first["best_epoch"],
        "errors_count": len(errors), "long_rows": long_rows, "max_length": args.max_length, "stride": args.stride,
        "aggregation": WINDOW_AGGREGATION, "class_weights": first["class_weights"],
        "seeds": summarise_seeds(runs) if len(runs) > 1 else None, "holdout": holdout,
        "hyperparameters": hyperparameters, "hardware": hardware, "precision": first["precision"],
        "attention": describe_attention(first["attention"]), "padding_efficiency": first["tokens"]["padding_efficiency"],
        "versions": versions, "command": command, "script_url": SCRIPT_URL,
    }
    metrics = {
        "model": args.model, "dataset": args.dataset, "repo_id": repo_id, "labels": names,
        "text_columns": args.text_columns, "label_column": args.label_column, "dropped_columns": dropped,
        "rows": {"used": len(texts), "dropped_empty_or_unlabelled": rows_dropped_empty,
                 "duplicate_groups": dup_groups, "rows_in_duplicate_groups": dup_rows,
                 "longer_than_one_window": long_rows},
        "split_sizes": facts["split"], "class_counts": facts["class_counts"],
        "class_weights": first["class_weights"], "hyperparameters": {**vars(args), "output_dir": str(args.output_dir)},
        "validation_history": first["validation_history"], "best_epoch": first["best_epoch"],
        "validation": first["validation"], "window_aggregation": {"used": WINDOW_AGGREGATION, "validation_f1": first["window_aggregation_validation_f1"]},
        "threshold": first.get("threshold"), "test": first["test"], "test_at_0.5": first.get("test_at_0.5"),
        "baseline": first["baseline"], "errors": {"count": len(errors), "file": "errors.csv"},
        "training_tokens": first["tokens"], "attention": {**first["attention"], "description": facts["attention"]},
        "seeds": facts["seeds"], "runs": runs if len(runs) > 1 else None, "holdout": holdout,
        "environment": {"hardware": hardware, "precision": first["precision"], "versions": versions, "card_template": template_source},
        "command": command,
    }
    facts["title"] = card_title(facts["model_name"], on_the_books, names)
    facts.update(wall_time=time.time() - started, timings={k: round(v, 1) for k, v in timings.items()})
    metrics["card"] = facts  # every fact on the card, so it can be re-rendered with render_card(metrics["card"], template)
    (args.output_dir / "README.md").write_text(render_card(facts, template), encoding="utf-8")
    timings["card"] = time.time() - tick

    metrics["timings"] = {k: round(v, 2) for k, v in timings.items()}
    metrics["wall_time_s"] = round(time.time() - started, 1)
    metrics_file = args.output_dir / "metrics.json"
    metrics_file.write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")

    # 4. Push what is on disk (model files first, card last), then check what landed.
    if api is not None:
        tick = time.time()
        push_folder(api, repo_id, args.output_dir)
        metrics["timings"]["upload"] = round(time.time() - tick, 2)
        tick = time.time()
        val_texts = [texts[i] for i in first_split["validation"][:8]]
        local_probs = predict_probs(model, tokenizer, val_texts, args.max_length, args.stride, 8)
        verified = verify_push(api, repo_id, args.output_dir, val_texts, local_probs, args.max_length, args.stride)
        metrics["timings"]["push_verification"] = round(time.time() - tick, 2)
        if args.push_checkpoints:
            verified["checkpoint_removed"] = remove_hub_checkpoint(api, repo_id)
        # Recorded in the local metrics.json only; the pushed one was final before the upload.
        metrics["push"] = {"repo_id": repo_id, "upload_s": metrics["timings"]["upload"], **verified}
        metrics["wall_time_s"] = round(time.time() - started, 1)
        metrics_file.write_text(json.dumps(metrics, indent=2, default=str), encoding="utf-8")
        logger.info("Pushed and verified: https://huggingface.co/%s", repo_id)
    test = first["test"]
    logger.info("Test (%d rows): F1 %.3f, precision %.3f, recall %.3f, accuracy %.3f%s | baseline F1 %.3f | %d errors",
                test["n"], test["f1"], test["precision"], test["recall"], test["accuracy"],
                f", ROC-AUC {test['roc_auc']:.3f}" if "roc_auc" in test else "", first["baseline"]["f1"], len(errors))
    logger.info("Wrote the model, README.md (card), metrics.json, splits.csv and errors.csv to %s in %.0f s",
                args.output_dir, time.time() - started)
    return 0


def run(argv=None) -> None:
    """Entry point: a UserError becomes a one-paragraph message and exit code 2, without a traceback."""
    try:
        sys.exit(main(argv))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


# The card template, embedded because `hf jobs uv run` ships only this file.
# tests/test_copies.py checks that it equals model_card_template.md.
EMBEDDED_CARD_TEMPLATE = r'''---
{{ card_data }}
---

# {{ title }}

{% if on_the_books -%}
> **Content warning.** The laws this model reads, and the examples it was trained on, contain racist language and describe racial segregation and discrimination enacted in North Carolina between 1866 and 1967.

{% endif -%}
## What it does

{% if on_the_books -%}
This model reads the text of a section of a North Carolina session law and says whether it looks like a **Jim Crow law**: a law that enforced or encouraged racial segregation or discrimination. It answers `{{ positive_label }}` or `{{ negative_label }}`, with a score between 0 and 1. It is for archivists, historians, librarians and digital-humanities researchers who need to find the laws worth reading closely in a large body of legislation: it ranks and flags sections for a person to review. It was fine-tuned from {{ base_model_link }} on the expert-labelled examples of the [On the Books: Jim Crow and Algorithms of Resistance](https://onthebooks.lib.unc.edu/) project (University of North Carolina at Chapel Hill Libraries).
{%- else -%}
This model reads a text ({{ text_columns | join(" + ") }}) and assigns one of the labels {{ label_names | map("tojson") | join(", ") }}, with a score for each. It was fine-tuned from {{ base_model_link }} on {{ dataset_link }} to help people triage a collection: it flags texts for a person to review.
{%- endif %}

## How to use it

{% if binary -%}
The model was evaluated with a decision threshold of **{{ "%.3f" | format(threshold) }}** on the `{{ positive_label }}` score, chosen on the validation split (not 0.5). Apply it yourself:

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{{ repo_id }}", top_k=None)
THRESHOLD = {{ "%.4f" | format(threshold) }}  # chosen on validation; see "Evaluation"

def flag(texts):
    results = classifier(texts, truncation=True)
    scores = [next(s["score"] for s in r if s["label"] == "{{ positive_label }}") for r in results]
    return [(score, score >= THRESHOLD) for score in scores]

print(flag(["{{ widget_examples[0] }}"]))
```
{%- else -%}
```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{{ repo_id }}")
print(classifier(["{{ widget_examples[0] }}"], truncation=True))
```
{%- endif %}

Over a whole dataset, in batches, with the input built as in training ({% for c in text_columns %}`{{ c }}`{{ " then " if not loop.last }}{% endfor %}, joined by a blank line):

```python
from datasets import load_dataset
from transformers.pipelines.pt_utils import KeyDataset

laws = load_dataset("csv", data_files="laws.csv", split="train")  # or a Hub dataset id
laws = laws.map(lambda row: {"text": "\n\n".join(str(row[c]).strip() for c in {{ text_columns | tojson }} if row[c])})
for row, result in zip(laws, classifier(KeyDataset(laws, "text"), batch_size=32, truncation=True)):
    {% if binary %}score = next(s["score"] for s in result if s["label"] == "{{ positive_label }}")
    print(row.get("id"), round(score, 3), score >= THRESHOLD){% else %}print(row.get("id"), max(result, key=lambda s: s["score"])["label"]){% endif %}
```

With `truncation=True` the pipeline reads only the start of a text that is longer than the model's limit. In training and evaluation, texts longer than {{ max_length }} tokens were read whole, as overlapping windows of {{ max_length }} tokens ({{ stride }} shared), and each text was scored by its {{ "most positive window" if aggregation == "max" else "mean window score" }}. Score long texts the same way: the project's `predict.py` labels a whole corpus with the same windows and threshold, or use the training script's `predict_probs` function.

## Intended use and out of scope

{% if on_the_books -%}
- **Use it for triage**: to rank and flag sections for expert review. A flag is a candidate, not a finding; a person should read every law before it is called a Jim Crow law.
- **Where it was trained**: North Carolina session laws, 1866-1967, as printed and digitised by the project. Other states, other periods, or other kinds of documents (court records, ordinances, newspapers) are out of scope until someone checks it on them.
- **OCR noise**: the texts are OCR output with broken words and hyphenation (e.g. "EAST- ERN"). The model saw that noise in training; much cleaner or much noisier text may behave differently.
- **The negative label** `{{ negative_label }}` means "not flagged by the project's process", not "certainly not discriminatory". Laws that discriminate without naming race, or through later administration, may be missed.
- **Not for** judging individuals, making legal determinations, or replacing the historical and legal expertise the project's labels came from.
{%- else -%}
- **Use it for triage**: to rank and flag texts for review by someone who knows the collection. A prediction is a candidate, not a finding.
- **Scope**: texts like those in {{ dataset_link }}. Other sources, periods, languages or OCR quality are out of scope until checked.
{%- endif %}

## Training data

{% if on_the_books -%}
[`{{ dataset }}`]({{ dataset_url }}): sections of North Carolina session laws (1866-1967) labelled by the [On the Books](https://onthebooks.lib.unc.edu/) project at UNC Chapel Hill Libraries, from laws identified by Pauli Murray's *States' Laws on Race and Color* (1951), by Richard Paschal, and by the project's experts. Licence CC BY 3.0; credit: On the Books: Jim Crow and Algorithms of Resistance, University of North Carolina at Chapel Hill Libraries.
{%- else -%}
{{ dataset_link }}.
{%- endif %}

- **Rows used**: {{ rows_used }}{% if rows_dropped_empty %} ({{ rows_dropped_empty }} rows with empty text dropped){% endif %}{% if max_samples %}, a stratified subset of {{ max_samples }} rows (`--max-samples`){% endif %}.
- **Input**: {% for c in text_columns %}`{{ c }}`{{ ", then " if not loop.last }}{% endfor %}, joined with a blank line.
- **Label**: `{{ label_column }}` → {% for n in label_names %}`{{ n }}` ({{ class_counts[n] }} rows){{ ", " if not loop.last }}{% endfor %}.
{% if dropped_columns %}- **Columns removed before anything else**, so the model never sees them:
{% for d in dropped_columns %}  - `{{ d.name }}`{% if d.shares %}: it gives the label away ({% for s in d.shares %}{{ s.value }}: {{ s.positive }}/{{ s.count }} {{ positive_label }}, {{ "%.0f" | format(100 * s.share) }}%{{ "; " if not loop.last }}{% endfor %}). A model given it would learn who labelled a law, not what the law says.{% else %}: removed with `--drop-columns`.{% endif %}
{% endfor %}{% endif -%}
- **Duplicates**: rows that share the whitespace-normalised text of any input column form a group ({{ duplicate_rows }} rows in {{ duplicate_groups }} groups{% if on_the_books %}, e.g. the sections of one act share its chapter title, and boiler-plate repeal clauses recur{% endif %}). Each group is kept inside one split, so no text is trained on and then tested on.

## Evaluation

**Method.** The rows were split once, stratified by label and grouped as above, with seed {{ seed }}: {{ split.train }} train, {{ split.validation }} validation, {{ split.test }} test. The model was trained on train; the epoch, the window aggregation and the decision threshold were chosen on validation only; the test split was scored once, at the end. The row ids of each split are in `splits.csv`.

**Test results** ({{ split.test }} rows{% if binary %}, threshold {{ "%.3f" | format(threshold) }}{% endif %}{% if intervals %}, 95% bootstrap intervals over {{ bootstrap_resamples }} resamples of the test rows{% endif %}):

| Metric | {{ model_short }}{% if intervals %} | 95% interval{% endif %}{% if test_at_half %} | at threshold 0.5{% endif %}{% if baseline %} | TF-IDF + logistic regression{% endif %} |
|---|---{% if intervals %}|---{% endif %}{% if test_at_half %}|---{% endif %}{% if baseline %}|---{% endif %}|
{% for m in metric_rows -%}
| {{ m.label }} | {{ "%.3f" | format(m.value) }}{% if intervals %} | {% if m.interval %}{{ "%.3f – %.3f" | format(m.interval[0], m.interval[1]) }}{% endif %}{% endif %}{% if test_at_half %} | {{ "%.3f" | format(m.at_half) if m.at_half is not none }}{% endif %}{% if baseline %} | {{ "%.3f" | format(m.baseline) if m.baseline is not none }}{% endif %} |
{% endfor %}
{% if binary %}F1, precision and recall are for the `{{ positive_label }}` class.{% else %}F1, precision and recall are macro averages over the classes.{% endif %}{% if baseline %} The baseline is a class-weighted TF-IDF (word 1-2 grams) + logistic-regression model trained on the same training rows, with its regularisation and threshold chosen on the same validation rows.{% endif %}

**Confusion matrix** (test; rows are the true label, columns the prediction):

| true \ predicted |{% for n in label_names %} {{ n }} |{% endfor %}
|---|{% for n in label_names %}---|{% endfor %}
{% for row in confusion -%}
| {{ label_names[loop.index0] }} |{% for v in row %} {{ v }} |{% endfor %}
{% endfor %}
{% if errors_count is not none %}{{ errors_count }} of {{ split.test }} test rows were misclassified; they are listed in `errors.csv` (id, true label, predicted label, score) for anyone who wants to read them.
{% endif %}
{% if per_class %}
**Per class** (test):

| Class | Precision | Recall | F1 | Rows |
|---|---|---|---|---|
{% for name, m in per_class.items() -%}
| {{ name }} | {{ "%.3f" | format(m.precision) }} | {{ "%.3f" | format(m.recall) }} | {{ "%.3f" | format(m.f1) }} | {{ m.support }} |
{% endfor %}
{% endif %}
{% if binary %}**Decision threshold.** A text is flagged when its `{{ positive_label }}` score is at least **{{ "%.4f" | format(threshold) }}**, the threshold that maximised F1 on validation (validation F1 {{ "%.3f" | format(threshold_validation_f1) }}). Lower it to miss fewer laws at the cost of more false flags.
{% endif %}
**Validation per epoch** (the row marked * is the model kept):

| Epoch | Loss | F1 | Precision | Recall | Accuracy{% if history[0].roc_auc is defined %} | ROC-AUC{% endif %} |
|---|---|---|---|---|---{% if history[0].roc_auc is defined %}|---{% endif %}|
{% for h in history -%}
| {{ h.epoch }}{{ "*" if h.epoch == best_epoch }} | {{ "%.4f" | format(h.loss) }} | {{ "%.3f" | format(h.f1) }} | {{ "%.3f" | format(h.precision) }} | {{ "%.3f" | format(h.recall) }} | {{ "%.3f" | format(h.accuracy) }}{% if h.roc_auc is defined %} | {{ "%.3f" | format(h.roc_auc) }}{% endif %} |
{% endfor %}
**Long texts.** {{ long_rows }} of {{ rows_used }} texts were longer than one {{ max_length }}-token window and were read as overlapping windows; each text got its {{ "most positive window's score" if aggregation == "max" else "mean window score" }}.
{% if seeds %}
**Across {{ seeds.n }} seeds** (split and initialisation both change; mean ± standard deviation of the test metrics; the published model is seed {{ seeds.seeds[0] }}'s, chosen before any test score was seen):

| Metric | Mean ± std | Per seed |
|---|---|---|
{% for name, s in seeds.summary.items() -%}
| {{ name }} | {{ "%.3f ± %.3f" | format(s.mean, s.std) }} | {{ s["values"] | map("round", 3) | join(", ") }} |
{% endfor %}
{% endif %}
{% if holdout %}
**Held-out `{{ holdout.column }}`** (one training per value: trained on the other values' rows, tested on all rows of the held-out one; the column was used only for grouping):

| Held out | Rows | Positive | Result |
|---|---|---|---|
{% for g in holdout.groups -%}
| {{ g.value }} | {{ g.rows }} | {{ g.positives }} | {{ g.summary }} |
{% endfor %}
This is the honest worst case for a collection labelled by a different process than the training data.
{% endif %}

## Training procedure

| Hyperparameter | Value |
|---|---|
{% for k, v in hyperparameters.items() -%}
| {{ k }} | {{ v }} |
{% endfor %}

The loss is cross-entropy with inverse-frequency class weights computed on the training split, w_c = N / (K · n_c): {% for n, w in class_weights.items() %}`{{ n }}` {{ "%.3f" | format(w) }}{{ ", " if not loop.last }}{% endfor %}. Training batches group texts of similar length and are padded per batch.

- **Hardware**: {{ hardware }}; precision {{ precision }}; attention {{ attention }}{% if padding_efficiency %}; {{ "%.0f" | format(100 * padding_efficiency) }}% of the tokens computed in training batches were real text, not padding{% endif %}.
- **Wall time**: {{ "%.0f" | format(wall_time) }} s in all{% if timings %} ({% for k, v in timings.items() %}{{ k.replace("_", " ") }} {{ "%.1f" | format(v) }} s{{ ", " if not loop.last }}{% endfor %}){% endif %}.
- **Libraries**: {% for k, v in versions.items() %}{{ k }} {{ v }}{{ ", " if not loop.last }}{% endfor %}.

## Reproduce

```bash
{{ command }}
```

{% if script_url %}The script: {{ script_url }}. {% endif %}The files `metrics.json` (every number on this card), `splits.csv` and `errors.csv` in this repository come from the same run.

## Limitations, bias and ethics

{% if on_the_books -%}
- The labels encode the judgement of the On the Books project's experts and of earlier compilers (Murray, Paschal). The model learns their notion of a Jim Crow law, including its blind spots.
- The training data hold {{ class_counts[positive_label] }} positive examples: rare kinds of discriminatory law may be missed. Recall on the test split is {{ "%.2f" | format(test.recall) }}, so about {{ "%.0f" | format(100 * (1 - test.recall)) }} in 100 Jim Crow sections like those in the data go unflagged at this threshold.
- Historical legal language about race is offensive. The model's scores are a finding aid; they do not measure harm, and a low score is not evidence that a law was benign.
- Do not publish the model's flags as a list of Jim Crow laws without expert review.
{%- else -%}
- The model learns the labelling decisions in its training data, including their blind spots.
- Test recall is {{ "%.2f" | format(test.recall) }}: some relevant texts will be missed. Review flags before acting on them.
{%- endif %}

## Citation

{% if on_the_books -%}
Please credit the data: *On the Books: Jim Crow and Algorithms of Resistance*, University of North Carolina at Chapel Hill Libraries, https://onthebooks.lib.unc.edu/ (CC BY 3.0).

{% raw %}```bibtex
@misc{onthebooks,
  title = {On the Books: Jim Crow and Algorithms of Resistance},
  institution = {University of North Carolina at Chapel Hill Libraries},
  year = {2020},
  url = {https://onthebooks.lib.unc.edu/}
}
```{% endraw %}

{% endif -%}
{% if model_citation -%}
The base model:

```bibtex
{{ model_citation }}
```
{%- else -%}
The base model: {{ base_model_link }}; please cite it as its authors ask.
{%- endif %}
'''

if __name__ == "__main__":
    run()
