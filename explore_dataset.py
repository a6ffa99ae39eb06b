# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "datasets>=4.0",
#     "huggingface_hub>=1.0",
#     "matplotlib>=3.8",
#     "numpy>=1.26",
#     "transformers>=5.0",
# ]
# ///
"""Look at a labelled text dataset before training on it: size, labels, lengths, duplicates and leaky columns.

Read this report before you train. On `biglam/on_the_books` it finds what a careful reader
of the dataset card finds: the `source` column gives the label away (paschal rows are all
Jim Crow laws), some sections are boiler-plate repeated word for word, and a few sections
are far longer than the rest. It then says which training flags to use about it.

The dataset the training scripts use (a few seconds):

    uv run explore_dataset.py

Your own data, with token lengths for the model you mean to train and a length histogram:

    uv run explore_dataset.py --dataset my_labels.csv --label-column label --text-columns body
    uv run explore_dataset.py --tokenizer answerdotai/ModernBERT-base --plot

On Hugging Face Jobs (the report is printed to the job's log):

    hf jobs uv run explore_dataset.py --dataset someone/dataset

It prints the report and writes the same facts to `--output` (JSON, default dataset_report.json)
with a Markdown copy beside it (dataset_report.md) and, with --plot, a PNG (dataset_report.png).
`--dataset` takes a Hub id or a local CSV / Parquet / JSON(L) file or `save_to_disk` folder,
loaded exactly as train_modernbert.py loads it. Run with `--help` for every flag.
"""

import argparse
import codecs
import csv
import importlib.util
import itertools
import json
import logging
import math
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The same defaults, spelled the same way, as train_modernbert.py and train_roberta.py.
DATASET_ID = "biglam/on_the_books"
TEXT_COLUMNS = ["chapter_text", "section_text"]
LABEL_COLUMN = "jim_crow"
OUTPUT = "dataset_report.json"
# The training scripts' --validation-size and --test-size defaults: each class needs
# 2 / 0.1 = 20 rows so that validation and test each get at least 2 of them.
VALIDATION_SIZE = 0.1
TEST_SIZE = 0.1
MAX_CLASSES = 100  # the training scripts refuse a label column (not a ClassLabel) with more distinct values
FREE_TEXT_CHARS = 40  # labels this long, or unique to their rows, are free text (past 20 distinct values)

# Leakage verdict; the reasoning is in leakage_verdict().
PURE_SHARE = 0.9  # a value "pins" a label when at least 90% of its rows carry it ...
MIN_VALUE_ROWS = 10  # ... over at least 10 rows (fewer is an anecdote, not evidence)
PINNED_LABEL_SHARE = 0.1  # leaky when pinning values hold >= 10% of that label's rows
LEAKY_CRAMERS_V = 0.5  # ... or when the association is large by Cohen's convention (0.5)
ASSOCIATED_CRAMERS_V = 0.1  # "small" by the same convention; below this a column is "weak"
MAX_CATEGORIES = 20  # a numeric column with more distinct values is cut into quantile bins
NUMERIC_BINS = 10
MAX_LISTED_VALUES = 30  # values beyond the 30 most common (or under MIN_VALUE_ROWS) are pooled

# Text length.
PERCENTILES = (50, 90, 95, 99)
TOKEN_LIMITS = (512, 8192)  # BERT / RoBERTa read 512 tokens, ModernBERT 8,192
TOKENIZE_BATCH = 1000

# Near-duplicates: MinHash over word 3-grams, LSH with 20 bands of 6 hashes (pairs above a
# Jaccard similarity of about 0.6 become candidates), then every candidate is checked exactly.
NEAR_DUPLICATE_THRESHOLD = 0.8
SHINGLE_WORDS = 3
MINHASH_BANDS = 20
MINHASH_ROWS = 6
MAX_BUCKET_FOR_ALL_PAIRS = 50  # larger LSH buckets are compared to their first member only
SEED = 42
EXAMPLES = 5  # example groups shown per finding


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    started = time.time()
    from huggingface_hub import get_token

    token = get_token()  # HF_TOKEN or the stored login; never logged or written
    clock = Stopwatch(started)

    # 1. Load the data exactly as the training scripts do; fail early on wrong column names.
    data = load_data(args, token)
    clock.lap("load")
    logger.info("%d rows; labels %s", data.schema["rows"], {c["label"]: c["rows"] for c in data.balance["classes"]})

    # 2. Text length in characters, and in tokens when a tokenizer is given.
    lengths = measure_lengths(data, args.text_columns)
    logger.info("Lengths measured in %.1f s", clock.lap("lengths"))

    # 3. Duplicates: exact after whitespace normalisation (case folding reported beside it), then near.
    duplicates = find_duplicates(data, lengths.texts, args)
    logger.info("Duplicates found in %.1f s", clock.lap("duplicates"))

    # 4. Leakage: every other column against the label.
    leakage = audit_leakage(data, args)
    clock.lap("leakage")
    for c in leakage["columns"]:
        logger.info("Column %s: %s (%s)", c["column"], c["verdict"], c["reason"])

    # 5. Recommendations: the training flags that follow from all of the above.
    report = {
        "dataset": args.dataset,
        "text_columns": args.text_columns,
        "label_column": args.label_column,
        "tokenizer": args.tokenizer,
        "schema": data.schema,
        "labels": data.balance,
        "lengths": lengths.report,
        "duplicates": duplicates,
        "leakage": leakage,
    }
    report["recommendations"] = recommendations(report, args)

    # 6. Write the report: JSON, the same facts as Markdown, and optionally the picture.
    write_report(report, args, data.labels, lengths, clock)
    return 0


# ---------------------------------------------------------------------------
# Flags and timing
# ---------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: HF_TOKEN (for private or gated datasets and tokenizers; never printed or saved).",
    )
    data_help = "Hub dataset id, or a local CSV/TSV/Parquet/JSON(L) file or save_to_disk folder"
    path = {"type": os.path.expanduser}  # a flag that takes a local path: ~ is the home folder, as in a shell
    p.add_argument("--dataset", default=DATASET_ID, help=f"{data_help} (default: {DATASET_ID})", **path)
    text_help = f"comma-separated columns joined into the input text (default: {','.join(TEXT_COLUMNS)})"
    p.add_argument("--text-columns", default=",".join(TEXT_COLUMNS), help=text_help)
    p.add_argument("--label-column", default=LABEL_COLUMN, help=f"column holding the label (default: {LABEL_COLUMN})")
    tokenizer_help = (
        "Hub id or local folder of the tokenizer of the model you will train, "
        "for lengths in tokens and a --max-length (default: characters only)"
    )
    p.add_argument("--tokenizer", default=None, help=tokenizer_help, **path)
    output_help = "JSON report, ending in .json; the Markdown copy (and the --plot PNG) go beside it with the same name"
    p.add_argument("--output", default=OUTPUT, help=f"{output_help} (default: {OUTPUT})", **path)
    plot_help = "also draw a PNG histogram of input lengths per label (default: off)"
    p.add_argument("--plot", action="store_true", help=plot_help)
    near_help = f"Jaccard similarity of word {SHINGLE_WORDS}-grams above which two texts are near-duplicates"
    near_help += f" (default: {NEAR_DUPLICATE_THRESHOLD})"
    p.add_argument("--near-duplicate-threshold", type=float, default=NEAR_DUPLICATE_THRESHOLD, help=near_help)
    args = p.parse_args(argv)
    args.text_columns = [c for c in args.text_columns.split(",") if c.strip()]  # unstripped: " x" may be a header
    args.output = Path(args.output)
    if args.output.suffix.lower() != ".json":
        p.error(
            f"--output {args.output}: must end in .json (the Markdown copy and the --plot PNG are written beside it, "
            "with the same name ending in .md and .png)"
        )
    dataset = Path(args.dataset).expanduser()
    if args.output.exists() and dataset.is_file() and os.path.samefile(args.output, dataset):
        p.error(
            f"--output {args.output} is the --dataset file itself: the report would replace the data. Choose another name"
        )
    if not args.text_columns:
        p.error("--text-columns names no column")
    if args.label_column in [c.strip() for c in args.text_columns]:
        p.error(f"--label-column {args.label_column} is also in --text-columns: the model would read its answer")
    if not 0 < args.near_duplicate_threshold <= 1:
        p.error("--near-duplicate-threshold must be above 0 and at most 1")
    return args


@dataclass
class Stopwatch:
    """Seconds each step took (since the previous lap) and in all (since `started`), for the report's timings."""

    started: float
    tick: float = field(default_factory=time.time)
    seconds: dict[str, float] = field(default_factory=dict)

    def lap(self, step: str) -> float:
        now = time.time()
        self.seconds[step], self.tick = now - self.tick, now
        return self.seconds[step]

    def total(self) -> float:
        self.seconds["total"] = time.time() - self.started
        return self.seconds["total"]


# ---------------------------------------------------------------------------
# 1. Load: the table, its schema and its labels
# ---------------------------------------------------------------------------
@dataclass
class Data:
    """The loaded table and what the later steps read of it."""

    table: Any  # the datasets.Dataset: its column names, features and rows
    columns: dict[str, list]  # every column as a plain list, read once: each table[column] would read the data again
    labels: list[str | None]  # each row's label as text; None where it has none
    balance: dict  # the report's "labels" section
    schema: dict  # the report's "schema" section
    ids_column: str | None  # the identifier column that names rows in the examples, if there is one
    tokenizer: Any = None  # the --tokenizer, if given


def load_data(args: argparse.Namespace, token: str | None) -> Data:
    """The tokenizer and the table, loaded as the training scripts load them; the schema; the labels."""
    tick = time.time()
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise UserError(
            "--plot needs matplotlib, which this environment lacks: run the script with "
            "`uv run explore_dataset.py ...` (it installs what the header lists) or `pip install matplotlib`."
        )
    tokenizer = load_tokenizer(args.tokenizer, token) if args.tokenizer else None
    if tokenizer is not None:
        logger.info("Loaded the tokenizer %s in %.1f s", args.tokenizer, time.time() - tick)
    table = load_table(args.dataset, token)
    args.text_columns = match_columns(table, args.text_columns)
    check_columns(table, {"--text-columns": args.text_columns, "--label-column": [args.label_column]})
    columns = table.to_dict()
    labels = label_strings(columns[args.label_column], table.features[args.label_column], args.label_column)
    check_label_spellings({y for y in labels if y is not None}, args.label_column)
    feature = table.features[args.label_column]
    check_classes(labels, feature, args.label_column)
    balance = label_balance(labels)
    # a ClassLabel's name that no row has: the training scripts leave it out, as there is nothing to learn or test
    balance["unused_class_names"] = [n for n in getattr(feature, "names", []) if n not in set(labels)]
    if len(balance["classes"]) < 2:
        raise UserError(
            f"--label-column {args.label_column}: every labelled row has the label "
            f"{[c['label'] for c in balance['classes']]}; a classifier needs at least two classes."
        )
    balance["split"] = split_warnings(balance)
    names = [c["label"] for c in balance["classes"]]
    balance["positive_label"] = positive_label(names, table.features[args.label_column], args.label_column)
    schema = {
        "rows": len(table),
        "splits": split_sizes(args.dataset, len(table), token),
        "columns": describe_columns(columns, table.features),
    }
    not_features = args.text_columns + [args.label_column]
    identifiers = [
        c for c in table.column_names if c not in not_features and is_identifier(columns[c], table.features[c])
    ]
    ids_column = "id" if "id" in identifiers else next(iter(identifiers), None)
    return Data(table, columns, labels, balance, schema, ids_column, tokenizer)


def load_tokenizer(name: str, token: str | None):
    # only the tokenizer is needed: no torch, no warning about it
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name, token=token)
    except Exception as err:  # not found, gated, offline, not a tokenizer
        raise UserError(
            f"--tokenizer {name}: could not load it ({type(err).__name__}: {first_line(err)}). "
            "Give a Hub model id (e.g. answerdotai/ModernBERT-base) or a local folder holding tokenizer files."
        ) from err
    if not tokenizer.is_fast:
        raise UserError(f"--tokenizer {name}: it has no fast (Rust) version, which the training scripts need too.")
    return tokenizer


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


# --- shared: labels (identical in the scripts that name the positive class; tests/test_copies.py checks) ---
NEGATIVE_NAME = re.compile(r"no|(no|not|non)[_\- ].+|false|0|negative", re.IGNORECASE)


def choose_positive(names: list[str], wanted: str | None, column: str | None = None) -> tuple[str, str]:
    """Of two labels, the one to flag, and why: --positive-label, else the one not named like a negative
    (no, no_*, not_*, non_*, false, 0, negative), else the one named as the label column (`jim_crow` of `other` and
    `jim_crow`), else the one that sorts last."""
    if wanted and wanted not in names:
        raise UserError(f"--positive-label {wanted}: not one of the labels {names}.")
    if wanted:
        return wanted, "set with --positive-label"
    negatives = [n for n in names if NEGATIVE_NAME.fullmatch(str(n))]
    if len(negatives) == 1:
        return next(n for n in names if n != negatives[0]), f"`{negatives[0]}` is named as the negative"
    if column in names:
        return column, "it is named as the label column; choose another with --positive-label"
    return sorted(names, key=str)[-1], "it sorts last; choose with --positive-label"


def check_label_spellings(labels, label_column: str) -> None:
    """Labels that differ only by case or surrounding spaces (`Yes`, `yes `) are one class spelled two ways; trained
    as two classes, they would split it. Refused, naming them."""
    spellings: dict[str, set] = {}
    for label in labels:
        spellings.setdefault(str(label).strip().lower(), set()).add(str(label))
    same = sorted(sorted(s) for s in spellings.values() if len(s) > 1)
    if same:
        raise UserError(
            f"--label-column {label_column}: the labels {'; '.join(' and '.join(map(repr, s)) for s in same)} differ "
            "only by case or spaces, and would be trained as different classes. Spell each class one way in the "
            f"file (e.g. replace {same[0][1]!r} with {same[0][0]!r}) and run again; --label-names only renames "
            "classes, it cannot merge them."
        )


# --- end shared: labels ---


def label_strings(values: list, feature, label_column: str) -> list[str | None]:
    """The label of each row as text: a ClassLabel's name, 1.0 read as 1, missing as None."""
    out = []
    for value in values:
        if is_missing(value) or is_empty(value) or (hasattr(feature, "names") and value < 0):  # -1: no label
            out.append(None)
        elif hasattr(feature, "names"):
            out.append(feature.names[value])
        elif isinstance(value, float):
            if value != int(value):
                raise UserError(
                    f"--label-column {label_column}: holds non-integer numbers (e.g. {value}), which looks like a "
                    "regression target. The training scripts classify; give it a column of classes."
                )
            out.append(str(int(value)))
        else:
            out.append(str(value))
    return out


def check_classes(labels: list[str | None], feature, label_column: str) -> None:
    """Refuse, as the training scripts do, a label column (not a ClassLabel) that holds no classes: free text (past
    20 distinct labels, most of them unique to their row, or long), or more distinct values than they take."""
    values = [y for y in labels if y is not None]
    distinct = set(values)
    if hasattr(feature, "names") or len(distinct) <= 20:
        return
    if len(distinct) > len(values) / 2 or sorted(map(len, values))[len(values) // 2] > FREE_TEXT_CHARS:
        raise UserError(
            f"--label-column {label_column}: this looks like free text, not labels ({len(distinct)} distinct values "
            f"in {len(values)} rows, e.g. {values[0][:60]!r}). Give the column that holds the classes."
        )
    if len(distinct) > MAX_CLASSES:
        raise UserError(
            f"--label-column {label_column}: has {len(distinct)} distinct values, more than the {MAX_CLASSES} the "
            "training scripts take: it looks like an id or a measurement, not classes. Give the column that holds "
            "the classes."
        )


def is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def is_empty(value) -> bool:
    return isinstance(value, str) and not value.strip()


def label_balance(labels: list[str | None]) -> dict:
    found = Counter(labels)
    counts = {label: found[label] for label in sorted_labels(labels)}
    total = sum(counts.values())
    weights = class_weights(counts)
    return {
        "rows_with_label": total,
        "missing": found[None],
        "classes": [
            {"label": label, "rows": n, "share": round(n / total, 4), "weight": round(weights[label], 4)}
            for label, n in counts.items()
        ],
        "weight_formula": "w_c = N / (K * n_c)",
    }


def positive_label(labels: list[str], feature, label_column: str) -> dict | None:
    """Of two labels, the one the training scripts flag, and why: their choose_positive on the names they give the
    labels (a 0/1 or False/True column's become no_<column> and <column>). None for more than two labels."""
    if len(labels) != 2:
        return None
    names = {y: y for y in labels}
    flags_column = is_numeric_type(feature) or getattr(feature, "dtype", "") == "bool"
    if flags_column and set(labels) in ({"0", "1"}, {"False", "True"}):
        names = {y: label_column if y in ("1", "True") else f"no_{label_column}" for y in labels}
    name, reason = choose_positive(list(names.values()), None, label_column)
    logger.info("Positive label for the training scripts: %s (%s)", name, reason)
    return {"name": name, "label": next(y for y, n in names.items() if n == name), "reason": reason}


def sorted_labels(labels: list[str | None]) -> list[str]:
    """Distinct labels in a stable order: numerically when they are all numbers, else alphabetically."""
    distinct = {y for y in labels if y is not None}
    numeric = all(re.fullmatch(r"-?\d+", y) for y in distinct)
    return sorted(distinct, key=int if numeric else str)


def class_weights(counts: dict[str, int]) -> dict[str, float]:
    """Inverse-frequency weights w_c = N / (K * n_c), as the training scripts compute them on their train split."""
    total, k = sum(counts.values()), len(counts)
    return {label: total / (k * n) for label, n in counts.items()}


def split_warnings(balance: dict) -> dict:
    """Whether every class has enough rows for the training scripts' stratified train/validation/test split,
    and the smallest --max-samples that still gives each class enough."""
    need = rows_needed_per_class()
    small = {c["label"]: c["rows"] for c in balance["classes"] if c["rows"] < need}
    smallest_share = min(c["rows"] for c in balance["classes"]) / balance["rows_with_label"]
    return {
        "rows_needed_per_class": need,
        "too_small": small,
        "min_max_samples": math.ceil(round(need / smallest_share, 9)) if not small else None,
    }


def rows_needed_per_class(validation_size: float = VALIDATION_SIZE, test_size: float = TEST_SIZE) -> int:
    """Rows a class needs so that the smaller of validation and test still gets 2 of them (as train_*.py check)."""
    return math.ceil(round(2 / min(validation_size, test_size), 9))


def split_sizes(dataset: str, rows: int, token: str | None) -> dict[str, int]:
    """Rows per split as published. load_table pools the splits, so read the sizes again from the
    folder or the Hub's metadata (cached); a single file is one split, which `datasets` calls train."""
    import datasets

    path = Path(dataset).expanduser()
    try:
        if path.is_file():
            return {"train": rows}
        if path.is_dir() and (path / "dataset_dict.json").exists():
            return {name: len(split) for name, split in datasets.load_from_disk(str(path)).items()}
        if not path.is_dir():
            splits = datasets.load_dataset_builder(dataset, token=token).info.splits or {}
            sizes = {name: split.num_examples for name, split in splits.items()}
            if sizes and sum(sizes.values()) == rows:
                return sizes
    except Exception as err:  # metadata only: the report goes on without it
        logger.info("Could not read the split sizes (%s: %s)", type(err).__name__, err)
    return {"all": rows}


def describe_columns(columns: dict[str, list], features) -> list[dict]:
    """Type, missing (null) values, empty strings and distinct values of every column."""
    out = []
    for name, values in columns.items():
        hashable = [v if not isinstance(v, (list, dict)) else json.dumps(v, sort_keys=True) for v in values]
        out.append(
            {
                "name": name,
                "type": column_type(features[name]),
                "missing": sum(is_missing(v) for v in values),
                "empty": sum(is_empty(v) for v in values),
                "distinct": len({v for v in hashable if not is_missing(v)}),
            }
        )
    return out


def column_type(feature) -> str:
    if hasattr(feature, "names"):
        return f"ClassLabel({', '.join(feature.names)})"
    return getattr(feature, "dtype", type(feature).__name__)


def is_identifier(values: list, feature) -> bool:
    """A different, present value in every row, and not a float (an all-distinct float column is a measurement)."""
    if getattr(feature, "dtype", "").startswith("float") or len(values) < 2 or any(is_missing(v) for v in values):
        return False
    distinct = {json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v for v in values}
    return len(distinct) == len(values)


# ---------------------------------------------------------------------------
# 2. Text length
# ---------------------------------------------------------------------------
@dataclass
class Lengths:
    """The input texts and their lengths."""

    texts: dict[str, list[str | None]]  # each text column, and input_text as the training scripts join them
    report: dict  # the report's "lengths" section
    input_lengths: list[int]  # of each non-empty input_text, in tokens when there is a tokenizer: for the picture


def measure_lengths(data: Data, text_columns: list[str]) -> Lengths:
    """Length percentiles of each text column and of the joined input, in characters and (with a tokenizer) tokens."""
    texts = {c: [None if is_missing(v) or is_empty(v) else str(v) for v in data.columns[c]] for c in text_columns}
    texts["input_text"] = [t or None for t in build_texts(data.columns, text_columns)]
    if not any(texts["input_text"]):
        raise UserError(f"--text-columns {','.join(text_columns)}: every row is empty there; nothing to read.")
    chars = {name: length_summary([len(t) for t in column if t]) for name, column in texts.items()}
    tokens, max_length = None, None
    input_lengths = [len(t) for t in texts["input_text"] if t]  # for the picture: tokens when we have them
    tokenizer = data.tokenizer
    if tokenizer is not None:
        counted = {name: count_tokens(tokenizer, [t for t in column if t]) for name, column in texts.items()}
        tokens = {name: length_summary(lengths, TOKEN_LIMITS) for name, lengths in counted.items()}
        input_lengths = counted["input_text"]
        model_max = tokenizer.model_max_length if tokenizer.model_max_length < 1_000_000 else None
        max_length = covering_max_length(tokens["input_text"], model_max)
    note = "Percentiles are observed lengths: p95 is the smallest length that 95% of non-empty rows do not exceed."
    if not tokens:
        note += " Pass --tokenizer (the model you will train) for lengths in tokens and a --max-length."
    report = {"chars": chars, "tokens": tokens, "max_length": max_length, "note": note}
    return Lengths(texts, report, input_lengths)


def length_summary(lengths: list[int], limits: tuple[int, ...] = ()) -> dict:
    """Mean, p50/p90/p95/p99, max, and the share of rows longer than each limit."""
    if not lengths:
        return {"rows": 0}
    values = sorted(lengths)
    out = {"rows": len(values), "mean": round(sum(values) / len(values), 1)}
    out.update({f"p{q}": int(nearest_rank(values, q)) for q in PERCENTILES})
    out["max"] = values[-1]
    for limit in limits:
        over = sum(v > limit for v in values)
        out[f"over_{limit}"] = {"rows": over, "share": round(over / len(values), 4)}
    return out


def nearest_rank(sorted_values, q: int):
    """The q-th percentile as an observed value: the smallest value that q% of rows do not exceed."""
    return sorted_values[max(-(-q * len(sorted_values) // 100), 1) - 1]


def count_tokens(tokenizer, texts: list[str], batch_size: int = TOKENIZE_BATCH) -> list[int]:
    """Tokens per text as the model reads it (special tokens included), in batches through the fast tokenizer."""
    from tqdm.auto import tqdm

    counts = []
    for start in tqdm(
        range(0, len(texts), batch_size), desc="tokenising", unit="batch", disable=len(texts) <= 10 * batch_size
    ):
        encoded = tokenizer(
            texts[start : start + batch_size],
            add_special_tokens=True,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        counts.extend(len(ids) for ids in encoded["input_ids"])
    return counts


def covering_max_length(token_summary: dict, model_max_length: int | None) -> dict:
    """The --max-length that reads 95% (and 99%) of rows whole; longer rows become overlapping windows
    in training, so this trades speed against windowing, never against cut-off text."""
    suggested = -(-token_summary["p95"] // 8) * 8  # a multiple of 8 suits GPU kernels
    capped = model_max_length is not None and suggested > model_max_length
    return {
        "covers_95": token_summary["p95"],
        "covers_99": token_summary["p99"],
        "model_max_length": model_max_length,
        "suggested": model_max_length if capped else suggested,
        "capped_by_model": capped,
    }


# ---------------------------------------------------------------------------
# 3. Duplicates: exact (after normalisation) and near (MinHash + LSH, sub-quadratic)
# ---------------------------------------------------------------------------
def find_duplicates(data: Data, texts: dict[str, list[str | None]], args: argparse.Namespace) -> dict:
    """Exact and near-duplicate groups of each text, and the groups the training scripts keep in one split."""
    labels, threshold = data.labels, args.near_duplicate_threshold
    ids = [str(v) for v in (data.columns[data.ids_column] if data.ids_column else range(len(labels)))]
    shown = {name: [t or "" for t in column] for name, column in texts.items()}
    exact = {}
    for name, column in texts.items():
        exact[name] = describe_groups(exact_duplicate_groups(column), labels, ids, shown[name])
        folded = exact_duplicate_groups(column, casefold=True)
        exact[name].update(casefold_groups=len(folded), casefold_rows=sum(len(g) for g in folded))
    near = {}
    for name, column in texts.items():
        groups, pairs = near_duplicate_groups(column, threshold)
        near[name] = {**describe_groups(groups, labels, ids, shown[name]), "pairs": pairs}
    grouped = split_groups([texts[c] for c in args.text_columns])
    normalisation = (
        "Exact duplicates: texts equal after collapsing runs of whitespace to one space and stripping the ends "
        "(case kept, as the training scripts group them); the case-folded counts fold case too. "
        "`input_text` is the text columns joined as the training scripts join them."
    )
    method = (
        f"MinHash of word {SHINGLE_WORDS}-grams, {MINHASH_BANDS} LSH bands x {MINHASH_ROWS} hashes, "
        f"candidates checked exactly; Jaccard >= {threshold}; texts not identical after whitespace normalisation"
    )
    return {
        "normalisation": normalisation,
        "exact": exact,
        "near": {
            "method": method,
            "threshold": threshold,
            "shingle_words": SHINGLE_WORDS,
            "hashes": MINHASH_BANDS * MINHASH_ROWS,
            "bands": MINHASH_BANDS,
            "columns": near,
        },
        "split_groups": {"groups": len(grouped), "rows": sum(len(g) for g in grouped)},
    }


def exact_duplicate_groups(texts: list[str | None], casefold: bool = False) -> list[list[int]]:
    """Rows whose texts are equal after whitespace normalisation (and case folding); empty texts never match."""
    rows_by_key = {}
    for row, text in enumerate(texts):
        key = normalise_whitespace(text or "")
        if key:
            rows_by_key.setdefault(key.casefold() if casefold else key, []).append(row)
    return [rows for rows in rows_by_key.values() if len(rows) > 1]


def normalise_whitespace(text: str) -> str:
    """Runs of whitespace become one space, ends stripped: the key train_*.py group duplicates by
    (they use a regular expression; str.split() splits on the same whitespace characters, faster)."""
    return " ".join(text.split())


def describe_groups(groups: list[list[int]], labels, ids, texts) -> dict:
    """Counts and the largest examples for a list of row groups (each of 2+ rows)."""
    groups = sorted(groups, key=lambda g: (-len(g), g[0]))
    conflicting = [g for g in groups if len(label_counts(g, labels)) > 1]
    agreeing = [g for g in groups if len(label_counts(g, labels)) <= 1]
    show = conflicting[:EXAMPLES] + agreeing[: max(EXAMPLES - len(conflicting), 0)]  # conflicts first: they need a look
    return {
        "groups": len(groups),
        "rows": sum(len(g) for g in groups),
        "conflicting_groups": len(conflicting),
        "conflicting_rows": sum(len(g) for g in conflicting),
        "examples": [
            {
                "rows": len(g),
                "ids": [ids[r] for r in g[:EXAMPLES]],
                "labels": label_counts(g, labels),
                "text": texts[g[0]][:100],
            }
            for g in show
        ],
    }


def label_counts(rows, labels) -> dict[str, int]:
    counts = {}
    for r in rows:
        if labels[r] is not None:
            counts[labels[r]] = counts.get(labels[r], 0) + 1
    return dict(sorted(counts.items()))


def near_duplicate_groups(texts: list[str | None], threshold: float) -> tuple[list[list[int]], int]:
    """Groups of rows whose texts differ (after whitespace normalisation) but whose word 3-gram sets
    have a Jaccard similarity >= threshold, found without comparing every pair. Returns (groups, pairs)."""
    rows_by_text = {}
    for row, text in enumerate(texts):
        key = normalise_whitespace(text or "")
        if key:
            rows_by_text.setdefault(key, []).append(row)
    distinct = list(rows_by_text)
    if len(distinct) < 2:
        return [], 0
    shingles = word_shingles(distinct)
    signatures = minhash_signatures(shingles, MINHASH_BANDS * MINHASH_ROWS)
    similar = [(a, b) for a, b in lsh_candidate_pairs(signatures) if jaccard(shingles[a], shingles[b]) >= threshold]
    groups = [
        sorted(r for i in group for r in rows_by_text[distinct[i]])
        for group in members(connected_groups(len(distinct), similar))
    ]
    return groups, len(similar)


def word_shingles(texts: list[str], size: int = SHINGLE_WORDS) -> list:
    """The set of word `size`-grams of each text (lower-cased words), each packed into one uint64:
    exact while the vocabulary has fewer than 2**(64 // size) words. A shorter text is one shingle."""

    words = [re.findall(r"\w+", text.lower()) or [text] for text in texts]
    # 0 pads short texts
    vocab = {w: i for i, w in enumerate(dict.fromkeys(itertools.chain.from_iterable(words)), start=1)}
    bits, out = np.uint64(64 // size), []
    for text_words in words:
        ids = np.fromiter(map(vocab.__getitem__, text_words), dtype=np.uint64, count=len(text_words))
        if len(ids) < size:
            ids = np.concatenate([ids, np.zeros(size - len(ids), dtype=np.uint64)])
        packed = ids[: len(ids) - size + 1]
        for k in range(1, size):
            packed = (packed << bits) | ids[k : len(ids) - size + 1 + k]
        out.append(np.unique(packed))
    return out


def minhash_signatures(shingle_sets: list, num_hashes: int, seed: int = SEED, chunk: int = 1 << 15):
    """One row of `num_hashes` minimum hashes per text: two texts agree on a given hash with a
    probability equal to the Jaccard similarity of their shingle sets. Each shingle is mixed once,
    then each of the hash functions is a cheap multiply-add (odd multiplier, arithmetic mod 2**64)."""
    rng = np.random.default_rng(seed)
    multipliers = rng.integers(0, np.iinfo(np.uint64).max, size=num_hashes, dtype=np.uint64) | np.uint64(1)
    addends = rng.integers(0, np.iinfo(np.uint64).max, size=num_hashes, dtype=np.uint64)
    signatures = np.empty((len(shingle_sets), num_hashes), dtype=np.uint64)
    start = 0
    while start < len(shingle_sets):
        end, size = start, 0
        while end < len(shingle_sets) and (end == start or size + len(shingle_sets[end]) <= chunk):
            size += len(shingle_sets[end])
            end += 1
        flat = np.concatenate(shingle_sets[start:end])
        offsets = np.cumsum([0] + [len(s) for s in shingle_sets[start : end - 1]])
        hashed = mix64(flat)[:, None] * multipliers[None, :] + addends[None, :]
        signatures[start:end] = np.minimum.reduceat(hashed, offsets, axis=0)
        start = end
    return signatures


def mix64(x):
    """splitmix64's finaliser: a fast, well-spread 64-bit hash that numpy can apply to whole arrays."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def lsh_candidate_pairs(signatures, bands: int = MINHASH_BANDS, rows: int = MINHASH_ROWS) -> set:
    """Pairs of texts that agree on all hashes of at least one band. Within a bucket every pair is
    listed up to MAX_BUCKET_FOR_ALL_PAIRS members, beyond that each member is paired with the first,
    so a thousand copies of one boiler-plate text cost a thousand checks, not half a million."""

    pairs = set()
    for b in range(bands):
        key = np.zeros(len(signatures), dtype=np.uint64)
        for column in signatures[:, b * rows : (b + 1) * rows].T:
            key = mix64(key ^ column)
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        shared = np.flatnonzero(counts[inverse] > 1)
        shared = shared[np.argsort(inverse[shared], kind="stable")]
        for bucket in np.split(shared, np.flatnonzero(np.diff(inverse[shared])) + 1):
            bucket = [int(i) for i in bucket]
            if len(bucket) <= MAX_BUCKET_FOR_ALL_PAIRS:
                pairs.update(itertools.combinations(bucket, 2))
            elif len(bucket) > 1:
                pairs.update((bucket[0], other) for other in bucket[1:])
    return pairs


def jaccard(a, b) -> float:
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


def connected_groups(n: int, pairs) -> list[int]:
    """Union-find: a component number per item, given pairs of items that belong together."""
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        parent[find(a)] = find(b)
    return [find(i) for i in range(n)]


def members(components: list[int]) -> list[list[int]]:
    """The items of each component with 2 or more items."""
    out = {}
    for item, c in enumerate(components):
        out.setdefault(c, []).append(item)
    return [m for m in out.values() if len(m) > 1]


def split_groups(text_columns: list[list[str | None]]) -> list[list[int]]:
    """Rows that share the whitespace-normalised text of any input column: the groups train_*.py keep
    inside one split, so that no text is trained on and then tested on."""
    pairs = []
    for texts in text_columns:
        for rows in exact_duplicate_groups(texts):
            pairs.extend((rows[0], r) for r in rows[1:])
    return members(connected_groups(len(text_columns[0]), pairs))


# ---------------------------------------------------------------------------
# 4. Leakage audit: every column that is neither text nor label, against the label
# ---------------------------------------------------------------------------
def audit_leakage(data: Data, args: argparse.Namespace) -> dict:
    """A verdict on every column that is neither text nor label: does it give the label away?"""
    label_order = [c["label"] for c in data.balance["classes"]]
    audited = [c for c in data.table.column_names if c not in args.text_columns and c != args.label_column]
    features = data.table.features
    return {
        "rule": leakage_rule(),
        "columns": [audit_column(c, data.columns[c], features[c], data.labels, label_order) for c in audited],
    }


def leakage_rule() -> str:
    """The verdict rule in words, for the report."""
    return (
        f"A value pins a label when >= {PURE_SHARE:.0%} of its rows (and >= {MIN_VALUE_ROWS}) carry it "
        "and that label is held by at most half of all rows. "
        f"A column is leaky when its pinning values hold >= {PINNED_LABEL_SHARE:.0%} of that label's rows, "
        f"or when bias-corrected Cramér's V >= {LEAKY_CRAMERS_V}; associated when V >= {ASSOCIATED_CRAMERS_V}. "
        f"Numeric columns with over {MAX_CATEGORIES} values are cut into {NUMERIC_BINS} quantile bins; "
        f"values beyond the {MAX_LISTED_VALUES} most common or under {MIN_VALUE_ROWS} rows are pooled as (other). "
        "A column unique in every row is an identifier."
    )


def audit_column(name: str, raw_values: list, feature, labels: list[str | None], label_order: list[str]) -> dict:
    """Per value: rows, label counts and share; overall association; the verdict."""
    distinct = {
        json.dumps(v, sort_keys=True) if isinstance(v, (list, dict)) else v for v in raw_values if not is_missing(v)
    }
    if len(set(value_names(raw_values))) < 2:  # being missing is a value too: it can leak
        return {
            "column": name,
            "kind": "constant",
            "distinct": len(distinct),
            "verdict": "constant",
            "reason": "the same value (or none) in every row: carries no information",
        }
    if is_identifier(raw_values, feature):
        return {
            "column": name,
            "kind": "identifier",
            "distinct": len(distinct),
            "verdict": "identifier",
            "reason": "a different value in every row: an identifier (or free text), not scored as a feature",
        }
    numeric = is_numeric_type(feature) and len(distinct) > MAX_CATEGORIES
    names = value_names(numeric_bins(raw_values) if numeric else raw_values)
    keep = [i for i, y in enumerate(labels) if y is not None]
    names = pool_rare_values([names[i] for i in keep])
    kept_labels = [labels[i] for i in keep]
    order, counts = contingency(names, kept_labels, label_order)
    label_sums = (sum(column) for column in zip(*counts, strict=True))
    label_totals = dict(zip(label_order, label_sums, strict=True))
    values = []
    for value, row in zip(order, counts, strict=True):
        top = max(range(len(row)), key=lambda j: row[j])
        values.append(
            {
                "value": value,
                "rows": sum(row),
                "label_counts": dict(zip(label_order, row, strict=True)),
                "top_label": label_order[top],
                "top_share": round(row[top] / sum(row), 4),
                "pins_label": False,
            }
        )
    v = cramers_v(counts)
    verdict, pinned, reason = leakage_verdict(values, label_order, label_totals, v)
    bins = len(set(order) - {"(missing)", "(other)"})
    return {
        "column": name,
        "kind": f"numeric, {bins} quantile bins" if numeric else "categorical",
        "distinct": len(distinct),
        "verdict": verdict,
        "reason": reason,
        "cramers_v": round(v, 4),
        "uncertainty_coefficient": round(uncertainty_coefficient(counts), 4),
        "pinned": pinned,
        "values": values,
    }


def value_names(values: list) -> list[str]:
    """Values as text for the per-value table; null and blank become "(missing)"."""
    return ["(missing)" if is_missing(v) or is_empty(v) else str(v) for v in values]


def is_numeric_type(feature) -> bool:
    dtype = getattr(feature, "dtype", "")
    return not hasattr(feature, "names") and dtype.startswith(("int", "uint", "float"))


def numeric_bins(values: list, bins: int = NUMERIC_BINS) -> list[str]:
    """Each value's quantile bin, named by the smallest and largest value in it ("1-75"); missing stays missing."""
    present = np.sort(np.array([v for v in values if not is_missing(v)], dtype=float))
    edges = np.unique([nearest_rank(present, 100 * k // bins) for k in range(1, bins)])  # upper ends of bins 1..bins-1
    index = {v: int(np.searchsorted(edges, v, side="left")) for v in set(present.tolist())}
    low, high = {}, {}
    for v, i in index.items():
        low[i], high[i] = min(low.get(i, v), v), max(high.get(i, v), v)
    names = {
        i: format_number(low[i]) if low[i] == high[i] else f"{format_number(low[i])}-{format_number(high[i])}"
        for i in low
    }
    return [None if is_missing(v) else names[index[float(v)]] for v in values]


def format_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.4g}"


def pool_rare_values(names: list[str]) -> list[str]:
    """Keep the MAX_LISTED_VALUES most common values that have MIN_VALUE_ROWS rows; pool the rest as "(other)".
    Many tiny values would inflate any association score by chance."""
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    kept = {n for n, c in sorted(counts.items(), key=lambda kv: -kv[1])[:MAX_LISTED_VALUES] if c >= MIN_VALUE_ROWS}
    return names if len(kept) == len(counts) else [n if n in kept else "(other)" for n in names]


def contingency(values: list[str], labels: list[str], label_order: list[str]) -> tuple[list[str], list[list[int]]]:
    """Rows per (value, label), values ordered by their row count."""
    column_of = {label: j for j, label in enumerate(label_order)}
    table = {}
    for v, y in zip(values, labels, strict=True):
        table.setdefault(v, [0] * len(label_order))[column_of[y]] += 1
    order = sorted(table, key=lambda v: (-sum(table[v]), v))
    return order, [table[v] for v in order]


def cramers_v(counts: list[list[int]]) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013): 0 for independence, 1 when the value fixes the label.
    The correction stops columns with many values from looking associated by chance."""
    observed = np.asarray(counts, dtype=float)
    n = observed.sum()
    r, k = observed.shape
    if r < 2 or k < 2 or n < 2:
        return 0.0
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / n
    phi2 = float(((observed - expected) ** 2 / np.where(expected > 0, expected, 1)).sum() / n)
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_, k_ = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    return math.sqrt(phi2 / min(k_ - 1, r_ - 1)) if min(k_, r_) > 1 else 0.0


def leakage_verdict(
    values: list[dict], label_order: list[str], label_totals: dict[str, int], v: float
) -> tuple[str, dict, str]:
    """`leaky`, `associated` or `weak`, the pinned rows per label, and the reason in words.

    A column leaks when it nearly determines the label on a substantial share of rows:
      a value *pins* a label when at least PURE_SHARE (90%) of its rows, and at least MIN_VALUE_ROWS
      of them, carry that label, and that label is held by at most half of all rows. The last
      condition is what "far above its base rate" means here: a value that is 96% `0` where 71% of all
      rows are `0` changes no answer (it is an association); a value that is 92% `1` where 29% of
      rows are `1` reverses the answer a reader would give without it.
      The column is `leaky` when the rows its pinning values get right are at least
      PINNED_LABEL_SHARE (10%) of that label's rows, or when its overall association is large
      (bias-corrected Cramér's V >= 0.5, which also catches a column that pins a majority label
      on a large share of rows). Otherwise it is `associated` (V >= 0.1) or `weak`.
    """
    total = sum(label_totals.values())
    pinned = {}
    for value in values:
        top = value["top_label"]
        if value["rows"] >= MIN_VALUE_ROWS and value["top_share"] >= PURE_SHARE and label_totals[top] <= total / 2:
            value["pins_label"] = True
            pinned.setdefault(top, {"rows": 0, "label_rows": label_totals[top], "values": []})
            pinned[top]["rows"] += value["label_counts"][top]
            pinned[top]["values"].append(value["value"])
    for p in pinned.values():
        p["share"] = round(p["rows"] / p["label_rows"], 4)
    strong = {label: p for label, p in pinned.items() if p["share"] >= PINNED_LABEL_SHARE}
    if strong:
        words = []
        for label, p in strong.items():
            shown = ", ".join(
                f"{x['value']} ({x['label_counts'][label]}/{x['rows']})"
                for x in values
                if x.get("pins_label") and x["top_label"] == label
            )
            words.append(
                f"values that pin label {label}: {shown}; they hold {p['rows']} of the {p['label_rows']} rows "
                f"labelled {label} ({p['share']:.0%})"
            )
        return "leaky", pinned, "; ".join(words)
    if v >= LEAKY_CRAMERS_V:
        return "leaky", pinned, f"Cramér's V {v:.2f} >= {LEAKY_CRAMERS_V}: the column largely determines the label"
    purest = max((x for x in values if x["rows"] >= MIN_VALUE_ROWS), key=lambda x: x["top_share"], default=None)
    closest = ""
    if pinned:
        closest = "; " + "; ".join(
            f"{', '.join(p['values'])} pin label {label}, but hold only {p['rows']} of its {p['label_rows']} rows "
            f"({p['share']:.0%})"
            for label, p in pinned.items()
        )
    elif purest is not None and purest["top_share"] >= PURE_SHARE:
        top = purest["top_label"]
        closest = (
            f"; its purest value, {purest['value']} ({purest['label_counts'][top]}/{purest['rows']} labelled {top}), "
            f"pins nothing because {label_totals[top] / total:.0%} of all rows are labelled {top}"
        )
    verdict = "associated" if v >= ASSOCIATED_CRAMERS_V else "weak"
    return verdict, pinned, f"Cramér's V {v:.2f}{closest}"


def uncertainty_coefficient(counts: list[list[int]]) -> float:
    """Theil's U: the share of the label's entropy that knowing the column removes (mutual information / H(label))."""
    joint = np.asarray(counts, dtype=float)
    joint /= joint.sum()
    p_label, p_value = joint.sum(0), joint.sum(1, keepdims=True)
    h_label = -sum(p * math.log(p) for p in p_label if p > 0)
    nz = joint > 0
    mutual = float((joint[nz] * np.log(joint[nz] / (p_value * p_label)[nz])).sum())
    return mutual / h_label if h_label > 0 else 0.0


# ---------------------------------------------------------------------------
# 5. Recommendations: what to pass to train_modernbert.py / train_roberta.py
# ---------------------------------------------------------------------------
def recommendations(report: dict, args: argparse.Namespace) -> dict:
    """The training flags, warnings and the command line that follow from the report."""
    split = report["labels"]["split"]
    positive = report["labels"]["positive_label"]
    flags = recommended_flags(report["leakage"]["columns"], report["lengths"]["max_length"], split, positive)
    warnings = []
    if split["too_small"]:
        warnings.append(
            f"too few rows for a stratified train/validation/test split: {split['too_small']} "
            f"(each class needs {split['rows_needed_per_class']} at --validation-size {VALIDATION_SIZE} and "
            f"--test-size {TEST_SIZE}); add rows, merge rare classes or raise those sizes"
        )
    if unused := report["labels"]["unused_class_names"]:
        warnings.append(
            f"the label column's ClassLabel also names {unused}, which no row has: the training scripts leave "
            f"{'it' if len(unused) == 1 else 'them'} out and learn the {len(report['labels']['classes'])} labels above"
        )
    # input_text, not one column: one column alone may repeat (an act's title) and rightly differ
    conflicts = report["duplicates"]["exact"]["input_text"]
    if conflicts["conflicting_groups"]:
        warnings.append(
            f"rows with the same input text carry different labels (groups: {conflicts['conflicting_groups']}, "
            f"rows: {conflicts['conflicting_rows']}): check those labels; "
            "the training scripts keep each group in one split"
        )
    return {"flags": flags, "warnings": warnings, "command": training_command(flags, args)}


def recommended_flags(columns: list[dict], max_length: dict | None, split: dict, positive: dict | None) -> list[dict]:
    """--drop-columns, --id-column, --max-length, --max-samples and, when no label is named as the negative,
    --positive-label, each with the reason in words."""
    leaky = [c["column"] for c in columns if c["verdict"] == "leaky"]
    identifiers = [c["column"] for c in columns if c["verdict"] == "identifier"]
    why = f"leaky: {', '.join(leaky)} would let the model read the label instead of the text"
    flags = [
        {
            "flag": "--drop-columns",
            "value": ",".join(leaky),
            "why": why if leaky else "no column was found to leak the label",
        }
    ]
    if identifiers:
        value = "id" if "id" in identifiers else identifiers[0]
        why = "unique per row: names rows in splits.csv and errors.csv"
        flags.append({"flag": "--id-column", "value": value, "why": why})
    if not max_length:
        why = "run this report with --tokenizer <the model you will train> to measure it"
        flags.append({"flag": "--max-length", "value": None, "why": why})
    else:
        capped = max_length["capped_by_model"]
        cap = f"; capped at the model's {max_length['model_max_length']} tokens" if capped else ""
        why = (
            f"{max_length['covers_95']} tokens read 95% of rows whole and {max_length['covers_99']} read 99%{cap}; "
            "longer rows become overlapping windows"
        )
        flags.append({"flag": "--max-length", "value": str(max_length["suggested"]), "why": why})
    if not split["too_small"]:
        why = (
            "smaller smoke runs leave a class with under 2 rows in validation or test "
            f"(each class needs {split['rows_needed_per_class']} rows)"
        )
        flags.append({"flag": "--max-samples", "value": f">= {split['min_max_samples']}", "why": why})
    if positive and positive["reason"].startswith("it sorts last"):
        why = (
            "not exactly one label is named as a negative (no_*, not_*, non_*, false, 0, negative), so the training "
            f"scripts flag `{positive['name']}` only because it sorts last; give --positive-label <name> for the "
            "label to flag"
        )
        flags.append({"flag": "--positive-label", "value": positive["name"], "why": why})
    return flags


def training_command(flags: list[dict], args: argparse.Namespace) -> str:
    """The train_modernbert.py command line: the flags that differ from its defaults, then the recommended ones."""
    command = ["uv run train_modernbert.py"]
    if args.dataset != DATASET_ID:
        command.append(f"--dataset {args.dataset}")
    if args.text_columns != TEXT_COLUMNS:
        command.append(f"--text-columns {','.join(args.text_columns)}")
    if args.label_column != LABEL_COLUMN:
        command.append(f"--label-column {args.label_column}")
    if args.tokenizer:  # the lengths were measured for this model: train that one
        command.append(f"--model {args.tokenizer}")
    command += [
        f"{f['flag']} {f['value'] or chr(39) * 2}"
        for f in flags
        if f["flag"] in ("--drop-columns", "--id-column", "--max-length", "--positive-label") and f["value"] is not None
    ]
    return " ".join(command)


# ---------------------------------------------------------------------------
# 6. Write the report: JSON, Markdown and picture
# ---------------------------------------------------------------------------
def write_report(report: dict, args: argparse.Namespace, labels: list, lengths: Lengths, clock: Stopwatch) -> None:
    """--output (JSON), the Markdown copy beside it (also printed) and, with --plot, the PNG."""
    args.output.parent.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(report)
    if args.plot:
        plot_input_lengths(report, args, labels, lengths)
    total = clock.total()
    report["timings"] = {k: round(v, 2) for k, v in clock.seconds.items()}
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.output.with_suffix(".md").write_text(markdown, encoding="utf-8")
    print(markdown)
    written = [args.output, args.output.with_suffix(".md")] + ([args.output.with_suffix(".png")] if args.plot else [])
    logger.info("Wrote %s in %.1f s", ", ".join(str(p) for p in written), total)


def render_markdown(report: dict) -> str:
    out = markdown_schema_and_labels(report)
    out += markdown_lengths(report)
    out += markdown_duplicates(report["duplicates"])
    out += markdown_leakage(report["leakage"])
    out += markdown_recommendations(report["recommendations"])
    return "\n".join(out)


def markdown_schema_and_labels(report: dict) -> list[str]:
    s, lab = report["schema"], report["labels"]
    out = [
        f"# Dataset report: {report['dataset']}",
        "",
        f"Text: {' + '.join(report['text_columns'])}; label: `{report['label_column']}`.",
        "",
        "## Schema and size",
        "",
        f"{s['rows']:,} rows; splits: {', '.join(f'{k} {v:,}' for k, v in s['splits'].items())}.",
        "",
    ]
    out += markdown_table(
        ["Column", "Type", "Missing", "Empty", "Distinct"],
        [[f"`{c['name']}`", c["type"], c["missing"], c["empty"], f"{c['distinct']:,}"] for c in s["columns"]],
    )
    out += ["", "## Labels", ""]
    out += markdown_table(
        ["Label", "Rows", "Share", "Class weight"],
        [[c["label"], f"{c['rows']:,}", f"{c['share']:.1%}", f"{c['weight']:.3f}"] for c in lab["classes"]],
    )
    unlabelled = f" {lab['missing']} rows have no label." if lab["missing"] else ""
    out += ["", f"Class weights: {lab['weight_formula']}, as the training scripts use them.{unlabelled}", ""]
    positive = lab["positive_label"]
    if positive:
        rows = f" (rows labelled `{positive['label']}`)" if positive["label"] != positive["name"] else ""
        what = f"Positive label: `{positive['name']}`{rows}: {positive['reason']}. The training scripts flag it"
        out += [f"{what} and report precision, recall and F1 for it.", ""]
    return out


def markdown_lengths(report: dict) -> list[str]:
    lengths = report["lengths"]
    out = ["## Text length", ""]
    for unit in ("chars", "tokens"):
        if not lengths[unit]:
            continue
        limits = unit == "tokens"
        header = ["Text", "Rows", "p50", "p90", "p95", "p99", "Max"] + (
            [f"> {n:,}" for n in TOKEN_LIMITS] if limits else []
        )
        rows = [
            [f"`{name}`", f"{x['rows']:,}"]
            + [f"{x[k]:,}" for k in ("p50", "p90", "p95", "p99", "max")]
            + ([f"{x[f'over_{n}']['share']:.1%}" for n in TOKEN_LIMITS] if limits else [])
            for name, x in lengths[unit].items()
            if x["rows"]
        ]
        what = "characters" if unit == "chars" else f"tokens of {report['tokenizer']} (special tokens included)"
        out += [f"In {what}:", ""]
        out += markdown_table(header, rows) + [""]
    out += [lengths["note"], ""]
    if lengths["max_length"]:
        m = lengths["max_length"]
        out += [f"`--max-length` {m['covers_95']:,} reads 95% of inputs whole, {m['covers_99']:,} reads 99%.", ""]
    return out


def markdown_duplicates(dup: dict) -> list[str]:
    out = ["## Duplicates", "", dup["normalisation"], ""]
    rows = []
    for name, x in dup["exact"].items():
        folded = f"{x['casefold_groups']} / {x['casefold_rows']}"
        rows.append([f"`{name}`", x["groups"], x["rows"], x["conflicting_groups"], folded])
    out += markdown_table(["Text", "Groups", "Rows", "Conflicting groups", "Case-folded: groups / rows"], rows)
    near = dup["near"]
    out += ["", f"Near-duplicates ({near['method']}):", ""]
    out += markdown_table(
        ["Text", "Groups", "Rows", "Similar pairs", "Conflicting groups"],
        [
            [f"`{name}`", x["groups"], x["rows"], x["pairs"], x["conflicting_groups"]]
            for name, x in near["columns"].items()
        ],
    )
    g = dup["split_groups"]
    kept = f"{g['rows']:,} rows in {g['groups']:,} such groups"
    out += ["", f"The training scripts keep rows that share any input column's text in one split: {kept}.", ""]
    examples = [(name, e) for name, x in dup["exact"].items() for e in x["examples"][:3]]
    if examples:
        out += ["Exact-duplicate groups, those with conflicting labels first, then the largest:", ""]
        out += [
            f'- `{name}`, {e["rows"]} rows, labels {e["labels"]}: "{e["text"][:70]}..."' for name, e in examples
        ] + [""]
    return out


def markdown_leakage(leak: dict) -> list[str]:
    out = ["## Leakage audit", "", leak["rule"], ""]
    out += markdown_table(
        ["Column", "Kind", "Verdict", "Cramér's V", "Theil's U", "Why"],
        [
            [
                f"`{c['column']}`",
                c["kind"],
                f"**{c['verdict']}**" if c["verdict"] == "leaky" else c["verdict"],
                f"{c['cramers_v']:.3f}" if "cramers_v" in c else "",
                f"{c['uncertainty_coefficient']:.3f}" if "cramers_v" in c else "",
                c["reason"],
            ]
            for c in leak["columns"]
        ],
    )
    for c in leak["columns"]:
        if "values" in c:
            labels = list(c["values"][0]["label_counts"]) if c["values"] else []
            out += ["", f"`{c['column']}` per value:", ""]
            out += markdown_table(
                ["Value", "Rows"] + [f"label {y}" for y in labels] + ["Majority label"],
                [
                    [x["value"], f"{x['rows']:,}"]
                    + [f"{x['label_counts'][y]:,} ({x['label_counts'][y] / x['rows']:.0%})" for y in labels]
                    + [f"{x['top_label']}{' (pinned)' if x['pins_label'] else ''}"]
                    for x in c["values"][:12]
                ],
            )
            if len(c["values"]) > 12:
                out += ["", f"... and {len(c['values']) - 12} more values in the JSON."]
    return out


def markdown_recommendations(rec: dict) -> list[str]:
    out = ["", "## Recommendations for train_modernbert.py / train_roberta.py", ""]
    out += [
        f"- `{f['flag']}`: {f['why']}"
        if f["value"] is None
        else f"- `{f['flag']} {f['value'] or chr(39) * 2}`: {f['why']}"
        for f in rec["flags"]
    ]
    out += [f"- Warning: {w}" for w in rec["warnings"]]
    out += ["", "```bash", rec["command"], "```", ""]
    return out


def markdown_table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]


def plot_input_lengths(report: dict, args: argparse.Namespace, labels: list, lengths: Lengths) -> None:
    """The picture of step 2: input lengths in tokens when a tokenizer was given, else in characters."""
    tokens, chars = report["lengths"]["tokens"], report["lengths"]["chars"]
    on_disk = tokens and Path(args.tokenizer).is_dir()
    short = "/".join(Path(args.tokenizer).parts[-2:]) if on_disk else args.tokenizer
    unit = f"tokens of {short}" if tokens else "characters"
    summary = (tokens or chars)["input_text"]
    marks = {"p95": summary["p95"], "p99": summary["p99"]}
    with_text = [y for y, t in zip(labels, lengths.texts["input_text"], strict=True) if t]
    plot_lengths(lengths.input_lengths, with_text, unit, marks, args.output.with_suffix(".png"))


def plot_lengths(lengths: list[int], labels: list[str | None], unit: str, marks: dict[str, int], path: Path) -> None:
    """Histogram of input lengths per label on a log scale, with the percentile marks as dashed lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = np.asarray(lengths, dtype=float)
    bins = np.geomspace(max(values.min(), 1), values.max() + 1, 40)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    for label in sorted_labels(labels):
        mine = values[[y == label for y in labels]]
        ax.hist(mine, bins=bins, histtype="step", linewidth=1.8, label=f"label {label} ({len(mine):,} rows)")
    for i, (name, x) in enumerate(marks.items()):
        ax.axvline(x, color="0.3", linestyle="--", linewidth=1)
        ax.annotate(
            f"{name} {x:,}",
            (x, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12 - 12 * i),
            textcoords="offset points",
            fontsize=8,
            color="0.2",
        )
    ax.set_xscale("log")
    ticks = [m * 10**e for e in range(7) for m in (1, 2, 5) if bins[0] <= m * 10**e <= bins[-1]]
    ax.set_xticks(ticks, [f"{x:,}" for x in ticks])
    ax.minorticks_off()
    ax.set_xlabel(f"input length ({unit}, log scale)")
    ax.set_ylabel("rows")
    ax.set_title(f"Input length per label ({len(values):,} rows)")
    ax.legend(loc="upper left", fontsize=8, frameon=False, bbox_to_anchor=(0, 0.85))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Running as a script
# ---------------------------------------------------------------------------
logger = logging.getLogger("explore")


class UserError(Exception):
    """A problem with the input that the user can fix: printed without a traceback, exit code 2."""


def run(argv=None) -> None:
    try:
        sys.exit(main(argv))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    run()
