# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "accelerate>=1.10",
#     "datasets>=4.0",
#     "huggingface_hub>=1.5",  # HfApi.auth_check(write=True)
#     "jinja2>=3.1",
#     "matplotlib>=3.8",
#     "numpy>=1.26",
#     "scikit-learn>=1.5",
#     "torch>=2.6",
#     "transformers>=5.0",
# ]
# ///
"""Fine-tune a text classifier on a labelled dataset, evaluate it honestly, and publish it with a model card.

train_modernbert.py and train_roberta.py are one script with two default models (DEFAULT_MODEL below); either
trains any encoder with the recipe of its architecture (PRESETS below).

The data: `biglam/on_the_books`, 1,785 sections of North Carolina session laws (1866-1967) labelled `jim_crow`
1/0 by the On the Books project (UNC Chapel Hill Libraries). Its `source` column gives the label away and is
dropped before anything else.

Smoke run first (on a CPU, 200 rows, one epoch; nothing is pushed):

    uv run train_modernbert.py --max-samples 200 --epochs 1 --no-push

On Hugging Face Jobs (an L4; pushes to <your user>/on-the-books-jim-crow-modernbert, or -roberta):

    hf jobs uv run --flavor l4x1 --secrets HF_TOKEN train_modernbert.py
    hf jobs uv run --flavor l4x1 --secrets HF_TOKEN train_roberta.py

Your own data: a Hub dataset id, or a local CSV / TSV / Parquet / JSON(L) file or save_to_disk folder:

    uv run train_modernbert.py --dataset my_labels.csv --text-columns body --label-column label --no-push

To make it your own classifier, edit the three EDIT HERE blocks below. Run with --help for every flag.
"""

import argparse
import codecs
import csv
import datetime
import errno
import hashlib
import itertools
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import numpy as np

# ==============================================================================================================
# EDIT HERE 1 of 3: the base model, and the training recipe of each architecture
# ==============================================================================================================
DEFAULT_MODEL = "answerdotai/ModernBERT-base"  # the one line in which train_roberta.py differs
# Chosen by the model's architecture (config.model_type), not by this file: `--model FacebookAI/roberta-base`
# trains with RoBERTa's recipe and licence whichever script runs it. A flag overrides any value.
PRESETS = {
    # ModernBERT's GLUE recipe and the public run on this dataset (4 epochs, lr 5e-5, 1,024 tokens: F1 0.971).
    "modernbert": {
        "learning_rate": 5e-5,  # ModernBERT's GLUE runs used 3e-5 to 8e-5
        "epochs": 4,
        "warmup": 0.1,  # share of the training steps with a linear warm-up
        "weight_decay": 0.01,
        "adam_betas": (0.9, 0.98),
        "adam_epsilon": 1e-6,
        "allow_fp16": False,  # fp16 is known to give ModernBERT NaNs (not measured here): a T4 trains it in fp32
        "max_length": 1024,  # tokens per window: ~97% of sections fit one; longer ones become overlapping windows
        "stride": 256,  # tokens shared by consecutive windows
        "license": "apache-2.0",
        "citation": "@misc{warner2024modernbert,\n  title = {Smarter, Better, Faster, Longer: A Modern Bidirectional "
        "Encoder for Fast, Memory Efficient, and Long Context Finetuning and Inference},\n  author = {Benjamin Warner "
        "and Antoine Chaffin and Benjamin Clavi{\\'e} and Orion Weller and Oskar Hallstr{\\\"o}m and Said "
        "Taghadouini and Alexis Gallagher and Raja Biswas and Faisal Ladhak and Tom Aarsen and Nathan Cooper and "
        "Griffin Adams and Jeremy Howard and Iacopo Poli},\n  year = {2024},\n  eprint = {2412.13663},\n"
        "  archivePrefix = {arXiv}\n}",
    },
    # RoBERTa's GLUE recipe (Liu et al. 2019, table 10); the public RoBERTa runs on this dataset used lr 2e-5.
    "roberta": {
        "learning_rate": 2e-5,
        "epochs": 5,
        "warmup": 0.06,
        "weight_decay": 0.1,
        "adam_betas": (0.9, 0.98),
        "adam_epsilon": 1e-6,
        "allow_fp16": True,  # RoBERTa trains well in fp16 autocast on a GPU without bf16
        "max_length": 512,  # its position embeddings stop here; about 1 section in 7 is read as several windows
        "stride": 128,
        "license": "mit",
        "citation": "@article{liu2019roberta,\n  title = {RoBERTa: A Robustly Optimized BERT Pretraining Approach},\n"
        "  author = {Yinhan Liu and Myle Ott and Naman Goyal and Jingfei Du and Mandar Joshi and Danqi Chen and "
        "Omer Levy and Mike Lewis and Luke Zettlemoyer and Veselin Stoyanov},\n  journal = {arXiv preprint "
        "arXiv:1907.11692},\n  year = {2019}\n}",
    },
    # Any other encoder (BERT, MiniLM, DeBERTa, ...): BERT's fine-tuning recipe (Devlin et al. 2019).
    "default": {
        "learning_rate": 5e-5,
        "epochs": 3,
        "warmup": 0.1,
        "weight_decay": 0.01,
        "adam_betas": (0.9, 0.999),
        "adam_epsilon": 1e-8,
        "allow_fp16": True,
        "max_length": 512,
        "stride": 128,
        "license": None,  # unknown: the card asks the owner to fill it in
        "citation": None,
    },
}
BATCH_SIZE = 16  # per optimizer step; evaluation uses twice this

# ==============================================================================================================
# EDIT HERE 2 of 3: the data, and what the classifier predicts
# ==============================================================================================================
DATASET_ID = "biglam/on_the_books"  # the default --dataset: a Hub dataset id, or a local file or folder
TEXT_COLUMNS = ["chapter_text", "section_text"]  # joined with a blank line; the chapter title helps (docs/results.md)
LABEL_COLUMN = "jim_crow"
ID_COLUMN = "id"  # names rows in splits.csv and errors.csv; row numbers when the dataset has no such column
# Columns removed before anything else, and why (the card says it): "leak" for a column that gives the label away,
# such as who judged a row; "label" for another label of the same rows. --drop-columns may name others.
DROP_COLUMNS = {"source": "leak"}  # who judged the law: paschal rows are 100% positive, murray 92%
RECALL_TARGETS = (0.90, 0.95, 0.98)  # triage thresholds: the highest that still finds this share of positives
REPO_NAME = None  # for DATASET_ID and LABEL_COLUMN, e.g. "nc-law-type-{model_type}"; None: <data>-<label>-<model type>
VALIDATION_SIZE = 0.1  # share of rows for validation: choosing the epoch and the thresholds
TEST_SIZE = 0.1  # share of rows for the test split, scored once at the end

# ==============================================================================================================
# EDIT HERE 3 of 3: the model card's words about the dataset and about the task
# ==============================================================================================================
# Each block names what it describes, and reaches the card only for a run on that: else the card asks its owner.
# DATASET_CARD: a Hub dataset id, or a local file's name (the file is credited under that name only).
DATASET_CARD = {
    "dataset": "biglam/on_the_books",
    "name": "On the Books: Jim Crow and Algorithms of Resistance",
    "about": "sections of North Carolina session laws (1866-1967), digitised and labelled by the On the Books project "
    "at UNC Chapel Hill Libraries",
    "url": "https://onthebooks.lib.unc.edu/",
    "license": "cc-by-3.0",
    "credit": "On the Books: Jim Crow and Algorithms of Resistance, University of North Carolina at Chapel Hill "
    "Libraries, https://onthebooks.lib.unc.edu/ (CC BY 3.0)",
    "citation": "@misc{onthebooks,\n  title = {On the Books: Jim Crow and Algorithms of Resistance},\n"
    "  institution = {University of North Carolina at Chapel Hill Libraries},\n  year = {2020},\n"
    "  url = {https://onthebooks.lib.unc.edu/}\n}",
    "content_warning": "These laws contain racist language and describe racial segregation and discrimination "
    "enacted in North Carolina between 1866 and 1967.",
    "language": "en",
    "tags": ["legal", "glam", "lam", "north-carolina", "history"],
}
# TASK_CARD: the label column, and the label it flags (two classes) or its classes (more; optional).
TASK_CARD = {
    "label_column": "jim_crow",
    "positive_label": "jim_crow",  # the label to flag (1s are named jim_crow, 0s no_jim_crow); --positive-label wins
    "title": "Jim Crow law classifier for North Carolina session laws (On the Books)",
    "does": "reads a section of a North Carolina session law and says whether it looks like a **Jim Crow law**: a "
    "law that enforced or encouraged racial segregation or discrimination. It is for archivists, historians, "
    "librarians and digital-humanities researchers who need to find the laws worth reading closely",
    "labels": "The labels are the judgement of the On the Books project's experts and of earlier compilers (Pauli "
    "Murray's *States' Laws on Race and Color*, 1951; Richard Paschal); the model learns their notion of a Jim Crow "
    "law, including its blind spots.",
    "intended_use": [
        "**Triage**: rank and flag sections for expert review. A flag is a candidate, not a finding; a person "
        "should read every law before it is called a Jim Crow law.",
        "**Scope**: North Carolina session laws, 1866-1967, as printed and digitised by the project. Other states, "
        "periods or kinds of documents (court records, ordinances, newspapers) are out of scope until checked.",
        '**OCR noise**: the texts are OCR output with broken words (e.g. "EAST- ERN"); much cleaner or noisier '
        "text may behave differently.",
        "**Not for** judging individuals, making legal determinations, or replacing the expertise the labels came "
        "from.",
    ],
    "limitations": [
        "Laws that discriminate without naming race, or through their later administration, may be missed: a law "
        "that is not flagged is not thereby benign.",
        "Historical legal language about race is offensive. The scores are a finding aid; they do not measure harm.",
        "Do not publish the model's flags as a list of Jim Crow laws without expert review.",
    ],
    "examples": [  # invented for the card's widget, not rows of the dataset
        "The board of education of each county shall provide separate schools for the children of the white and "
        "colored races.",
        "The board of commissioners may levy a special tax, not to exceed twenty cents on the hundred dollars, for "
        "the repair of public roads.",
        "It shall be unlawful for any railroad company to carry white and colored passengers in the same coach.",
    ],
    "tags": ["jim-crow", "civil-rights"],
    # The named threshold predict.py applies by default (decision_threshold), and why; without it, `f1`.
    "threshold": ("recall_0.98", "this is triage: a missed Jim Crow law costs more than one more law to read"),
}
# ==============================================================================================================

CARD_TEMPLATE_FILE = "model_card_template.md"  # beside the script; else the copy embedded at the end of this file
BOOTSTRAP_RESAMPLES = 1000
logger = logging.getLogger("train")


class UserError(Exception):
    """A problem the user can fix: printed without a traceback, exit code 2."""


def main(argv=None) -> int:
    args = parse_args(argv)
    if (code := launch_processes(args)) is not None:  # several GPUs: this command once per GPU, under torchrun
        return code
    from huggingface_hub import get_token

    clock, token = Clock(), get_token()  # HF_TOKEN, or the token `hf auth login` stored; never logged or written
    # 1. Everything that can be checked in seconds, before the dataset or the model's weights are downloaded.
    env = describe_environment(args)
    base = resolve_model(args, token)  # the config only: the preset, the window, the repo name
    check_output_dir(args.output_dir, args)  # a new or empty folder, or this script's: made once nothing can refuse
    template, template_source = read_template(args.card_template)
    hub = check_hub(args, base, token) if not args.no_push and is_main() else None
    with clock("data_load"):
        data = load_data(args, token)
    split = split_rows(data, args, args.seed)
    logger.info("Split (seed %d): %s", args.seed, {k: len(v) for k, v in split.items()})
    rehearse_card(args, env, base, data, split, template, hub)  # a card that breaks, or that the Hub rejects, stops now
    # 2. Train on train, choose on validation, score test once. The published model is seed args.seed's.
    make_output_dir(args.output_dir)  # the checks passed: from here the run writes
    settings = run_settings(args, base, data)  # what a checkpoint depends on
    resume_from = share(find_checkpoint(args, hub, settings) if args.resume and is_main() else None)
    push_to = hub if hub and args.push_checkpoints else None
    job = Job(args.seed, split, args.output_dir, resume_from, push_to, settings=settings)
    run = train_and_evaluate(args, data, job, clock, token)
    # 3. Optional studies: other seeds, held-out groups (fenced sections at the end of the file).
    studies = {
        "seeds": seed_study(args, data, run, clock, token) if args.seeds > 1 else None,
        "holdout": holdout_study(args, data, clock, token) if args.holdout_column else None,
    }
    if not is_main():  # the other processes helped train; the first one evaluates, writes and pushes
        return 0
    # 4. One record of the run: the card is rendered from it and it is saved as metrics.json.
    with clock("card"):
        record = build_record(args, env, base, data, run, studies, template_source)
        files = save_outputs(args.output_dir, run, data, record, template, clock)
    # 5. Push exactly those files, then check what landed.
    if hub is not None:
        push_and_verify(hub, args.output_dir, files, clock, record)
    log_summary(record, args.output_dir, clock)
    return 0


# ==============================================================================================================
# Settings
# ==============================================================================================================
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: HF_TOKEN (needed to push; never printed or saved).",
    )
    data, train, out = (p.add_argument_group(name) for name in ("data", "model and training", "output"))
    preset = "the model's preset, see PRESETS"
    path = {"type": os.path.expanduser}  # a flag that takes a local path: ~ is the home folder, as in a shell
    where = "Hub dataset id, or a local CSV/TSV/Parquet/JSON(L) file or dataset folder"
    flag(data, "--dataset", DATASET_ID, where, **path)
    flag(data, "--text-columns", ",".join(TEXT_COLUMNS), "comma-separated columns joined into the input text")
    flag(data, "--label-column", LABEL_COLUMN, "column holding the label")
    flag(data, "--label-names", None, "comma-separated names for the sorted label values", "the values; 0/1: no_X,X")
    shown = "TASK_CARD's, else by the names of the labels"
    flag(data, "--positive-label", None, "two classes: the label to flag", shown)
    flag(data, "--id-column", ID_COLUMN, "column naming each row in splits.csv and errors.csv; else row numbers")
    flag(data, "--drop-columns", ",".join(DROP_COLUMNS), "comma-separated columns removed before anything; '' for none")
    flag(data, "--max-samples", None, "train on a stratified subset of this many rows", "all rows", type=int)
    reviewed = "comma-separated files of reviewed rows (predict.py --review's review.csv, labels filled in): its "
    reviewed += "random rows measure the model on that collection, the others are trained on"
    flag(data, "--add-labels", None, reviewed, "none")
    flag(data, "--validation-size", VALIDATION_SIZE, "share of rows for validation", type=float)
    flag(data, "--test-size", TEST_SIZE, "share of rows for the test split, scored once at the end", type=float)
    flag(train, "--model", DEFAULT_MODEL, "Hub model id or local model folder", **path)
    flag(train, "--max-length", None, "tokens per window; longer texts become overlapping windows", preset, type=int)
    flag(train, "--stride", None, "tokens shared by consecutive windows", preset, type=int)
    flag(train, "--epochs", None, "training epochs", preset, type=float)
    flag(train, "--learning-rate", None, "peak learning rate", preset, type=float)
    flag(train, "--batch-size", BATCH_SIZE, "training batch size; evaluation uses twice this", type=int)
    saved = "the named threshold saved as decision_threshold, which predict.py applies"
    shown = "TASK_CARD's threshold for its task, else f1"
    flag(train, "--threshold-for", None, saved, shown, choices=threshold_names())
    flag(train, "--seed", 42, "seed for the split, the initialisation and the bootstrap", type=int)
    flag(train, "--seeds", 1, "train with this many seeds and report mean +- std; the first is pushed", type=int)
    flag(train, "--holdout-column", None, "also train once per value of this column, testing on its rows", "off")
    flag(train, "--resume", False, "continue from the last checkpoint in --output-dir, else the Hub repo's")
    flag(train, "--push-checkpoints", False, "push each epoch's checkpoint so that a killed job can --resume")
    flag(train, "--gpus", None, "train on this many GPUs, one process each (torch.distributed.run)", "all", type=int)
    flag(train, "--allow-cpu", False, "train a full run on the CPU inside a Hugging Face Job (hours: use a GPU flavor)")
    flag(train, "--report-to", "none", "where the Trainer also logs the curves, e.g. trackio (hf jobs: --with trackio)")
    other = "<data>-<label>-<model type>, e.g. on-the-books-jim-crow-modernbert (REPO_NAME when set)"
    flag(out, "--output-dir", None, "where the model, the card and metrics.json go", f"./{other}", **path)
    beside = f"{CARD_TEMPLATE_FILE} beside the script, else embedded"
    flag(out, "--card-template", None, "Jinja card template", beside, **path)
    flag(out, "--hub-model-id", None, "the Hub repo to push to", f"<your user>/{other}")
    flag(out, "--private", False, "create the Hub repo as private", "public; private for a local --dataset")
    flag(out, "--public", False, "create the Hub repo as public even when --dataset is a local file")
    flag(out, "--overwrite", False, "write into an --output-dir that holds other files (they are left as they are)")
    flag(out, "--no-push", False, "keep everything local; push nothing")
    return check_args(p, p.parse_args(argv), argv)


def threshold_names() -> list[str]:
    """The named thresholds of a two-class run: F1 on validation, and one per RECALL_TARGETS."""
    return ["f1"] + [f"recall_{r:.2f}" for r in RECALL_TARGETS]


def flag(group, name: str, default, text: str, shown=None, **kw) -> None:
    """Add one flag whose help ends in "(default: ...)"; a False default makes an on/off switch."""
    if default is False:
        kw["action"] = "store_true"
    shown = shown if shown is not None else "off" if default is False else default
    group.add_argument(name, default=default, help=f"{text} (default: {shown})", **kw)


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace, argv) -> argparse.Namespace:
    """Turn the comma-separated flags into lists and refuse settings that contradict each other."""
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.repo_id = None  # the Hub repo, once check_hub knows the user
    args.text_columns = [c for c in args.text_columns.split(",") if c.strip()]  # unstripped: " x" may be a header
    text_columns = [c.strip() for c in args.text_columns]
    args.drop_columns = [c.strip() for c in args.drop_columns.split(",") if c.strip()]
    args.label_names = [c.strip() for c in args.label_names.split(",")] if args.label_names else None
    args.add_labels = [os.path.expanduser(f.strip()) for f in (args.add_labels or "").split(",") if f.strip()]
    unreadable = [f for f in args.add_labels if not Path(f).is_file()]
    args.output_dir = Path(args.output_dir) if args.output_dir else None  # named after the model type, when known
    used = sorted(set(args.drop_columns) & {args.label_column, *text_columns})
    problems = [
        (not args.text_columns, "--text-columns names no column"),
        (len(set(text_columns)) < len(text_columns), "--text-columns lists a column twice"),
        (args.label_column in text_columns, f"--label-column {args.label_column} is also in --text-columns"),
        (
            bool(used),
            f"--drop-columns names the label or a text column ({', '.join(used)}); it is for columns the model must "
            f"never see, and drops {','.join(DROP_COLUMNS) or 'none'} unless given. To use {', '.join(used)}, give "
            "--drop-columns '' (or the columns to drop)",
        ),
        (args.label_names and len(set(args.label_names)) < len(args.label_names), "--label-names repeats a name"),
        (
            not (0 < args.validation_size and 0 < args.test_size and args.validation_size + args.test_size <= 0.5),
            "--validation-size and --test-size must be above 0 and leave at least half of the rows for training",
        ),
        (args.max_samples is not None and args.max_samples < 1, "--max-samples must be at least 1"),
        (args.epochs is not None and not args.epochs > 0, "--epochs must be above 0"),
        (
            args.learning_rate is not None and not 0 < args.learning_rate <= 1,
            f"--learning-rate must be above 0 and at most 1, not {args.learning_rate} (fine-tuning uses 1e-5 to 1e-4)",
        ),
        (not 0 <= args.seed <= 2**32 - args.seeds, f"--seed must be from 0 to {2**32 - args.seeds}"),
        (args.batch_size < 1 or args.seeds < 1, "--batch-size and --seeds must be at least 1"),
        (args.gpus is not None and args.gpus < 1, "--gpus must be at least 1"),
        (args.max_length is not None and args.max_length < 16, "--max-length must be at least 16 tokens"),
        (args.stride is not None and args.stride < 0, "--stride must be 0 or more"),
        (args.private and args.public, "give one of --private and --public"),
        (
            TASK_CARD.get("threshold", ["f1"])[0] not in threshold_names(),
            f"TASK_CARD's threshold {TASK_CARD.get('threshold', [''])[0]!r} is not one of {threshold_names()}",
        ),
        (args.push_checkpoints and args.no_push, "--push-checkpoints pushes to the Hub: it cannot go with --no-push"),
        (bool(unreadable), f"--add-labels: no such file: {', '.join(unreadable)}"),
        (
            bool(args.add_labels and args.holdout_column),
            "--holdout-column studies the dataset's own rows: run it without --add-labels",
        ),
    ]
    for problem, message in problems:
        if problem:
            p.error(message)
    if args.report_to == "none":
        return args
    # A --report-to integration that is not installed would fail after the data and the model are loaded.
    from transformers.integrations import get_available_reporting_integrations
    from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

    wanted = [name.strip() for name in args.report_to.split(",")]
    if unknown := [n for n in wanted if n not in INTEGRATION_TO_CALLBACK and n != "all"]:
        p.error(f"--report-to: {', '.join(unknown)} is none of {', '.join(INTEGRATION_TO_CALLBACK)}, all, none")
    missing = [n for n in wanted if n in INTEGRATION_TO_CALLBACK and n not in get_available_reporting_integrations()]
    if missing:
        script, extra = Path(__file__).name, " ".join(f"--with {n}" for n in missing)
        p.error(
            f"--report-to {args.report_to}: {', '.join(missing)} is not installed here. Run with it: uv run {extra} "
            f"{script} ... (on Hugging Face Jobs: hf jobs uv run {extra} ... {script} ...)"
        )
    return args


MARKER = ".classifier-run.json"  # written into the output folder when it is made: it marks it as this script's
WRITING: list[Path] = []  # the --output-dir this run writes: where a Ctrl-C looks for what is kept
SCRATCH = ("checkpoints", "seed_runs", "holdout_runs", "hub-checkpoint")  # folders a run makes, and deletes
OUTPUT_TABLES = ("splits.csv", "predictions.csv", "errors.csv", "pr_curve.png")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model")
MODEL_FILES = ("config.json", "model.safetensors", "model.safetensors.index.json", *TOKENIZER_FILES, "merges.txt")


def check_output_dir(out: Path, args) -> None:
    """Write only into a folder that is new, empty, or this script's (its MARKER); any other with --overwrite, and
    even then never into a scratch folder the run would delete. Refused before anything is downloaded; the folder is
    made only once nothing can refuse the run (make_output_dir), so that a refused run leaves none behind."""
    if not is_main():  # the first process checks it, and makes it, for all
        return
    if out.exists() and not out.is_dir():
        raise UserError(f"--output-dir {out} is a file, not a folder. Give the name of a folder.")
    if out.is_symlink() and not out.exists():
        raise UserError(
            f"--output-dir {out} is a link to {os.readlink(out)}, which does not exist. Make that folder, or choose "
            "another --output-dir."
        )
    if out.is_dir():
        lock_folder(out, "--output-dir")  # before reading it: another run may be writing there
    others = sorted(p.name for p in out.iterdir() if p.name != MARKER) if out.is_dir() else []
    ours = (out / MARKER).is_file()
    if others and not ours and not args.overwrite:
        raise UserError(
            f"--output-dir {out} holds files this script did not write ({', '.join(others[:6])}). "
            "Choose a new or empty folder, or add --overwrite to write beside them (they are never "
            "deleted or uploaded; the run's own files of the same names are replaced)."
        )
    if not ours and (clash := [name for name in SCRATCH if name in others]):
        raise UserError(
            f"--output-dir {out} holds {clash}, a folder name this script uses and deletes. Move it, "
            "or choose another --output-dir."
        )
    if args.resume and others and not ours:
        raise UserError(f"--resume: {out} was not written by this script; there is nothing of its to continue.")
    earlier = json.loads((out / MARKER).read_text()).get("files", []) if ours else []
    if earlier:  # a finished run of this script: save_outputs deletes what this run does not write again
        logger.warning("--output-dir %s holds an earlier run of this script: its files are replaced.", out)
    if not ours and (replaced := sorted(set(others) & {"README.md", "metrics.json", *MODEL_FILES, *OUTPUT_TABLES})):
        logger.warning("--overwrite: this run's files replace yours of the same name in %s: %s", out, replaced)
    written = {MARKER, "README.md", "metrics.json", *MODEL_FILES, *OUTPUT_TABLES, *earlier}
    if locked := sorted(n for n in written if (out / n).is_file() and not os.access(out / n, os.W_OK)):
        raise UserError(
            f"--output-dir {out}: {', '.join(locked)} cannot be written (read-only); the run would fail there when "
            "it saves the model, after training. Make them writable (chmod u+w), or choose another --output-dir."
        )
    where = next(p for p in (out, *out.parents) if p.exists())  # the folder, or the one it will be made in
    if not where.is_dir() or not os.access(where, os.W_OK | os.X_OK):
        problem = os.strerror(errno.EACCES if where.is_dir() else errno.ENOTDIR)
        raise UserError(f"--output-dir {out}: cannot write there ({problem}). Choose a folder you can write to.")
    WRITING.append(out)


def make_output_dir(out: Path) -> None:
    """Make the folder that check_output_dir accepted and mark it as this script's, for a rerun and for --resume."""
    if not is_main():
        return
    out.mkdir(parents=True, exist_ok=True)
    lock_folder(out, "--output-dir")  # a new folder: of two runs that both found it new, the second stops here
    marker = json.loads((out / MARKER).read_text()) if (out / MARKER).is_file() else {}
    started = {"script": Path(__file__).name, "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "pid": os.getpid()}
    write_json(out / MARKER, {**marker, **started})  # an earlier run's "files": they are still here


# --- shared: lock (identical in the scripts that write into a folder of their own; tests/test_copies.py checks) ---
HELD: dict = {}  # (device, inode) of each folder this process holds: its open descriptor


def lock_folder(folder: Path, what: str) -> None:
    """Hold `folder` until this run ends (the system lets go however the process ends), so that a second run into
    the same folder stops at once instead of mixing its files with this one's. Where there is no fcntl (Windows),
    or the file system cannot lock, nothing is held."""
    try:
        import fcntl
    except ImportError:
        return
    key = (folder.stat().st_dev, folder.stat().st_ino)
    if key in HELD:
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        try:  # the run holding it wrote its process id into its marker
            pid = json.loads((folder / MARKER).read_text()).get("pid", "unknown")
        except (OSError, ValueError):
            pid = "unknown"
        raise UserError(
            f"{folder}: another run (pid {pid}) is writing to it. Wait for it to finish, or choose another {what}."
        ) from None
    except OSError:  # a file system without locks
        os.close(fd)
        return
    HELD[key] = fd


def release_folders() -> None:
    while HELD:
        os.close(HELD.popitem()[1])


# --- end shared: lock ---


def run_settings(args, base: dict, data) -> dict:
    """What a checkpoint depends on: --resume refuses one made with other values (a new split would put training rows
    in the test set; another number of epochs another schedule)."""
    names = ("max_samples", "text_columns", "label_column", *HYPERPARAMETERS)
    model = base["id"]
    if not base["on_hub"]:  # a local model by its contents, not its folder's name (two called `model` are not one)
        digest, folder = hashlib.sha256(), Path(args.model).expanduser()
        for path in sorted([folder / "config.json", *folder.glob("*.safetensors"), *folder.glob("*.bin")]):
            with path.open("rb") as f:
                while chunk := f.read(1 << 24):
                    digest.update(chunk)
        model = f"{model} (sha256 {digest.hexdigest()[:16]})"  # of its config and weights
    return {
        "data": data.facts["texts_and_labels_sha256"],
        "model": model,
        "labels": data.names,
        "processes": processes(),
        **{k: getattr(args, k) for k in names},
    }


@dataclass
class Clock:
    """Seconds per phase of the run: `with clock("training"): ...` adds to that phase."""

    started: float = field(default_factory=time.time)
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, phase: str):
        tick = time.time()
        try:
            yield
        finally:
            self.phases[phase] = self.phases.get(phase, 0.0) + time.time() - tick

    def rounded(self) -> dict:
        return {**{k: round(v, 2) for k, v in self.phases.items()}, "wall": round(time.time() - self.started, 1)}


def describe_environment(args) -> dict:
    """Library versions, the hardware it trains on, and the command that reproduces the run. Stops at once when
    this machine cannot train as asked."""
    from accelerate import PartialState

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    if not is_main():  # one log: the first process's
        logging.getLogger().setLevel(logging.WARNING)
    packages = ("transformers", "torch", "datasets", "accelerate", "scikit-learn", "huggingface_hub")
    versions = {name: version(name) for name in packages}
    logger.info("Versions: %s", ", ".join(f"{k} {v}" for k, v in versions.items()))
    check_hardware(args)
    count, hardware = processes(), describe_device(PartialState().device)  # the device the Trainer will train on
    hardware = f"{count} × {hardware}" if count > 1 else hardware
    # The command that reproduces this run, naming the script (never a /data/... path): as a Hugging Face Job when it
    # runs as one (JOB_ID is set), else with uv run. A local file or folder is named, not located: no absolute path
    # of this machine goes into the card.
    argv = [a for a in args.argv if a not in ("--resume", "--overwrite")]  # how this run started, not what it made
    named = named_not_located(argv, ("--dataset", "--model", "--output-dir", "--card-template"))
    words = " ".join(shlex.quote(a) for a in [Path(__file__).name, *named])
    # the job's flavor: its ACCELERATOR variable where that names one; else l4x1, the flavor this script is made for
    accelerator = os.environ.get("ACCELERATOR", "").lower()
    flavor = accelerator if re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", accelerator or "-") else "l4x1"
    job = f"hf jobs uv run --flavor {flavor} --secrets HF_TOKEN {words}"
    command = job if os.environ.get("JOB_ID") else f"uv run {words}"
    return {"hardware": hardware, "versions": versions, "command": command}


MIN_DRIVER = {"13": "580.65.06", "12": "525.60.13"}  # CUDA major -> oldest NVIDIA driver (CUDA release notes)


def check_hardware(args) -> None:
    """Refuses what would waste a paid run: an NVIDIA GPU that torch cannot use (a driver too old for its CUDA build),
    and a full-size run on the CPU of a Hugging Face Job."""
    import torch

    if torch.cuda.is_available():
        return
    driver = nvidia_driver()
    if driver is not None:
        cuda = torch.version.cuda or "none (a CPU build)"
        need = MIN_DRIVER.get(cuda.split(".")[0], "a newer one")
        raise UserError(
            f"An NVIDIA GPU is here (driver {driver}), but torch {torch.__version__} cannot use it: it is built for "
            f"CUDA {cuda}, which needs driver {need} or newer. Update the NVIDIA driver, or install a torch built "
            "for the CUDA your driver supports (https://pytorch.org/get-started/locally/)."
        )
    if os.environ.get("JOB_ID") and not args.max_samples and not args.allow_cpu:
        raise UserError(
            "This Hugging Face Job has no GPU, and a full run on its CPU would take hours and end at the job's "
            "timeout with nothing pushed. Start it on a GPU: hf jobs uv run --flavor l4x1 --secrets HF_TOKEN ... "
            "(a smoke run with --max-samples is fine on the CPU; --allow-cpu if you mean it)."
        )
    if torch.backends.mps.is_available():
        logger.info("Training on the Apple GPU (mps), in fp32.")
        return
    what = "No GPU found: training on the CPU. That works but is slow for a full run; try --max-samples 200 --epochs 1 "
    logger.warning(what + "first, or run on hf jobs with --flavor l4x1.")


def nvidia_driver() -> str | None:
    """The NVIDIA driver's version when an NVIDIA device is present, "unknown" when its version cannot be read,
    None when there is no NVIDIA device."""
    version = Path("/proc/driver/nvidia/version")
    if version.is_file():
        found = re.search(r"Kernel Module\s+(\S+)", version.read_text(errors="replace"))
        return found.group(1) if found else "unknown"
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        answer = subprocess.run(query, capture_output=True, text=True, timeout=30)
        if answer.returncode == 0 and answer.stdout.strip():
            return answer.stdout.split()[0]
    return "unknown" if Path("/dev/nvidia0").exists() else None


# --- shared: command (identical in the scripts that publish their command line; tests/test_copies.py checks) ---
def named_not_located(argv: list[str], path_flags: tuple[str, ...]) -> list[str]:
    """The command's words, with each local file or folder given to one of `path_flags` named by its last part:
    no path of this machine goes into a card or an upload."""
    named = []
    for i, a in enumerate(argv):
        flag, eq, value = a.partition("=") if a.startswith("--") else ("", "", a)
        local = value and (Path(value).expanduser().exists() or "/" in value and looks_like_local_path(value))
        is_path = (eq and flag in path_flags) or (not flag and i > 0 and argv[i - 1] in path_flags)
        named.append((f"{flag}=" if eq else "") + Path(value).name if is_path and local else a)
    return named


# --- end shared: command ---


# ==============================================================================================================
# Data: load, drop leaky columns, labels, duplicates, split
# ==============================================================================================================
@dataclass
class Data:
    """The labelled rows, as the steps after loading need them."""

    texts: list[str]  # the text columns of each row, joined with a blank line
    labels: list[int]  # class ids 0..K-1
    names: list[str]  # class names by id
    ids: list[str]  # row ids (the id column, else row numbers)
    groups: list[int]  # rows that share an input text share a group, and stay in one split
    holdout: list | None  # the --holdout-column value of each row
    facts: dict  # what the card and metrics.json say about the data
    rows: list[int] | None = None  # each row's number in the loaded table (ids may repeat; these do not)
    origin: list[str] | None = None  # --add-labels: "dataset", or the review_reason of a reviewed row


def load_data(args, token) -> Data:
    """Load the table, drop the listed columns before anything else, and keep the rows with a text and a label."""
    table = load_table(args.dataset, token)
    args.text_columns = match_columns(table, args.text_columns)
    holdout = [args.holdout_column] if args.holdout_column else []
    wanted = {"--text-columns": args.text_columns, "--label-column": [args.label_column], "--holdout-column": holdout}
    check_columns(table, wanted)
    if missing := [c for c in args.drop_columns if c not in table.column_names]:
        logger.warning("--drop-columns: %s not in the dataset; nothing to drop there.", missing)
    dropped_values = {c: table[c] for c in args.drop_columns if c in table.column_names}
    holdout_values = table[args.holdout_column] if args.holdout_column else None
    id_column = args.id_column if args.id_column in table.column_names else None
    if args.id_column != ID_COLUMN:  # named by the user: it must be there; the default may be absent
        check_columns(table, {"--id-column": [args.id_column]})
    keep = args.text_columns + [args.label_column] + ([id_column] if id_column else [])
    table = table.select_columns(list(dict.fromkeys(keep)))
    origin, skipped = None, 0
    if args.add_labels:  # reviewed rows join the table here, and are counted, split and reported apart
        table, origin, skipped = add_reviewed(args, table, id_column)
        dropped_values = {c: [*v, *[None] * (len(table) - len(v))] for c, v in dropped_values.items()}
    texts = build_texts(table, args.text_columns)
    raw, usable, empty = labelled_rows(table, texts, args)
    class_names = getattr(table.features[args.label_column], "names", None)
    labels, names = encode_labels([raw[i] for i in usable], args.label_column, class_names, args.label_names)
    labels, names, why = positive_class(labels, names, args)
    for line in card_words(args, names)[2]:
        logger.warning(line)
    chosen = choose_rows(labels, names, args)
    own = [i for i in chosen if origin is None or origin[usable[i]] == "dataset"]  # a reviewed row has no such value
    own_labels = [labels[i] for i in own]
    dropped = [describe_dropped(c, [v[usable[i]] for i in own], own_labels, names) for c, v in dropped_values.items()]
    rows = [usable[i] for i in chosen]
    table = table.select(rows)
    groups = duplicate_groups(table, args.text_columns)
    sizes = [n for n in Counter(groups).values() if n > 1]
    labels = [labels[i] for i in chosen]
    facts = {
        "dropped_columns": dropped,
        "rows": {
            "used": len(rows),
            "dropped_empty_or_unlabelled": len(texts) - len(usable),
            "empty_labels": empty,  # of those, the rows whose label is "" or spaces: missing, not a class
            "max_samples": args.max_samples if len(rows) < len(usable) else None,  # only when it cut rows
            "duplicate_groups": len(sizes),
            "rows_in_duplicate_groups": sum(sizes),
        },
        "class_counts": {n: labels.count(i) for i, n in enumerate(names)},
        **({"positive_label": names[1], "positive_label_reason": why} if why else {}),
        "id_column": id_column,
    }
    if origin is not None:  # what the card and metrics.json say about the reviewed rows this run used
        counts = Counter(origin[r] for r in rows if origin[r] != "dataset")
        facts["review"] = {
            "files": [Path(f).name for f in args.add_labels],
            "rows": sum(counts.values()),
            "random": counts.get("random", 0),  # the sample that measures the model on the collection
            "uncertain": counts.get("uncertain", 0),  # the rows the queue chose as the model's least sure
            "skipped_unlabelled": skipped,
        }
    what = "%d rows, labels %s; %d rows in %d groups that share an input text (each kept in one split)"
    logger.info(what, len(rows), facts["class_counts"], sum(sizes), len(sizes))
    ids = [str(v) for v in table[id_column]] if id_column else [str(r) for r in rows]
    if len(set(ids)) < len(ids):
        what = "--id-column %s: %d ids occur more than once; splits.csv also gives each row's number (row)"
        logger.warning(what, id_column, len(ids) - len(set(ids)))
    # Not the file's hash: that of the input texts and labels this run used (after joining columns, choosing rows).
    used = json.dumps([[texts[r] for r in rows], labels]).encode()
    facts["texts_and_labels_sha256"] = hashlib.sha256(used).hexdigest()
    held = [holdout_values[r] for r in rows] if holdout_values is not None else None
    if held is not None:
        check_holdout_values(args.holdout_column, held)
    kept = [origin[r] for r in rows] if origin is not None else None
    return Data([texts[r] for r in rows], labels, names, ids, groups, held, facts, rows, kept)


def labelled_rows(table, texts: list[str], args) -> tuple[list, list[int], int]:
    """Each row's raw label (None where missing), the rows with both a text and a label, and how many labels were ""
    or spaces ("" in JSON, a blank cell: missing, not a class)."""
    raw = table[args.label_column]
    if hasattr(table.features[args.label_column], "names"):  # a ClassLabel's -1 is datasets' "no label"
        raw = [None if isinstance(y, int) and y < 0 else y for y in raw]
    empty = sum(isinstance(y, str) and not y.strip() for y in raw)
    usable = [i for i, (t, y) in enumerate(zip(texts, raw, strict=True)) if t and y is not None and str(y).strip()]
    if not usable:
        raise UserError(f"No row has both text in {args.text_columns} and a label in {args.label_column}.")
    if len(usable) < len(texts):
        what = "Dropped %d of %d rows with empty text or no label (%d with an empty label)"
        logger.warning(what, len(texts) - len(usable), len(texts), empty)
    return raw, usable, empty


def describe_dropped(column: str, values: list, labels: list[int], names: list[str]) -> dict:
    """For two classes, the share of the positive label per value of a dropped column (when it has few values):
    why it had to go. Logged, and shown on the card."""
    shares = []
    if len(names) == 2 and len(set(values)) <= 20:
        for value in sorted(set(values), key=str):
            hits = [y for v, y in zip(values, labels, strict=True) if v == value]
            shares.append({"value": value, "count": len(hits), "positive": sum(hits), "share": sum(hits) / len(hits)})
    why = "; ".join(f"{s['value']}: {s['positive']}/{s['count']} {names[1]}" for s in shares)
    reasons = {"leak": "it gives the label away", "label": "another label of the same rows"}
    details = "; ".join(filter(None, [reasons.get(DROP_COLUMNS.get(column)), why]))
    what = "Dropped column %r before anything else: the model never sees it%s"
    logger.info(what, column, f" ({details})" * bool(details))
    return {"name": column, "why": DROP_COLUMNS.get(column), "shares": shares}


def encode_labels(values: list, label_column: str, class_names: list[str] | None, given: list[str] | None):
    """Map raw label values to ids 0..K-1 and name them. Returns (ids, names)."""
    # A ClassLabel may name a class that no row has (one kept for later): there is nothing to learn or to test of it,
    # so the model learns the others, renumbered in the same order.
    used = sorted({v for v in values if 0 <= v < len(class_names)}) if class_names is not None else []
    if class_names is not None and (unused := [n for i, n in enumerate(class_names) if i not in used]):
        logger.warning(
            "--label-column %s: no row has the label(s) %s of its ClassLabel; left out", label_column, unused
        )
        index = {v: i for i, v in enumerate(used)}
        values, class_names = [index.get(v, v) for v in values], [class_names[v] for v in used]
    if class_names is None:  # not a ClassLabel: the sorted unique values define the order
        if fractional := [v for v in values if isinstance(v, float) and v != int(v)]:
            raise UserError(
                f"--label-column {label_column}: holds non-integer numbers (e.g. {fractional[0]}), which "
                "looks like a regression target. This script classifies; give it a column of classes."
            )
        values = [int(v) if isinstance(v, float) else v for v in values]
        unique = sorted(set(values), key=lambda v: (str(type(v)), v))
        if len(unique) > 100:
            raise UserError(
                f"--label-column {label_column}: has {len(unique)} distinct values, which looks like an id "
                "or a measurement, not classes. Pick the column that holds the classes."
            )
        binary = unique in ([0, 1], [False, True])
        class_names = [f"no_{label_column}", label_column] if binary else list(map(str, unique))
        index = {u: i for i, u in enumerate(unique)}
        values = [index[v] for v in values]
    check_label_spellings({class_names[v] for v in set(values)}, label_column)
    if given:
        if len(given) != len(class_names):
            raise UserError(
                f"--label-names gives {len(given)} names, but the labels have {len(class_names)} classes: "
                f"{class_names}."
            )
        class_names = given
    present = [n for i, n in enumerate(class_names) if i in set(values)]
    if len(present) < 2:
        raise UserError(
            f"--label-column {label_column}: every row has the label {present}; a classifier needs at "
            "least two classes."
        )
    return list(values), list(class_names)


def positive_class(labels: list[int], names: list[str], args) -> tuple[list[int], list[str], str | None]:
    """Two classes: put the class to flag at id 1 and say why it is that one. More classes: unchanged."""
    if len(names) != 2:
        if args.positive_label or args.threshold_for:
            raise UserError(f"--positive-label and --threshold-for apply to two classes; the labels are {names}.")
        return labels, names, None
    positive, why = choose_positive(names, args.positive_label, args.label_column)
    described = TASK_CARD.get("positive_label") if TASK_CARD.get("label_column") == args.label_column else None
    if not args.positive_label and described in names and positive != described:  # the label the card's words flag
        positive, why = described, "the label the task's description flags; choose another with --positive-label"
    logger.info("Positive label: %s (%s)", positive, why)
    if positive == names[1]:
        return labels, names, why
    return [1 - y for y in labels], names[::-1], why


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


def card_words(args, names: list[str]) -> tuple[dict | None, dict | None, list[str]]:
    """The EDIT HERE 3 blocks that describe this run (TASK_CARD, DATASET_CARD; None for one that does not), and a
    line for each block left out. A block's words reach the card only for the task or data it names: a copy of this
    script for another label or dataset gets prompts, never the words written for this one."""
    positive = names[1] if len(names) == 2 else None
    task_is = f"TASK_CARD describes `{TASK_CARD.get('label_column', 'no label_column')}`"
    if TASK_CARD.get("label_column") != args.label_column:
        task_off = f"{task_is}; this run predicts `{args.label_column}`"
    elif TASK_CARD.get("positive_label") not in (None, positive):
        run = f"flags `{positive}`" if positive else f"has {len(names)} classes"
        task_off = f"{task_is} flagging `{TASK_CARD['positive_label']}`; this run {run}"
    elif TASK_CARD.get("classes") and sorted(map(str, TASK_CARD["classes"])) != sorted(names):
        task_off = f"{task_is} with the classes {TASK_CARD['classes']}; this run's are {names}"
    else:
        task_off = None
    about = f"DATASET_CARD describes `{DATASET_CARD.get('dataset', 'no dataset')}`; this run's data is `{args.dataset}`"
    about_off = None if describes_dataset(DATASET_CARD.get("dataset"), args.dataset) else about
    left_out = [f"{why}: its words are left out and the card asks for them" for why in (task_off, about_off) if why]
    return None if task_off else TASK_CARD, None if about_off else DATASET_CARD, left_out


def describes_dataset(named: str | None, dataset: str) -> bool:
    """A Hub id describes that dataset; a file name (not a Hub id) describes a local file or folder of that name."""
    if not named or dataset == named:
        return bool(named)
    local, a_file = looks_like_local_path(dataset), looks_like_local_path(named) or "/" not in named
    return local and a_file and Path(dataset.rstrip("/")).name == Path(named.rstrip("/")).name


def choose_rows(labels: list[int], names: list[str], args) -> list[int]:
    """All rows, or a stratified subset for --max-samples; every class needs enough rows for the three splits."""
    chosen = stratified_subset(labels, args.max_samples, args.seed) if args.max_samples else list(range(len(labels)))
    if args.max_samples:
        logger.info("--max-samples %d: a stratified subset of %d rows", args.max_samples, len(chosen))
    need = int(-(-2 // min(args.validation_size, args.test_size)))  # so that the smallest split gets 2 of them
    counts = Counter(labels[i] for i in chosen)
    small = {n: counts[i] for i, n in enumerate(names) if counts[i] < need}
    if not small:
        return chosen
    full = Counter(labels)
    if args.max_samples and min(full.values()) >= need:
        n = -(-need * len(labels) // min(full.values()))  # the smallest size whose stratified share reaches `need`
        while min(Counter(labels[i] for i in stratified_subset(labels, n, args.seed)).values()) < need:
            n += 1
        fix = f"Use --max-samples {n} or more (the full data has {len(labels)} rows), or larger split shares."
    else:
        fix = "Add rows of those classes, merge rare classes, or use larger --validation-size/--test-size."
    raise UserError(
        f"Too few rows for a stratified train/validation/test split: {small} (each class needs at least "
        f"{need} rows at validation {args.validation_size} / test {args.test_size}). {fix}"
    )


def stratified_subset(labels: list[int], n: int, seed: int) -> list[int]:
    """Row indices of a stratified random subset of n rows (for --max-samples smoke runs)."""
    from sklearn.model_selection import train_test_split

    if n >= len(labels):
        return list(range(len(labels)))
    keep, _ = train_test_split(list(range(len(labels))), train_size=n, stratify=labels, random_state=seed)
    return sorted(keep)


def add_reviewed(args, table, id_column: str | None):
    """--add-labels: the table with the reviewed rows after its own, each row's origin ("dataset", else its
    review_reason), and how many reviewed rows were skipped for an empty label. A reviewed row already in the dataset
    (or in an earlier file) is refused, by id: trained on twice, or tested on after training, it would flatter the
    model."""
    from datasets import Dataset, concatenate_datasets

    known = {str(v) for v in table[id_column]} if id_column else set(build_texts(table, args.text_columns))
    # Each way a reviewer may write a label, mapped to the dataset's own value: the value as text (1, 1.0), and the
    # label's name where the dataset has one (a ClassLabel's, or X and no_X for a 0/1 column named X).
    values = [v for v in set(table[args.label_column]) if v is not None and str(v).strip()]
    spelling = {str(v).strip(): v for v in values}
    spelling.update({f"{float(v)}": v for v in values if isinstance(v, int) and not isinstance(v, bool)})
    if hasattr(table.features[args.label_column], "names"):
        spelling.update({name: i for i, name in enumerate(table.features[args.label_column].names)})
    elif set(values) <= {0, 1}:
        spelling.update({f"no_{args.label_column}": 0, args.label_column: 1})
    added, origin, skipped, repeated, unknown = {c: [] for c in table.column_names}, [], 0, [], []
    for path in args.add_labels:
        reviewed = load_table(path)
        if missing := [
            c for c in [*args.text_columns, args.label_column, id_column] if c and c not in reviewed.column_names
        ]:
            raise UserError(
                f"--add-labels {path}: no column {', '.join(missing)}. A reviewed file needs the dataset's text, label"
                f"{' and id' if id_column else ''} columns, as the review.csv of predict.py --review has them."
            )
        texts = build_texts(reviewed, args.text_columns)
        reasons = reviewed["review_reason"] if "review_reason" in reviewed.column_names else ["added"] * len(texts)
        if "review_reason" not in reviewed.column_names:
            what = "--add-labels %s has no review_reason column: all its rows are trained on, none measures the model"
            logger.warning(what, path)
        for n, (row, text, reason) in enumerate(zip(reviewed, texts, reasons, strict=True)):
            value = row[args.label_column]
            if value is None or str(value).strip() in ("", "nan"):
                skipped += 1
                continue
            key = str(row[id_column]) if id_column else text
            name = key if id_column else f"{Path(path).name} row {n + 1}"
            if str(value).strip() not in spelling:
                unknown.append(f"{name}: {value!r}")
                continue
            if key in known:
                repeated.append(name)
            known.add(key)
            for c in added:
                cell = row[c] if table.features[c].dtype != "string" or row[c] is None else str(row[c])
                added[c].append(spelling[str(value).strip()] if c == args.label_column else cell)
            origin.append(reason or "added")
    if repeated:
        raise UserError(
            f"--add-labels: {len(repeated)} reviewed row(s) are already in the dataset or in an earlier --add-labels "
            f"file ({', '.join(repeated[:5])}{', ...' if len(repeated) > 5 else ''}): a row trained on twice, or "
            "tested after training on it, flatters the model. Remove them from the file (or from the dataset)."
        )
    if not origin:
        raise UserError(
            f"--add-labels: no reviewed row has a label in {args.label_column} ({skipped} left empty). Fill in the "
            "file first; an empty cell skips its row."
        )
    if unknown:
        raise UserError(
            f"--add-labels: {len(unknown)} reviewed label(s) are none of the dataset's ({', '.join(sorted(spelling))})"
            f": {'; '.join(unknown[:5])}. Write one of those, or leave the cell empty to skip the row."
        )
    what = "--add-labels: %d reviewed rows added (%s); %d with an empty label skipped"
    logger.info(what, len(origin), dict(Counter(origin)), skipped)
    more = Dataset.from_dict(added, features=table.features)
    return concatenate_datasets([table, more]), ["dataset"] * len(table) + origin, skipped


def split_rows(data: Data, args, seed: int) -> dict:
    """The dataset's rows split into train, validation and test (grouped_split). Reviewed rows (--add-labels) are
    kept off validation and test, which stay the dataset's: the random sample goes to `collection`, scored at the end
    like test and never trained on; the others go to train. A reviewed row whose text a row of another split holds
    goes nowhere (`left_out`): splits.csv lists them all, so that predict.py --review queues none of them again."""
    if data.origin is None:
        return grouped_split(data.labels, data.groups, args.validation_size, args.test_size, seed)
    own = [i for i, o in enumerate(data.origin) if o == "dataset"]
    labels, groups = [data.labels[i] for i in own], [data.groups[i] for i in own]
    part = grouped_split(labels, groups, args.validation_size, args.test_size, seed)
    split = {name: [own[j] for j in rows] for name, rows in part.items()}
    groups_of = {name: {data.groups[i] for i in rows} for name, rows in split.items()}
    drawn = [i for i, o in enumerate(data.origin) if o == "random"]
    split["collection"] = [i for i in drawn if data.groups[i] not in groups_of["train"]]
    held = groups_of["validation"] | groups_of["test"] | {data.groups[i] for i in split["collection"]}
    reviewed = [i for i, o in enumerate(data.origin) if o not in ("dataset", "random")]
    split["train"] = sorted(split["train"] + [i for i in reviewed if data.groups[i] not in held])
    left_out = [i for i in drawn if i not in split["collection"]]  # each text in one split: see the docstring
    split["left_out"] = left_out + [i for i in reviewed if data.groups[i] in held]
    if split["left_out"]:
        what = "--add-labels: %d reviewed rows share a text with a row of another split: left out"
        logger.warning(what, len(split["left_out"]))
    if seed == args.seed:  # the published model's split (--seeds trains others): what the card counts
        data.facts["review"].update(
            left_out_shared_text=len(split["left_out"]),
            trained_on=sum(data.origin[i] != "dataset" for i in split["train"]),
            measured=len(split["collection"]),
        )
    return split


def duplicate_groups(table, text_columns: list[str]) -> list[int]:
    """Group rows that share the (whitespace-normalised) text of any input column, so that no text is trained on
    and then judged again in test. Returns a group number per row, numbered in order of first appearance: the
    connected components of a graph that links each row to the first row with the same text."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rows, firsts = [], []  # each link: a row, and the first row with the same text
    for column in text_columns:
        first_row = {}
        for i, value in enumerate(table[column]):
            if key := re.sub(r"\s+", " ", str(value or "")).strip():
                rows.append(i)
                firsts.append(first_row.setdefault(key, i))
    graph = coo_matrix(([1] * len(rows), (rows, firsts)), shape=(len(table), len(table)))
    return connected_components(graph, directed=False)[1].tolist()


def grouped_split(labels: list[int], groups: list[int], validation_size: float, test_size: float, seed: int) -> dict:
    """Stratified train/validation/test row indices in which every duplicate group stays in one split.
    The groups are split, stratified by their majority label, then expanded back to rows."""
    from sklearn.model_selection import train_test_split

    members = defaultdict(list)
    for row, g in enumerate(groups):
        members[g].append(row)
    label_of = majority_labels(labels, groups)
    try:
        strata = list(label_of.values())
        rest, test = train_test_split(list(members), test_size=test_size, stratify=strata, random_state=seed)
        strata, share = [label_of[g] for g in rest], validation_size / (1 - test_size)
        train, validation = train_test_split(rest, test_size=share, random_state=seed, stratify=strata)
    except ValueError as err:  # a class whose rows fall in too few groups to stratify
        raise UserError(
            f"Cannot split the rows: {first_line(err)} Rows that share a text are kept together, and "
            "some class has too few such groups. Add rows, or join fewer columns (--text-columns)."
        ) from err
    parts = {"train": train, "validation": validation, "test": test}
    split = {name: sorted(r for g in part for r in members[g]) for name, part in parts.items()}
    for name, rows in split.items():
        if missing := set(labels) - {labels[r] for r in rows}:
            raise UserError(
                f"The {name} split has no rows of class id(s) {sorted(missing)}: rows that share a text "
                "are kept together, and those classes fall in too few groups. Add rows, use larger "
                "--validation-size/--test-size, or join fewer columns (--text-columns)."
            )
    return split


def majority_labels(labels: list[int], groups: list[int]) -> dict[int, int]:
    """Each duplicate group's most common label (the first one seen, on a tie): what the splits stratify groups by."""
    members = defaultdict(list)
    for label, g in zip(labels, groups, strict=True):
        members[g].append(label)
    return {g: Counter(values).most_common(1)[0][0] for g, values in members.items()}


def class_weights(train_labels: list[int], num_classes: int) -> list[float]:
    """Inverse-frequency weights w_c = N / (K * n_c), sklearn's "balanced": each class then carries the same total
    weight. A class with no training row (held out whole by --holdout-column) weighs as one row."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(train_labels)  # sklearn refuses a class that is absent, and divides by len(present), not K
    weights = compute_class_weight("balanced", classes=present, y=train_labels) * (len(present) / num_classes)
    weight_of = dict(zip(present.tolist(), weights.tolist(), strict=True))
    return [weight_of.get(c, len(train_labels) / num_classes) for c in range(num_classes)]


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


# ==============================================================================================================
# Model: its preset, and training
# ==============================================================================================================
def resolve_model(args, token) -> dict:
    """Fetch only the model's config and tokenizer (not its weights) to fail fast on an unknown model; choose its
    preset by architecture; fill in the settings the flags left open; clamp the window to what the model reads."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(args.model, token=token)
    except Exception as err:
        where = "local folder has no config.json" if Path(args.model).is_dir() else "not found locally or on the Hub"
        raise UserError(
            f"--model {args.model}: {where} ({type(err).__name__}). Give a Hub model id such as "
            f"{DEFAULT_MODEL} or a folder holding config.json and the tokenizer files."
        ) from err
    folder = Path(args.model).expanduser()
    if folder.is_dir() and not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(
            f"--model {args.model}: the folder has no tokenizer files ({', '.join(TOKENIZER_FILES)}). "
            "Save the tokenizer beside the model: tokenizer.save_pretrained(folder)."
        )
    name = config.model_type if config.model_type in PRESETS else "default"
    preset = PRESETS[name]
    given = {key for key in preset if getattr(args, key, None) is not None}
    for key, value in preset.items():  # the flags win; the preset fills what they left open
        if key not in given | {"license", "citation"}:
            setattr(args, key, value)
    reads = AutoTokenizer.from_pretrained(args.model, token=token).model_max_length  # RoBERTa: 512 of its 514 positions
    limit = min(getattr(config, "max_position_embeddings", None) or args.max_length, reads)  # unset: a huge number
    if args.max_length > limit:
        what = "--max-length %d is more than %s supports (%d tokens); using %d. Longer texts become windows."
        logger.warning(what, args.max_length, args.model, limit, limit)
        args.max_length = limit
    if "stride" not in given:  # the preset's, or a quarter of a smaller window
        args.stride = min(args.stride, args.max_length // 4)
    if args.stride >= args.max_length // 2:
        raise UserError(f"--stride {args.stride} must be below half of the window length {args.max_length}.")
    default, why = default_name(args, config.model_type)
    chosen = (("output folder", args.output_dir), ("repo", args.hub_model_id or args.no_push))
    if named := [what for what, given in chosen if not given]:
        logger.info("%s name %s (%s)", " and ".join(named).capitalize(), default, why)
    args.output_dir = args.output_dir or Path(default)
    local = Path(args.model).expanduser().exists()
    logger.info("Model %s (%s): the %s preset", args.model, config.model_type, name)
    return {
        "id": Path(args.model).name if local else args.model,
        "on_hub": not local,
        "type": config.model_type,
        "preset": name,
        "license": preset["license"],
        "citation": preset["citation"],
    }


def default_name(args, model_type: str) -> tuple[str, str]:
    """The output folder's and the repo's name, and why: <data>-<label>-<model type> (on-the-books-jim-crow-modernbert
    for this script's own), or REPO_NAME when it is set and the run's data and label are the script's defaults. A run
    on other data or another label never lands on the default one's."""
    if REPO_NAME and args.dataset == DATASET_ID and args.label_column == LABEL_COLUMN:
        return REPO_NAME.format(model_type=model_type), "REPO_NAME: the run's data and label are the script's defaults"
    local = looks_like_local_path(args.dataset)
    stem = Path(args.dataset.rstrip("/")).stem if local else args.dataset.split("/")[-1]
    name = re.sub(r"[^a-z0-9]+", "-", f"{stem}-{args.label_column}-{model_type}".lower()).strip("-")
    if not REPO_NAME:
        return name, "named after the data and label (REPO_NAME is not set)"
    other = "--dataset is not DATASET_ID" if args.dataset != DATASET_ID else "--label-column is not LABEL_COLUMN"
    return name, f"named after the data and label, not REPO_NAME: {other}"


def load_model(model_name: str, names: list[str], token: str | None):
    """The tokenizer and the classifier, with a fresh head of len(names) classes, in fp32 whatever the checkpoint's
    dtype (transformers 5 loads a checkpoint in its own dtype; mixed precision needs fp32 weights)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_name, token=token)
    if not tokenizer.is_fast:
        raise UserError(f"--model {model_name}: its tokenizer has no fast (Rust) version, which windowing needs.")
    ids = {"id2label": dict(enumerate(names)), "label2id": {n: i for i, n in enumerate(names)}}
    # ignore_mismatched_sizes: a classifier with another number of labels gets a fresh head
    fresh = {"num_labels": len(names), "ignore_mismatched_sizes": True, "dtype": torch.float32}
    model = AutoModelForSequenceClassification.from_pretrained(model_name, token=token, **ids, **fresh)
    for key in ("positive_label", "decision_threshold", "decision_threshold_name", "decision_thresholds"):  # old task
        if hasattr(model.config, key):
            delattr(model.config, key)  # save_outputs writes this run's, when it decides them
    return model, tokenizer


@dataclass
class Job:
    """One training: its seed, its rows, where its checkpoints go, and what it resumes from or pushes to."""

    seed: int
    split: dict  # row indices of "train", "validation" and "test"
    output_dir: Path  # checkpoints go to output_dir/checkpoints
    resume_from: str | None = None  # --resume: a checkpoint folder
    push_to: dict | None = None  # --push-checkpoints: the Hub repo (check_hub's answer)
    baseline: bool = True  # also score the TF-IDF baseline on the same split
    settings: dict | None = None  # run_settings: saved beside each checkpoint, for --resume to check


@dataclass
class Run:
    """One trained model and what was measured on it."""

    job: Job
    model: object
    tokenizer: object
    metrics: dict  # history, validation, threshold, test, tokens, ...
    probs: dict  # class probabilities of the validation and test rows, in split order
    test_pred: object  # the predicted class of each test row


def train_and_evaluate(args, data: Data, job: Job, clock, token) -> Run:
    """Fine-tune one model on the train rows, select its epoch on validation, and score it (and the baseline)."""
    from transformers import set_seed

    set_seed(job.seed)
    with clock("model_load"):
        model, tokenizer = load_model(args.model, data.names, token)
    part = {k: ([data.texts[i] for i in rows], [data.labels[i] for i in rows]) for k, rows in job.split.items()}
    texts, labels = part["train"]
    with clock("tokenization"):
        windows = tokenize_windows(tokenizer, texts, args.max_length, args.stride, labels)
    weights = class_weights(labels, len(data.names))
    what = "Class weights (N / (K * n_c), training split): %s"
    logger.info(what, {n: round(w, 3) for n, w in zip(data.names, weights, strict=True)})
    trainer = make_trainer(args, job, model, tokenizer, windows, part["validation"], weights, data.names)
    device, attention = describe_device(trainer.args.device), model.config._attn_implementation
    what = "Training on %d windows from %d rows: %s, precision %s, attention %s"
    logger.info(what, len(windows["row"]), len(texts), device, trainer.precision, attention)
    if job.resume_from:
        logger.info("Resuming from %s", job.resume_from)
    with clock("training"):
        trainer.tick = time.time()
        trainer.train(resume_from_checkpoint=job.resume_from)
        tokens = trainer.token_counts()
    if not is_main():
        return Run(job, None, None, {}, {}, None)
    key = trainer.args.metric_for_best_model
    trained = {round(e["epoch"], 2): e["loss"] for e in trainer.state.log_history if "loss" in e}
    history = []
    for e in (e for e in trainer.state.log_history if f"eval_{key}" in e):
        epoch = round(e["epoch"], 2)
        scores = {k[5:]: v for k, v in e.items() if k.startswith("eval_") and not isinstance(v, list)}
        history.append({"epoch": epoch, "training_loss": trained.get(epoch), **scores})
    metrics = {
        "seed": job.seed,
        "precision": trainer.precision,
        "attention": attention,
        **trainer.batch,
        "training_tokens": tokens,
        "validation_history": history,
        "class_weights": dict(zip(data.names, weights, strict=True)),
        "best_epoch": kept_epoch(trainer.state, key),
    }
    with clock("evaluation"):
        probs, test_pred = evaluate(trainer.model, tokenizer, args, data.names, part, metrics)
        metrics["rows_longer_than_one_window"]["train"] = count_long_rows(windows["row"])
    if job.baseline:
        with clock("baseline"):
            metrics["baseline"] = tfidf_baseline(data.texts, data.labels, job.split, data.names, job.seed)
    return Run(job, trainer.model, tokenizer, metrics, probs, test_pred)


def kept_epoch(state, key: str) -> float | None:
    """The epoch whose weights the Trainer kept: its best checkpoint's, else the last one's (a run resumed from the
    Hub has only the last checkpoint, so a best epoch from before the restart is no longer there to load)."""
    scored = [e for e in state.log_history if f"eval_{key}" in e]
    best = state.best_model_checkpoint  # None, or a folder gone, where the Trainer could not load the best one
    step = state.best_global_step if best and Path(best).is_dir() else None
    kept = next((e for e in scored if e.get("step") == step), scored[-1] if scored else None)
    if kept is not None and step is None and len(scored) > 1:
        logger.warning("The best epoch's checkpoint is not here (a resumed run): the model is the last epoch's.")
    return round(kept["epoch"], 2) if kept else None


def describe_device(device) -> str:
    """The device the Trainer trains on, in words: for the log, and for the card (describe_environment)."""
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU (mps)" if device.type == "mps" else f"CPU ({os.cpu_count()} cores)"


def make_trainer(args, job: Job, model, tokenizer, windows: dict, validation: tuple, weights: list, names: list[str]):
    """The Trainer: class-weighted loss, length-grouped batches, evaluation per row on validation each epoch."""
    import torch
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, TrainingArguments

    precision = training_precision(args.allow_fp16)
    count = processes()
    split, effective = share_batches(args.batch_size, count)
    training_args = TrainingArguments(
        output_dir=str(job.output_dir / "checkpoints"),
        num_train_epochs=args.epochs,
        learning_rate=args.learning_rate,
        per_device_train_batch_size=args.batch_size,
        warmup_steps=args.warmup,  # a float below 1 is a share of the training steps
        weight_decay=args.weight_decay,
        adam_beta1=args.adam_betas[0],
        adam_beta2=args.adam_betas[1],
        adam_epsilon=args.adam_epsilon,
        lr_scheduler_type="linear",
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        # A Hugging Face Job (JOB_ID set) loses its disk when it ends: without --push-checkpoints nothing could
        # resume from its checkpoints, which then only keep the best epoch, so they hold the weights only.
        save_only_model=not args.push_checkpoints and bool(os.environ.get("JOB_ID")),  # the same on every process
        load_best_model_at_end=True,
        metric_for_best_model=main_metric(names),  # on validation: F1 of the positive class, or macro F1
        greater_is_better=True,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: little padding
        # several processes: the batch is shared out, not multiplied, among those that launch_processes joined
        accelerator_config={"split_batches": split, "use_configured_state": True},
        average_tokens_across_devices=False,  # weighted_loss itself averages over the whole batch
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        tf32=True if precision == "bf16" else None,  # an Ampere or newer GPU: tf32 matmuls where fp32 remains
        logging_strategy="epoch",
        include_num_input_tokens_seen="non_padding",  # the real tokens of all processes, kept in each checkpoint
        report_to=args.report_to,
        seed=job.seed,
        data_seed=job.seed,
    )
    weight = torch.tensor(weights, dtype=torch.float32, device=training_args.device)  # once, on the training device

    def weighted_loss(outputs, labels, num_items_in_batch=None):
        """The class-weighted mean over the whole batch, sum(w_y * loss) / sum(w_y), also when the other processes
        hold parts of it: DDP averages their gradients, hence the factor `count` (processes)."""
        summed = torch.nn.functional.cross_entropy(outputs["logits"].float(), labels, weight=weight, reduction="sum")
        total = weight[labels].sum()
        if count > 1:
            torch.distributed.all_reduce(total)
            summed = summed * count
        return summed / total

    trainer = classifier_trainer(args, names, weights)(
        model=model,
        args=training_args,
        train_dataset=Dataset.from_dict({k: v for k, v in windows.items() if k != "row"}),
        eval_dataset=validation,  # texts and labels: ClassifierTrainer.evaluate scores them
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_loss_func=weighted_loss,
    )
    trainer.add_callback(checkpoint_keeper(job.settings, job.push_to))
    trainer.precision = precision
    trainer.batch = {"processes": count, "effective_batch_size": effective}
    return trainer


def training_precision(allow_fp16: bool) -> str:
    """bf16 on a GPU that computes it natively; fp16 on an older GPU where the preset allows it; else fp32."""
    import torch

    if not torch.cuda.is_available():
        return "fp32"
    return "bf16" if bf16_here(torch.device("cuda")) else "fp16" if allow_fp16 else "fp32"


RUN_SETTINGS = "run_settings.json"  # in each checkpoint: the settings it was made with


def checkpoint_keeper(settings: dict | None, hub: dict | None):
    """After each save: write the run's settings into the checkpoint (--resume refuses one made with others), and
    with --push-checkpoints (hub) upload the checkpoint to the repo's last-checkpoint/, replacing the one before, so
    that a killed job can --resume from the Hub. Nothing else of the Trainer's folder is uploaded."""
    from transformers import TrainerCallback

    class KeepCheckpoint(TrainerCallback):
        pushes_to = hub["repo_id"] if hub else None

        def on_save(self, args, state, control, **kwargs):
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            write_json(folder / RUN_SETTINGS, settings)
            if hub is None:
                return
            logger.info("Pushing %s to %s/last-checkpoint", folder.name, hub["repo_id"])
            try:
                ensure_repo(hub)
                where = {"repo_id": hub["repo_id"], "path_in_repo": "last-checkpoint", "delete_patterns": "*"}
                message = f"Checkpoint at epoch {state.epoch:.0f}"
                hub["api"].upload_folder(folder_path=str(folder), commit_message=message, **where)
            except Exception as err:  # a safety net only: the training goes on, and the model is pushed at the end
                what = "Could not push %s (%s: %s); training goes on. A --resume would start from the checkpoint "
                logger.warning(what + "pushed before it, if any.", folder.name, type(err).__name__, first_line(err))

    return KeepCheckpoint()


def classifier_trainer(args, names: list[str], weights: list[float]):
    import torch
    from transformers import Trainer

    class ClassifierTrainer(Trainer):
        """The Trainer, with validation scored as after training, and each epoch's computed (padded) tokens and the
        seconds since the last log logged with its loss: the log history, kept in each checkpoint, carries them across
        a --resume."""

        computed_tokens = nan_steps = 0
        tick = 0.0  # when train() started, then when the last epoch was logged

        def evaluate(self, *unused, **also_unused):
            """Validation each epoch, scored by predict_probs as `evaluate` scores it after training (and predict.py
            any text), not by the Trainer's loop (under fp16 where training is): the epoch is chosen on the numbers
            reported. The first process scores; the others take its numbers, so all keep the same epoch."""
            metrics = share(self.score_validation() if is_main() else None)
            self.log(metrics)  # with the epoch and step: the validation history, and kept_epoch, read them there
            self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
            return metrics

        def score_validation(self) -> dict:
            """The rows' scores at threshold 0.5, and the windows' class-weighted loss (the loss trained on)."""
            (texts, y), window = self.eval_dataset, (args.max_length, args.stride, args.batch_size * 2)
            model, tokenizer = self.model, self.processing_class
            probs, window_probs, rows = predict_probs(model, tokenizer, texts, *window, return_windows=True)
            log_p = torch.tensor(window_probs).clamp_min(1e-45).log()  # a probability rounded to 0: finite
            loss = torch.nn.functional.nll_loss(log_p, torch.tensor([y[r] for r in rows]), torch.tensor(weights))
            return {f"eval_{k}": v for k, v in {"loss": float(loss), **classification_metrics(y, probs, names)}.items()}

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            # padding is compute spent on nothing: count it (the Trainer counts the real tokens)
            self.computed_tokens += inputs["attention_mask"].numel()
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            # NaN three steps in a row: the weights diverged (one step may be fp16's overflow, which its scaler skips)
            self.nan_steps = self.nan_steps + 1 if torch.isnan(loss) else 0
            if self.nan_steps >= 3:
                raise UserError(
                    f"The training loss became NaN (step {self.state.global_step + 1}, three in a row), with learning rate "
                    f"{self.args.learning_rate}: the weights diverged. Lower --learning-rate (fine-tuning uses about "
                    "1e-5 to 1e-4) and run again."
                )
            return loss

        def log(self, logs, *args, **kwargs):
            if "loss" in logs:  # an epoch's training, logged by every process
                logs.update(computed_tokens=self.all_computed_tokens(), training_seconds=time.time() - self.tick)
                self.computed_tokens, self.tick = 0, time.time()
            super().log(logs, *args, **kwargs)

        def all_computed_tokens(self) -> int:
            """The computed tokens of all processes (each counted its share of each batch)."""
            return int(self.accelerator.reduce(torch.tensor(self.computed_tokens, device=self.args.device), "sum"))

        def token_counts(self) -> dict:
            """The whole training's tokens and speed: the epochs logged (before a --resume too), and any steps since."""
            logged = [e for e in self.state.log_history if "computed_tokens" in e]
            computed = sum(e["computed_tokens"] for e in logged) + self.all_computed_tokens()
            seconds = sum(e["training_seconds"] for e in logged) + time.time() - self.tick
            real = self.state.num_input_tokens_seen  # the Trainer's count, restored on --resume
            efficiency, speed = real / max(computed, 1), real / max(seconds, 1e-9)
            return {
                "real": real,
                "computed": computed,
                "padding_efficiency": efficiency,
                "real_tokens_per_second": speed,
            }

    return ClassifierTrainer


# ==============================================================================================================
# Evaluation: windows to rows, threshold, metrics, bootstrap, baseline
# ==============================================================================================================
def evaluate(model, tokenizer, args, names: list[str], part: dict, metrics: dict):
    """Predict the validation rows and, once, the test rows with the selected model, then score them. Fills
    `metrics`; returns the rows' probabilities and the test rows' predicted classes."""
    batch, key = args.batch_size * 2, main_metric(names)
    (val_texts, val_true), window = part["validation"], (args.max_length, args.stride, batch)
    val_probs, win_probs, win_rows = predict_probs(model, tokenizer, val_texts, *window, return_windows=True)
    by_mean = classification_metrics(val_true, aggregate_windows(win_probs, win_rows, len(val_true), "mean"), names)
    by_max = classification_metrics(val_true, val_probs, names)
    f1 = {"max": by_max[key], "mean": by_mean[key]}
    metrics["window_aggregation"] = {"used": WINDOW_AGGREGATION, "validation_f1": f1}
    test_probs, _, test_rows = predict_probs(model, tokenizer, part["test"][0], *window, return_windows=True)
    probs = {"validation": val_probs, "test": test_probs}
    test_pred = score_predictions(metrics, names, {k: part[k][1] for k in probs}, probs, args)
    long_rows = {"validation": count_long_rows(win_rows), "test": count_long_rows(test_rows)}
    metrics["rows_longer_than_one_window"] = long_rows
    if part.get("collection", ([],))[0]:  # --add-labels: the reviewed rows drawn at random
        texts, y = part["collection"]
        probs["collection"] = predict_probs(model, tokenizer, texts, *window)
        metrics["collection"] = score_collection(y, probs["collection"], names, metrics, args.seed)
    return probs, test_pred


def score_collection(y: list[int], probs, names: list[str], metrics: dict, seed: int) -> dict:
    """The reviewed rows drawn at random from the collection the model was applied to, never trained on, scored at the
    threshold the model ships with: an estimate of how it does there, apart from the test split."""
    threshold = metrics["threshold"]["value"] if len(names) == 2 else None
    pred = predicted_classes(probs, threshold)
    scores = {**classification_metrics(y, probs, names, threshold), "rows": len(y)}
    if threshold is None:  # more than two classes: accuracy's exact interval, a share of rows right (none for macro F1)
        intervals = {"accuracy": intervals_95([1] * len(y), (np.asarray(y) == pred).astype(int), seed)["accuracy"]}
    else:
        found, intervals = triage(y, probs[:, 1], threshold), intervals_95(y, pred, seed)
        scores.update(found=found["found"], positives=found["positives"], flagged=int(pred.sum()))
        scores.update(threshold=metrics["threshold"]["name"])
        undefined = {"recall": not found["positives"], "f1": not found["positives"], "precision": not pred.sum()}
        for key in (k for k, nothing in undefined.items() if nothing):  # nothing to count: not 0, unknown
            scores[key] = intervals[key] = None
    method = {k: v.replace("the test rows", "these rows") for k, v in INTERVAL_METHODS.items()}
    return {**scores, "intervals_95": intervals, "intervals_95_method": method}


def score_predictions(metrics: dict, names: list[str], y: dict, probs: dict, args):
    """Thresholds chosen on validation (two classes), then validation and test scored at the `f1` one; test once,
    with 95% intervals. Fills `metrics`; returns the test rows' predicted classes."""
    threshold = None
    if len(names) == 2:
        named = named_thresholds(y["validation"], probs["validation"][:, 1])
        threshold = named["f1"]  # the headline scores: comparable with the baseline and with other runs
        metrics["thresholds"] = {
            n: {part: triage(y[part], probs[part][:, 1], t) for part in ("validation", "test")} | {"value": t}
            for n, t in named.items()
        }
        shipped, why = shipped_threshold(args, names)
        metrics["threshold"] = {"name": shipped, "value": named[shipped], "chosen_on": "validation", "why": why}
        metrics["test_at_default_threshold"] = classification_metrics(y["test"], probs["test"], names, 0.5)
    for part in ("validation", "test"):
        metrics[part] = classification_metrics(y[part], probs[part], names, threshold)
    test_pred = predicted_classes(probs["test"], threshold)
    if threshold is not None:
        metrics["test"]["intervals_95"] = intervals_95(y["test"], test_pred, args.seed)
        metrics["test"]["intervals_95_method"] = INTERVAL_METHODS
    return test_pred


def shipped_threshold(args, names: list[str]) -> tuple[str, str]:
    """The named threshold saved as `decision_threshold`, the one predict.py applies by default, and why: the flag's,
    else the one TASK_CARD declares for its task (a recall threshold for triage), else `f1`."""
    if args.threshold_for:
        return args.threshold_for, "set with --threshold-for"
    task = card_words(args, names)[0]
    if task and task.get("threshold"):
        return task["threshold"]  # a name check_args has checked
    return "f1", "the best F1 on validation"


def named_thresholds(y_true, scores) -> dict[str, float]:
    """The thresholds a reader can choose from, all on validation (flag when score >= t): the one that maximises F1
    (a tie goes to the higher threshold: fewer flags), and for each recall target the highest threshold whose flags
    still find that share of the positive rows. Every distinct score is a candidate."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_true, np.asarray(scores, dtype=np.float64))
    precision, recall = precision[:-1], recall[:-1]  # sklearn ends the curve at recall 0, where no threshold is
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-300)
    # a tie goes to the higher threshold; 2pr / (p + r) is exact only up to rounding, so a tie is equal within 1e-12
    named = {"f1": float(thresholds[np.flatnonzero(f1 >= f1.max() - 1e-12)[-1]])}
    for target in RECALL_TARGETS:  # thresholds ascend, recall falls: the last one that still reaches the target
        named[f"recall_{target:.2f}"] = float(thresholds[np.flatnonzero(recall >= target)[-1]])
    return named


def triage(y_true, scores, threshold: float) -> dict:
    """What a reader gets at one threshold: precision, recall, and how many rows in 1,000 they would review."""
    y, hit = np.asarray(y_true) == 1, flagged(scores, threshold)
    found = int((y & hit).sum())
    return {
        "precision": found / max(int(hit.sum()), 1),
        "recall": found / max(int(y.sum()), 1),
        "flagged_per_1000": 1000 * float(hit.mean()),
        "found": found,  # what the recall rests on: with 48 positives, one more found is 2 points of recall
        "positives": int(y.sum()),
    }


def main_metric(names: list[str]) -> str:
    """The score that chooses the epoch: F1 of the positive class, or macro F1 for more than two classes."""
    return "f1" if len(names) == 2 else "macro_f1"


def predicted_classes(probs, threshold: float | None):
    """Two classes: class 1 where its probability reaches the threshold (>=). More: the most probable class."""
    return flagged(probs[:, 1], threshold).astype(int) if threshold is not None else np.asarray(probs).argmax(axis=1)


def classification_metrics(y_true, probs, names: list[str], threshold: float | None = 0.5) -> dict:
    """Two classes: precision, recall and F1 of class 1 at `threshold`. More: averages over the classes, named as
    such (macro, weighted), and per-class scores; the prediction is the most probable class."""
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, roc_auc_score

    y_true, probs, k = np.asarray(y_true), np.asarray(probs), len(names)
    labels = list(range(k))
    y_pred = predicted_classes(probs, threshold if k == 2 else None)
    # keyed by class id, not name: a class named "accuracy" or "macro avg" would collide with the report's own rows
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)

    def scores(row: dict, order=("f1", "precision", "recall")) -> dict:
        return {m: float(row["f1-score" if m == "f1" else m]) for m in order}

    out = {"accuracy": float(accuracy_score(y_true, y_pred))}
    if k == 2:
        out.update(scores(report["1"]), macro_f1=float(report["macro avg"]["f1-score"]))
    else:
        out.update({f"{a}_{m}": v for a in ("macro", "weighted") for m, v in scores(report[f"{a} avg"]).items()})
    if len(np.unique(y_true)) == k:
        ovr = {} if k == 2 else {"multi_class": "ovr", "labels": labels}
        out["roc_auc"] = float(roc_auc_score(y_true, probs[:, 1] if k == 2 else probs, **ovr))

    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    if k > 2:
        rows = {n: report[str(i)] for i, n in enumerate(names)}
        out["per_class"] = {
            n: {**scores(r, ("precision", "recall", "f1")), "support": int(r["support"])} for n, r in rows.items()
        }
    out["n"] = int(len(y_true))
    return out


def intervals_95(y_true, y_pred, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> dict:
    """95% intervals of the test metrics. Precision, recall and accuracy are proportions: their exact (Clopper-Pearson)
    interval, which stays true at 0 and 1, where a bootstrap cannot move (55 of 55 found: 0.935 - 1.000, not 1.000 -
    1.000). F1 is no proportion: a percentile bootstrap over resamples of the rows. None where nothing is counted."""
    from scipy.stats import binomtest

    y, p = np.asarray(y_true) == 1, np.asarray(y_pred) == 1
    tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())

    def exact(k: int, n: int) -> list[float] | None:
        return list(map(float, binomtest(k, n).proportion_ci(0.95, method="exact"))) if n else None

    idx = np.random.default_rng(seed).integers(0, len(y), size=(resamples, len(y)))
    yt, yp = y[idx], p[idx]
    tps, errors = (yt & yp).sum(1), (yt != yp).sum(1)
    f1 = np.where(2 * tps + errors > 0, 2 * tps / np.maximum(2 * tps + errors, 1), 0.0)
    return {
        "f1": [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))],
        "precision": exact(tp, tp + fp),
        "recall": exact(tp, tp + fn),
        "accuracy": exact(int((y == p).sum()), len(y)),
    }


INTERVAL_METHODS = {  # what the card and metrics.json say of each interval
    "f1": f"percentile bootstrap, {BOOTSTRAP_RESAMPLES} resamples of the test rows",
    "precision": "exact binomial (Clopper-Pearson)",
    "recall": "exact binomial (Clopper-Pearson)",
    "accuracy": "exact binomial (Clopper-Pearson)",
}


def tfidf_baseline(texts: list[str], labels: list[int], split: dict, names: list[str], seed: int) -> dict:
    """The lexical model, scored once on test: what fine-tuning must beat."""
    start = time.time()
    partner, threshold = lexical_model(texts, labels, split, names, seed)
    test = [texts[i] for i in split["test"]]
    result = classification_metrics([labels[i] for i in split["test"]], partner.predict_proba(test), names, threshold)
    result.update(C=partner[-1].C, threshold=threshold, train_rows=len(split["train"]))
    result["seconds"] = round(time.time() - start, 2)
    if threshold is None:
        del result["threshold"]
    return result


def lexical_model(texts: list[str], labels: list[int], split: dict, names: list[str], seed: int):
    """TF-IDF (word 1-2 grams) + class-weighted logistic regression, fitted on the training rows only; C (and, for two
    classes, the F1 threshold) chosen on validation. Returns the fitted pipeline and that threshold."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    x = {k: [texts[i] for i in rows] for k, rows in split.items()}
    y = {k: np.array([labels[i] for i in rows]) for k, rows in split.items()}
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=200_000, sublinear_tf=True)
    m_train = vectorizer.fit_transform(x["train"])
    m_val = vectorizer.transform(x["validation"])
    key = main_metric(names)
    best = None
    for c in (0.1, 1.0, 10.0, 100.0):
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=5000, random_state=seed)
        clf.fit(m_train, y["train"])
        p_val = clf.predict_proba(m_val)
        threshold = named_thresholds(y["validation"], p_val[:, 1])["f1"] if len(names) == 2 else None
        score = classification_metrics(y["validation"], p_val, names, threshold)[key]
        if best is None or score > best[0]:
            best = (score, threshold, clf)
    _, threshold, clf = best
    return Pipeline([("tfidf", vectorizer), ("logreg", clf)]), threshold


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


# ==============================================================================================================
# The record of the run, the files it writes, the card
# ==============================================================================================================
def build_record(args, env: dict, base: dict, data: Data, run: Run, studies: dict, template_source: str) -> dict:
    """Everything the run did and measured, once: the card is rendered from it and it is saved as metrics.json."""
    m = run.metrics
    from_hub = not looks_like_local_path(args.dataset)
    task, about, _ = card_words(args, data.names)
    title = task["title"] if task else f"Text classifier: {', '.join(data.names)}"
    record = {
        "title": f"{title}, fine-tuned from {base['id']}",
        "repo_id": args.repo_id or str(args.output_dir),  # with --no-push the card's code loads the local folder
        "base_model": {k: base[k] for k in ("id", "on_hub", "type", "preset", "license", "citation")},
        "dataset": {"id": args.dataset if from_hub else Path(args.dataset).name, "on_hub": from_hub, "about": about},
        "task": task,
        **{k: getattr(args, k) for k in ("text_columns", "label_column")},
        "labels": data.names,
        **data.facts,
        "split_sizes": {k: len(v) for k, v in run.job.split.items()},
        "hyperparameters": {k: getattr(args, k) for k in HYPERPARAMETERS},
    }
    measured = ("class_weights", "validation_history", "best_epoch", "window_aggregation", "validation", "test")
    measured += ("collection",) if "collection" in m else ()
    record.update({k: m[k] for k in measured + ("threshold", "thresholds", "test_at_default_threshold") if k in m})
    record.update(training_tokens=m["training_tokens"], baseline=m["baseline"], command=env["command"], **studies)
    record["environment"] = {"hardware": env["hardware"], "versions": env["versions"], "card_template": template_source}
    record["environment"].update({k: m[k] for k in ("precision", "attention", "processes", "effective_batch_size")})
    record["rows"] = {**record["rows"], "longer_than_one_window": sum(m["rows_longer_than_one_window"].values())}
    return record


HYPERPARAMETERS = (
    "epochs learning_rate batch_size warmup weight_decay adam_betas adam_epsilon max_length stride seed "
    "validation_size test_size"
).split()


def rehearse_card(args, env: dict, base: dict, data: Data, split: dict, template: str, hub: dict | None) -> None:
    """Render the card once from made-up scores on the real split, before training, and when it will be pushed ask
    the Hub whether it accepts its metadata: a card that breaks stops the run now, not after the training was paid
    for."""
    y = {k: [data.labels[i] for i in rows] for k, rows in split.items()}
    made_up = {k: np.eye(len(data.names))[v] * 0.5 + 0.5 / len(data.names) for k, v in y.items()}
    metrics = {"precision": "fp32", "attention": "sdpa", "processes": 1, "effective_batch_size": args.batch_size}
    metrics.update(class_weights=dict.fromkeys(data.names, 1.0), best_epoch=1.0)
    metrics["rows_longer_than_one_window"] = {"train": 0}
    metrics["training_tokens"] = {"real": 1, "computed": 1, "padding_efficiency": 1.0, "real_tokens_per_second": 1.0}
    metrics["window_aggregation"] = {"used": WINDOW_AGGREGATION, "validation_f1": {"max": 1.0, "mean": 1.0}}
    test_pred = score_predictions(metrics, data.names, y, made_up, args)
    metrics.update(validation_history=[{"epoch": 1.0, "loss": 0.5, **metrics["validation"]}], baseline=metrics["test"])
    run = Run(Job(args.seed, split, args.output_dir), None, None, metrics, made_up, test_pred)
    # Made-up results of the optional studies; their splits are made now, so that a seed or a held-out value that
    # cannot be split stops the run before the main training, not after it.
    for seed in range(args.seed + 1, args.seed + args.seeds):
        grouped_split(data.labels, data.groups, args.validation_size, args.test_size, seed)
    scores = {k: v for k, v in metrics["test"].items() if isinstance(v, float)}
    summary = {k: {"mean": v, "std": 0.0, "values": [v] * args.seeds} for k, v in scores.items()}
    seeds = {"n": args.seeds, "seeds": list(range(args.seed, args.seed + args.seeds)), "runs": [], "summary": summary}
    groups = []
    for value in sorted(set(data.holdout), key=str) if args.holdout_column else []:
        part = holdout_split(data.labels, data.groups, data.holdout, value, args.validation_size, args.seed)
        groups.append(holdout_group(value, part, data, metrics, summary="rehearsal"))
    holdout = {"column": args.holdout_column, "groups": groups} if args.holdout_column else None
    studies = {"seeds": seeds if args.seeds > 1 else None, "holdout": holdout}
    record = build_record(args, env, base, data, run, studies, "rehearsal")
    record.update(errors={"count": 0, "file": "errors.csv"}, timings={"wall": 0.0})
    try:
        card = render_card(record, template)
    except Exception as err:
        raise UserError(
            f"The card template does not render ({type(err).__name__}: {first_line(err)}). Fix it "
            "(--card-template) before anything is trained."
        ) from err
    if hub is None:
        return
    # The Hub checks a README's metadata (licence, language, tags, model-index) when it is uploaded and refuses the
    # whole commit when it fails; ask it now. No answer is only a warning: the upload asks again.
    from huggingface_hub import ModelCard

    try:
        ModelCard(card).validate()
    except ValueError as err:  # the Hub's verdict, with its reasons
        raise UserError(
            f"The Hub rejects the model card's metadata: {' '.join(str(err).split())} Fix the value in the EDIT HERE "
            "blocks (a licence, language or tag) or in --card-template before anything is trained."
        ) from err
    except Exception as err:
        logger.warning("Could not ask the Hub to check the card's metadata (%s); the upload will.", type(err).__name__)


def save_outputs(out: Path, run: Run, data: Data, record: dict, template: str, clock) -> list[str]:
    """Write the model, the tokenizer, the tables of the run, the card and metrics.json. Returns the files written,
    relative to `out` (made by make_output_dir): exactly what a push uploads."""
    if "threshold" in record:
        chosen, named = record["threshold"], {n: t["value"] for n, t in record["thresholds"].items()}
        run.model.config.update({"positive_label": data.names[1], "decision_thresholds": named})
        run.model.config.update({"decision_threshold": chosen["value"], "decision_threshold_name": chosen["name"]})
    run.model.save_pretrained(out)  # not trainer.save_model: with --push-checkpoints that would push a placeholder card
    index = out / "model.safetensors.index.json"  # a large model is saved in shards that this file lists
    shards = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file() else []
    files = ["config.json", *([index.name, *shards] if shards else ["model.safetensors"])]
    files += [Path(f).name for f in run.tokenizer.save_pretrained(out) if Path(f).is_file()]
    mask = os.umask(0)
    os.umask(mask)
    for name in files:  # as readable as the other files: a shared drive's colleagues must be able to load it
        (out / name).chmod(0o666 & ~mask)
    # splits.csv (where each row went), predictions.csv (the scores of the validation, test and collection rows) and
    # errors.csv (the misclassified test rows, to read).
    split, names = run.job.split, data.names
    where = [(data.rows[i], data.ids[i], k) for k, rows in split.items() for i in rows]
    write_csv(out / "splits.csv", ["row", "id", "split"], where)
    score_names = [names[1]] if len(names) == 2 else names
    rows = [
        (data.ids[i], part, names[data.labels[i]], *(float(x) for x in (p[1:] if len(names) == 2 else p)))
        for part in ("validation", "test", "collection")
        for i, p in zip(split.get(part, []), run.probs.get(part, []), strict=True)
    ]
    write_csv(out / "predictions.csv", ["id", "split", "true_label", *[f"score_{n}" for n in score_names]], rows)
    errors = [
        (data.ids[i], names[data.labels[i]], names[int(p)], round(float(prob[1] if len(names) == 2 else prob.max()), 4))
        for i, p, prob in zip(split["test"], run.test_pred, run.probs["test"], strict=True)
        if int(p) != data.labels[i]
    ]
    write_csv(out / "errors.csv", ["id", "true_label", "predicted_label", "score"], errors)
    record["errors"] = {"count": len(errors), "file": "errors.csv"}
    files += ["splits.csv", "predictions.csv", "errors.csv"]
    if "thresholds" in record:
        files.append(plot_precision_recall(out / "pr_curve.png", run, data, record["thresholds"]))
    record["timings"] = clock.rounded()
    (out / "README.md").write_text(render_card(record, template), encoding="utf-8")
    write_json(out / "metrics.json", record)
    files = list(dict.fromkeys(files + ["README.md", "metrics.json"]))
    marker = json.loads((out / MARKER).read_text())
    for name in set(marker.get("files", [])) - set(files):  # an earlier run's, not written again: none left stale
        (out / name).unlink(missing_ok=True)
    write_json(out / MARKER, {**marker, "files": files})  # what a rerun replaces
    for scratch in ("checkpoints", "hub-checkpoint"):
        shutil.rmtree(out / scratch, ignore_errors=True)
    SAVED.append(out)
    return files


SAVED: list[Path] = []  # the folder whose model and card this run has written: what a Ctrl-C after it keeps


def plot_precision_recall(path: Path, run: Run, data: Data, thresholds: dict) -> str:
    """The precision-recall curve on validation and test, with the named thresholds marked, as a PNG for the card."""
    import matplotlib

    matplotlib.use("Agg")  # no screen: write the file only
    import matplotlib.pyplot as plt
    from sklearn.metrics import precision_recall_curve

    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=120)
    for part, style in (("validation", "-"), ("test", "--")):
        y = [data.labels[i] for i in run.job.split[part]]
        precision, recall, _ = precision_recall_curve(y, run.probs[part][:, 1])
        ax.plot(recall, precision, style, drawstyle="steps-post", label=f"{part} ({len(y)} rows)")
        for n, (name, t) in enumerate(thresholds.items()):  # filled on test, hollow on validation
            face = "none" if part == "validation" else None
            kw = {"color": f"C{n + 2}", "markerfacecolor": face, "label": name if part == "test" else None}
            ax.plot(t[part]["recall"], t[part]["precision"], "os^vD"[n % 5], **kw)
    named = [t[p][k] for t in thresholds.values() for p in ("validation", "test") for k in ("precision", "recall")]
    low = max(0.0, (min(named) - 0.1) // 0.1 * 0.1)  # where the named thresholds are: the part a reader chooses in
    ax.set(xlabel=f"recall of {data.names[1]}", ylabel="precision", xlim=(low, 1.005), ylim=(low, 1.005))
    ax.set_title("Precision and recall at every threshold; named ones filled on test, hollow on validation", fontsize=8)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path.name


def write_csv(path: Path, header: list[str], rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


def write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=2, default=str) + "\n", encoding="utf-8")


def read_template(path: str | None) -> tuple[str, str]:
    """The card template (--card-template, else model_card_template.md beside this script, else the embedded copy:
    hf jobs ships only the script), parsed now so that a broken one stops the run before training."""
    import jinja2

    if path and not Path(path).is_file():
        raise UserError(f"--card-template {path}: no such file.")
    beside = Path(__file__).resolve().with_name(CARD_TEMPLATE_FILE)
    source = Path(path) if path else beside if beside.is_file() else None
    text = source.read_text(encoding="utf-8") if source else EMBEDDED_CARD_TEMPLATE
    try:
        jinja2.Environment().parse(text)
    except jinja2.TemplateSyntaxError as err:
        raise UserError(f"--card-template {source}: line {err.lineno}: {err.message}. Fix the template.") from err
    return text, source.name if source else "embedded copy"


METRIC_NAMES = {
    "f1": "F1",
    "precision": "Precision",
    "recall": "Recall",
    "accuracy": "Accuracy",
    "roc_auc": "ROC-AUC",
    "macro_f1": "Macro F1",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "weighted_f1": "Weighted F1",
}


def render_card(record: dict, template: str) -> str:
    """Render the model card from one run's record. Pure: no training, no network."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    # The test table: each metric, its interval, its value at threshold 0.5 and the baseline's.
    binary = "threshold" in record
    keys = ["f1", "precision", "recall"] if binary else ["macro_f1", "macro_precision", "macro_recall", "weighted_f1"]
    keys += ["accuracy", "roc_auc"]
    test, half, baseline = record["test"], record.get("test_at_default_threshold") or {}, record.get("baseline") or {}
    rows = [
        {
            "key": k,
            "label": METRIC_NAMES[k] + ("" if binary or k != "roc_auc" else " (one-vs-rest, macro)"),
            "value": test[k],
            "interval": (test.get("intervals_95") or {}).get(k),
            "at_half": half.get(k),
            "baseline": baseline.get(k),
        }
        for k in keys
        if k in test
    ]
    data = record["dataset"]
    about, task = data["about"] or {}, record["task"] or {}
    split = f"test (grouped, stratified, seed {record['hyperparameters']['seed']})"
    on = {"task_type": "text-classification", "task_name": "Text classification", "dataset_split": split}
    on.update(dataset_type=data["id"], dataset_name=data["id"])
    results = [
        EvalResult(**on, metric_type=r["key"], metric_name=r["label"], metric_value=round(r["value"], 4)) for r in rows
    ]
    base = record["base_model"]
    card_data = ModelCardData(
        model_name=record["repo_id"].rstrip("/").split("/")[-1],
        base_model=base["id"] if base["on_hub"] else None,
        datasets=[data["id"]] if data["on_hub"] else None,
        language=about.get("language"),
        license=base["license"],
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=about.get("tags", []) + task.get("tags", []) + [base["type"], "text-classification"],
        metrics=[r["key"] for r in rows],
        eval_results=results,
        widget=[{"text": t} for t in task["examples"]] if task else None,
    )
    example = task["examples"][0] if task else "Replace this with a text to classify."
    fill = {"metric_rows": rows, "example": example, "bootstrap_resamples": BOOTSTRAP_RESAMPLES}
    return str(ModelCard.from_template(card_data, template_str=template, **fill, **record))


# ==============================================================================================================
# Hub: check before training, push the run's files, verify
# ==============================================================================================================
def check_hub(args, base: dict, token) -> dict:
    """Before anything is downloaded: a token the Hub accepts, with write access to the target repo (to its namespace
    when the repo is new), and a repo whose visibility is the one asked for. Creates the repo when it is new."""
    from huggingface_hub import HfApi

    if not token:
        raise UserError(
            "Pushing to the Hub needs a token with write access and none was found. Set HF_TOKEN (on hf "
            "jobs: --secrets HF_TOKEN; locally: hf auth login), or keep the model local with --no-push."
        )
    api = HfApi(token=token)
    me = hub_call(api.whoami, "check HF_TOKEN", "The Hub did not accept HF_TOKEN")
    repo_id = args.hub_model_id or f"{me['name']}/{default_name(args, base['type'])[0]}"

    def visibility():  # True for an existing private repo, False for an existing public one, None when there is none
        try:
            return bool(api.repo_info(repo_id).private)
        except Exception as err:
            if is_missing_repo(err):
                return None
            raise

    private = hub_call(visibility, f"look up {repo_id}", f"Cannot read {repo_id}")
    problem = write_problem(api, me, repo_id, exists=private is not None)
    if problem:
        raise UserError(
            f"HF_TOKEN cannot write to {repo_id}: {problem}. Make a token with write access at "
            "https://huggingface.co/settings/tokens, choose another --hub-model-id, or use --no-push."
        )
    want_private = args.private or (not args.public and looks_like_local_path(args.dataset))
    if want_private and not args.private:
        what = "The repo will be private: a model trained on a local file may have memorised rows that were never "
        logger.info(what + "meant to be public. Add --public to publish it.")
    if private is False and want_private:
        raise UserError(
            f"{repo_id} already exists and is public; this run would make its model private, and the Hub "
            "keeps an existing repo as it is. Make the repo private on its Settings page, add --public, "
            "or choose another --hub-model-id."
        )
    visibility = "private" if private or (private is None and want_private) else "public"
    logger.info("Push check passed: %s can write to %s (%s)", me["name"], repo_id, visibility)
    args.repo_id = repo_id
    create = want_private if private is None else None  # made at the first upload: a failed run leaves no repo
    return {"api": api, "repo_id": repo_id, "user": me["name"], "checkpoints": args.push_checkpoints, "create": create}


def hub_call(call, what: str, refused: str):
    """One call to the Hub, its failure said plainly: offline, unreachable, or refused (with the Hub's reason)."""
    try:
        return call()
    except Exception as err:
        if type(err).__name__ == "OfflineModeIsEnabled":
            raise UserError(
                f"Could not {what}: offline mode is on (HF_HUB_OFFLINE=1). Unset it, or use --no-push."
            ) from err
        if is_transient(err):  # no answer, or a rate limit or server error: not the token's fault
            answer = "could not reach the Hub" if http_status(err) is None else f"the Hub answered {http_status(err)}"
            raise UserError(
                f"Could not {what}: {answer} ({type(err).__name__}: {first_line(err)}). Check the network, or "
                "wait a few minutes, and run again; or use --no-push."
            ) from err
        raise UserError(
            f"{refused} ({type(err).__name__}: {first_line(err)}). Make a write token at "
            "https://huggingface.co/settings/tokens, or use --no-push."
        ) from err


def write_problem(api, me: dict, repo_id: str, exists: bool) -> str | None:
    """Why this token cannot write to repo_id; None when it can. Read tokens cannot; for an existing repo, the Hub says;
    for a new one, a fine-grained token needs repo.write on its namespace, and in an org the user's role must write."""
    namespace, user = repo_id.split("/")[0], me["name"]
    token = (me.get("auth") or {}).get("accessToken") or {}
    if token.get("role") == "read":
        return "it is a read-only token"

    def refused():
        try:
            api.auth_check(repo_id, write=True)
        except Exception as err:
            if http_status(err) not in (401, 403):
                raise
            return f"the Hub refuses write access ({first_line(err)})"

    if exists:
        return hub_call(refused, f"check write access to {repo_id}", f"Cannot check write access to {repo_id}")
    if token.get("role") == "fineGrained":
        fine = token.get("fineGrained") or {}
        scopes = [s for s in fine.get("scoped", []) if "repo.write" in s.get("permissions", [])]
        if "repo.write" not in fine.get("global", []) and not any(s["entity"].get("name") == namespace for s in scopes):
            return f"this fine-grained token has no repo.write permission on {namespace}"
    if namespace != user:
        role = next((o.get("roleInOrg") for o in me.get("orgs", []) if o.get("name") == namespace), None)
        if role is None:
            return f"{user} is not a member of the organization {namespace}"
        if role not in ("admin", "write", "contributor"):
            return f"{user}'s role in {namespace} is {role}, which cannot write to its repos"
    return None


# --- shared: hub_errors (identical in every script that talks to the Hub; tests/test_copies.py checks) ---
def http_status(err: Exception) -> int | None:
    """The HTTP status of a Hub error; None when no answer came (network, offline)."""
    return getattr(getattr(err, "response", None), "status_code", None)


def is_transient(err: Exception) -> bool:
    """Worth retrying: a rate limit, a server error, or no answer at all (huggingface_hub's httpx raises a
    TransportError: ConnectError, ReadTimeout, ...; not an OSError). Not a refusal (401, 403, 404), offline mode or a
    full disk."""
    status = http_status(err)
    if status is not None:
        return status in (408, 429, 500, 502, 503, 504)
    if type(err).__name__ == "OfflineModeIsEnabled":  # a ConnectionError that no retry mends
        return False
    return bool({c.__name__ for c in type(err).__mro__} & {"TransportError", "ConnectionError", "TimeoutError"})


def is_missing_repo(err: Exception) -> bool:
    """The Hub says the repo does not exist: 404, or 401 with RepositoryNotFoundError (a gated repo, its subclass,
    exists)."""
    return http_status(err) == 404 or type(err).__name__ == "RepositoryNotFoundError"


# --- end shared: hub_errors ---


def push_and_verify(hub: dict, out: Path, files: list[str], clock, record: dict) -> None:
    """Upload exactly the run's files in one commit (so a card never describes files that are not there); then check
    what landed. On failure nothing local is touched and the error says how to finish. Last, metrics.json again, with
    the push's record, so that the Hub's copy is the local one: a failure there is a warning (the model is up)."""
    from huggingface_hub import CommitOperationAdd

    api, repo_id = hub["api"], hub["repo_id"]
    operations = [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(out / f)) for f in files]

    def upload():
        ensure_repo(hub)
        api.create_commit(repo_id=repo_id, operations=operations, commit_message="Upload model and card")

    uploaded = False
    try:
        with clock("upload"):
            logger.info("Uploading %d files to https://huggingface.co/%s", len(files), repo_id)
            commit_retrying_once(upload)
        uploaded = True
        with clock("push_verification"):
            verified = verify_push(api, repo_id, out, files)
    except Exception as err:  # up but not proven, or not up: keep the files where they can be pushed again from
        failed = f"Uploading the model to {repo_id} failed ({type(err).__name__}: {first_line(err)})."
        if uploaded:
            failed = str(err) if isinstance(err, UserError) else f"Could not check the push ({type(err).__name__})."
        raise UserError(f"{failed} {keep_for_later(out, files, repo_id, hub['user'])}") from err
    # The repo's last-checkpoint/, which this run pushed or resumed from, let a killed job resume and is now dead
    # weight: deleted. The model is published, so a failure here is a warning.
    removed = ["last-checkpoint"] if hub["checkpoints"] or hub.get("resumed") else []
    try:
        if removed:
            done = "Remove last-checkpoint/: training done"
            api.delete_folder("last-checkpoint", repo_id=repo_id, commit_message=done)
            logger.info("Removed last-checkpoint/ from %s: training finished and the pushed model is verified", repo_id)
    except Exception as err:
        removed = []
        if http_status(err) != 404:  # 404: none there, every checkpoint push failed
            what = "Could not remove last-checkpoint/ from %s (%s). The model is published; delete the folder on the "
            logger.warning(what + "repo's Files page.", repo_id, type(err).__name__)
    record["push"] = {"repo_id": repo_id, "files": files, **verified, "removed": removed}
    write_json(path := out / "metrics.json", {**record, "timings": clock.rounded()})
    try:
        commit_retrying_once(
            lambda: api.upload_file(path_or_fileobj=str(path), path_in_repo=path.name, repo_id=repo_id)
        )
    except Exception as err:
        what = "Could not upload the final metrics.json (%s: %s). Finish with: hf upload %s %s"
        logger.warning(what, type(err).__name__, first_line(err), repo_id, path)


def commit_retrying_once(commit, wait_s: float = 10.0):
    """huggingface_hub retries each request that uploads a file (408, 429, 5xx, no answer), but not the commit that
    ends the upload: that one is tried again once."""
    try:
        return commit()
    except Exception as err:
        if not is_transient(err):
            raise
        logger.warning("Upload failed (%s: %s); trying again in %.0f s", type(err).__name__, first_line(err), wait_s)
        time.sleep(wait_s)
        return commit()


def ensure_repo(hub: dict) -> None:
    """Create the repo check_hub found missing, at the first upload: a run that fails before it leaves none."""
    if hub.get("create") is not None:
        hub["api"].create_repo(hub["repo_id"], private=hub["create"], exist_ok=True)
        hub["create"] = None


JOB_BUCKET = Path("/data")  # in a Hugging Face Job: its artifacts bucket, mounted read-write; it outlives the job


def keep_for_later(out: Path, files: list[str], repo_id: str, user: str) -> str:
    """After a failed upload: where the run's files are, and the command that finishes the push. In a job, whose disk
    is wiped at its end, they are first copied to the job's bucket when it is mounted and writable."""
    includes = " ".join(f"--include {shlex.quote(f)}" for f in files)
    if not os.environ.get("JOB_ID"):
        return f"Nothing local was deleted: everything is in {out}. Finish the upload with:\n    hf upload {repo_id} {out} . {includes}"
    target = JOB_BUCKET / out.name
    try:
        for f in files:
            (target / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(out / f, target / f)
    except OSError as err:
        return (
            f"This job's disk is wiped when it ends, and the files could not be kept in its bucket ({JOB_BUCKET}: "
            f"{type(err).__name__}): the trained model will be lost. Run the job again once the Hub accepts uploads."
        )
    return (
        f"The run's files are kept in this job's bucket, at {target} (hf://buckets/{user}/jobs-artifacts/<this "
        f"job's folder>/{out.name}; `hf buckets list {user}/jobs-artifacts -R` finds it). Fetch them with "
        f"`hf buckets sync hf://buckets/{user}/jobs-artifacts/<folder>/{out.name} ./{out.name}`, then:\n"
        f"    hf upload {repo_id} ./{out.name} . {includes}"
    )


def verify_push(api, repo_id: str, out: Path, files: list[str]) -> dict:
    """Ask the Hub for what landed and compare each file's size and content hash with the local file: sha256 for
    LFS files, the git blob id for the others. Nothing is downloaded again."""
    remote = {f.path: f for f in api.get_paths_info(repo_id, files) if hasattr(f, "size")}
    wrong = []
    for name in files:
        data = (out / name).read_bytes()
        found = remote.get(name)
        if found is None or found.size != len(data):
            wrong.append(name)
        elif found.lfs is not None:
            wrong += [name] if found.lfs.sha256 != hashlib.sha256(data).hexdigest() else []
        elif found.blob_id != hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest():
            wrong.append(name)
    if wrong:
        raise UserError(f"Verification failed: {wrong} on the Hub differ from the files in {out}.")
    logger.info("Verified the push: the %d files on the Hub have the local sizes and hashes", len(files))
    return {"verified_files": len(files)}


def log_summary(record: dict, out: Path, clock) -> None:
    test, key = record["test"], main_metric(record["labels"])
    auc = f", ROC-AUC {test['roc_auc']:.3f}" if "roc_auc" in test else ""
    shown = [test["n"], METRIC_NAMES[key], test[key], test["accuracy"], auc, record["baseline"][key]]
    what = "Test (%d rows): %s %.3f, accuracy %.3f%s | baseline %.3f | %d errors"
    logger.info(what, *shown, record["errors"]["count"])
    what = "Wrote the model, its card (README.md), metrics.json and the run's tables to %s in %.0f s"
    logger.info(what, out, clock.rounded()["wall"])


# ==============================================================================================================
# Several GPUs: one process per GPU (torch.distributed.run); the first process evaluates, writes and pushes
# ==============================================================================================================
def launch_processes(args) -> int | None:
    """With several GPUs and no launcher yet, run this same command once per GPU under torch.distributed.run (DDP)
    and return its exit code; --gpus 1 keeps one GPU. None: this process trains, alone or as one of the ranks."""
    import torch

    if "LOCAL_RANK" in os.environ:  # under the launcher: join the others (one GPU each) before anything else
        from accelerate import PartialState

        # long: the other processes wait while the first one evaluates, and uploads checkpoints, on its own. The
        # Trainer keeps this state (use_configured_state), where it would make its own with a 30-minute timeout.
        # cpu: without a GPU (the tests), accelerate joins the processes only when told so.
        PartialState(cpu=not torch.cuda.is_available(), timeout=datetime.timedelta(hours=6))
        return None
    count = torch.cuda.device_count()  # counts without starting CUDA, so CUDA_VISIBLE_DEVICES still applies
    wanted = min(count, args.gpus or count)
    if count > 1 and wanted == 1:
        os.environ["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
        logger.warning("%d GPUs here; --gpus 1 trains on one, the others stay idle.", count)
    if wanted < 2:
        return None
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={wanted}"]
    command = [*launcher, str(Path(__file__).resolve()), *args.argv]
    print(f"{wanted} GPUs: one training process per GPU: {shlex.join(command)}", file=sys.stderr, flush=True)
    launcher = subprocess.Popen(command)
    try:
        return launcher.wait()
    except KeyboardInterrupt:  # Ctrl-C reached the launcher: it stops its workers, the first says what it kept
        try:  # not subprocess.run, which kills the launcher after 0.25 s and may leave its workers on the GPUs
            launcher.wait(timeout=60)  # a minute for torch.distributed.run to stop its workers
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            launcher.kill()
        return 130


def share_batches(batch_size: int, processes: int) -> tuple[bool, int]:
    """Whether each batch is cut into one part per process (the batches, and so the training, stay those of one
    process), and the effective batch. A batch that does not divide is taken whole by every process instead."""
    if processes > 1 and batch_size % processes:
        what = "--batch-size %d does not divide among %d processes: each takes %d, an effective batch of %d."
        logger.warning(what, batch_size, processes, batch_size, batch_size * processes)
        return False, batch_size * processes
    return processes > 1, batch_size


def is_main() -> bool:
    """Whether this is the first (or only) process: the one that logs, evaluates, writes and pushes."""
    from accelerate import PartialState

    return PartialState().is_main_process


def processes() -> int:
    """How many processes train together: 1, or one per GPU under torch.distributed.run."""
    from accelerate import PartialState

    return PartialState().num_processes


def share(value):
    """The first process's value, on every process (as it is, with a single process)."""
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]


# ==============================================================================================================
# Optional study: --seeds N (the split and the initialisation change together)
# ==============================================================================================================
def seed_study(args, data: Data, first: Run, clock, token) -> dict:
    """Train and score once more per extra seed; report the mean and spread of the test metrics."""
    runs = [first.metrics]
    for seed in range(args.seed + 1, args.seed + args.seeds):
        split = split_rows(data, args, seed)
        folder = args.output_dir / "seed_runs" / f"seed_{seed}"
        runs.append(train_and_evaluate(args, data, Job(seed, split, folder, baseline=False), clock, token).metrics)
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(args.output_dir / "seed_runs", ignore_errors=True)
    if not is_main():  # the other processes only helped train
        return None
    keys = [k for k in METRIC_NAMES if all(k in r["test"] for r in runs)]
    values = {k: [r["test"][k] for r in runs] for k in keys}
    summary = {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v} for k, v in values.items()}
    kept = [{k: r[k] for k in ("seed", "test", "best_epoch")} for r in runs]
    return {"n": len(runs), "seeds": [r["seed"] for r in runs], "summary": summary, "runs": kept}


# ==============================================================================================================
# Optional study: --holdout-column (test on each group of rows after training without it)
# ==============================================================================================================
HOLDOUT_MAX_VALUES = 20  # each value is one more training
HOLDOUT_MIN_ROWS = 5  # the held-out rows are its test set: fewer say next to nothing


def check_holdout_values(column: str, values: list) -> None:
    """Refuse a --holdout-column with more values than trainings worth running (an id: one per row) or with values
    too rare to test on, with the counts."""
    counts = Counter(values)
    rare = sorted((n, str(v)) for v, n in counts.items() if n < HOLDOUT_MIN_ROWS)
    if len(counts) > HOLDOUT_MAX_VALUES or rare:
        examples = ", ".join(f"{v!r}: {n}" for n, v in rare[:3])
        raise UserError(
            f"--holdout-column {column}: {len(counts)} values, {len(rare)} of them with fewer than "
            f"{HOLDOUT_MIN_ROWS} rows{f' ({examples})' if rare else ''}. Each value is one training, tested on its "
            f"rows: a held-out column needs at most {HOLDOUT_MAX_VALUES} values of at least {HOLDOUT_MIN_ROWS} rows "
            "each. Choose a column that groups the rows (a source, a decade), or merge its rare values."
        )


def holdout_study(args, data: Data, clock, token, values: list | None = None) -> dict:
    """One training per value of the column (or of `values`): test on all rows with that value, train on the others."""
    what = "--holdout-column %s is used only to group rows for the held-out runs, never as input"
    logger.info(what, args.holdout_column)
    groups = []
    for n, value in enumerate(values or sorted(set(data.holdout), key=str)):
        split = holdout_split(data.labels, data.groups, data.holdout, value, args.validation_size, args.seed)
        logger.info("Held-out %s=%s: %s", args.holdout_column, value, {k: len(v) for k, v in split.items()})
        folder = args.output_dir / "holdout_runs" / str(n)  # by number: a value may not be a safe folder name
        run = train_and_evaluate(args, data, Job(args.seed, split, folder, baseline=False), clock, token)
        shutil.rmtree(folder, ignore_errors=True)
        if is_main():  # the other processes only helped train
            groups.append(holdout_group(value, split, data, run.metrics))
    shutil.rmtree(args.output_dir / "holdout_runs", ignore_errors=True)
    return {"column": args.holdout_column, "groups": groups}


def holdout_group(value, split: dict, data: Data, metrics: dict, summary: str | None = None) -> dict:
    """One held-out value's line of the record: its rows, its test scores, and its recall at each named threshold."""
    y = [data.labels[i] for i in split["test"]]
    return {
        "value": value,
        "rows": len(y),
        "positives": sum(v == 1 for v in y),
        "classes": len(set(y)),
        "train_rows": len(split["train"]),
        "metrics": metrics["test"],
        "recall_at": {n: t["test"]["recall"] for n, t in metrics.get("thresholds", {}).items()},
        "summary": summary or holdout_summary(metrics["test"], y, data.names),
    }


def holdout_split(labels, groups, holdout_values, value, validation_size: float, seed: int) -> dict:
    """Test on every row whose holdout value is `value`; split the other rows into train/validation. Rows that share
    a duplicate group with a held-out row are left out of training altogether."""
    from sklearn.model_selection import train_test_split

    test = [i for i, v in enumerate(holdout_values) if v == value]
    held = {groups[i] for i in test}
    rest = [i for i, v in enumerate(holdout_values) if v != value and groups[i] not in held]
    rest_groups = sorted({groups[i] for i in rest})
    if len(rest_groups) < 4:  # too few to split into train and validation
        raise UserError(
            f"--holdout-column: holding out {value!r} leaves {len(rest)} rows to train on. Choose a column "
            "whose values each cover a smaller part of the rows."
        )
    label_of = majority_labels(labels, groups)  # the same as over `rest`: a group's rows are all in it, or none
    strata = [label_of[g] for g in rest_groups]
    if min(Counter(strata).values()) < 2:  # a class too rare to stratify once this group is held out
        strata = None
    _, val_groups = train_test_split(rest_groups, test_size=validation_size, random_state=seed, stratify=strata)
    val_groups = set(val_groups)
    train, validation = [i for i in rest if groups[i] not in val_groups], [i for i in rest if groups[i] in val_groups]
    return {"train": train, "validation": validation, "test": test}


def holdout_summary(metrics: dict, y_true: list[int], names: list[str]) -> str:
    """F1 where the held-out rows have both labels; otherwise recall (all positive) or specificity (all negative)."""
    if len(names) > 2:
        return f"macro F1 {metrics['macro_f1']:.3f}, accuracy {metrics['accuracy']:.3f}"
    cm = metrics["confusion_matrix"]
    if len(set(y_true)) > 1:
        return f"F1 {metrics['f1']:.3f}, precision {metrics['precision']:.3f}, recall {metrics['recall']:.3f}"
    if y_true[0] == 1:
        return f"recall {cm[1][1] / max(sum(cm[1]), 1):.3f} ({cm[1][1]} of {sum(cm[1])} flagged); one label: no F1"
    wrong = f"{cm[0][1]} of {sum(cm[0])} wrongly flagged"
    return f"specificity {cm[0][0] / max(sum(cm[0]), 1):.3f} ({wrong}); one label: no F1"


# ==============================================================================================================
# Resume: --resume continues from a checkpoint
# ==============================================================================================================
def find_checkpoint(args, hub, settings: dict) -> str | None:
    """The newest checkpoint in --output-dir/checkpoints, else the Hub repo's last-checkpoint/ (written by
    --push-checkpoints), made with these settings; a checkpoint made with others is refused, naming them, and so is a
    Hub checkpoint that cannot be fetched. None, with a warning, when there is no checkpoint."""
    from transformers.trainer_utils import get_last_checkpoint

    local = args.output_dir / "checkpoints"
    found = get_last_checkpoint(str(local)) if local.is_dir() else None
    fetched = args.output_dir / "hub-checkpoint"  # beside the Trainer's folder, not in it
    if found is None and hub is not None and hub.get("create") is None:  # the repo exists: it may hold one
        shutil.rmtree(fetched, ignore_errors=True)  # snapshot_download would return an earlier fetch when offline
        try:
            fetch = {"allow_patterns": ["last-checkpoint/*"], "local_dir": str(fetched)}
            hub["api"].snapshot_download(repo_id=hub["repo_id"], **fetch)
        except Exception as err:  # starting over would replace the Hub's checkpoint at the first save
            raise UserError(
                f"--resume: could not fetch last-checkpoint/ from {hub['repo_id']} ({type(err).__name__}: "
                f"{first_line(err)}). Nothing was trained; run the same command again."
            ) from err
        if (fetched / "last-checkpoint" / "trainer_state.json").is_file():
            found, hub["resumed"] = str(fetched / "last-checkpoint"), True
    if found is None:
        what = "--resume: no checkpoint in %s%s; starting from the beginning."
        logger.warning(what, local, " or on the Hub" * bool(hub))
        return None
    saved = Path(found) / RUN_SETTINGS
    then = json.loads(saved.read_text()) if saved.is_file() else None
    now = json.loads(json.dumps(settings))  # as it would be saved: tuples become lists
    if then is None or "progress" in then:  # "progress": a version of this script that kept its counts there
        raise UserError(
            f"--resume: {found} does not say which settings made it, or an earlier version of this script made it, so "
            "it cannot be continued safely. Start again without --resume."
        )
    differ = [f"{k}: {then.get(k)!r} then, {v!r} now" for k, v in now.items() if then.get(k) != v]
    if differ:
        raise UserError(
            f"--resume: {found} was made with other settings ({'; '.join(differ)}). Continuing it would "
            "mix two runs. Run again with the first run's settings, or start again without --resume."
        )
    return found


def entry_point(argv=None) -> None:
    """A UserError becomes a one-paragraph message and exit code 2, without a traceback."""
    try:
        sys.exit(main(argv))
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback
        if is_main():
            print(interrupted(sys.argv[1:] if argv is None else argv), file=sys.stderr)
        sys.exit(130)
    finally:
        release_folders()
        SAVED.clear()


def interrupted(argv: list[str]) -> str:
    """What a Ctrl-C leaves (the last epoch's checkpoint, if one was saved), and the command that continues."""
    words = [a for a in argv if a not in ("--resume", "--overwrite")]
    again = f"uv run {Path(__file__).name} {shlex.join(words)}"
    if SAVED:  # stopped while pushing: everything is on disk
        return (
            f"Interrupted (Ctrl-C): the model, its card and the run's files are saved in {SAVED[-1]}. Push them with: "
            f"hf upload <your repo> {SAVED[-1]}"
        )
    from transformers.trainer_utils import get_last_checkpoint

    folder = WRITING[-1] / "checkpoints" if WRITING else None
    last = get_last_checkpoint(str(folder)) if folder is not None and folder.is_dir() else None
    if last is None:
        return f"Interrupted (Ctrl-C) before the first checkpoint: nothing to continue from. Start again with: {again}"
    return f"Interrupted (Ctrl-C): the last checkpoint is kept in {last}. Continue from it with: {again} --resume"


# The card template, embedded because `hf jobs uv run` ships only this file; tests/test_copies.py checks that it
# equals model_card_template.md.
EMBEDDED_CARD_TEMPLATE = r"""---
{{ card_data }}
---
{%- set binary = threshold is defined %}
{%- set about = dataset.about %}
{%- set base_link = "[" ~ base_model.id ~ "](https://huggingface.co/" ~ base_model.id ~ ")" if base_model.on_hub else "`" ~ base_model.id ~ "` (a local model folder)" %}
{%- set data_link = "[`" ~ dataset.id ~ "`](https://huggingface.co/datasets/" ~ dataset.id ~ ")" if dataset.on_hub else "`" ~ dataset.id ~ "` (a local file)" %}
{%- set columns = text_columns | map("tojson") | join(" then ") %}

# {{ title }}

{% if rows.max_samples -%}
> **A smoke run.** This model was trained on a subset of {{ rows.used }} rows (`--max-samples {{ rows.max_samples }}`), to check the pipeline: its scores say little about a full run.

{% endif -%}
{% if about and about.content_warning -%}
> **Content warning.** {{ about.content_warning }}

{% endif -%}
## What it does

{% if task -%}
This model {{ task.does }}.
{%- else -%}
This model reads a text and assigns it one of {{ labels | length }} labels: {{ labels | map("tojson") | join(", ") }}.
<!-- Say what each label means, who the model is for, and what they should use it for. -->
{%- endif %}
{% if binary %}It gives a score between 0 and 1 for `{{ positive_label }}` and flags a text when the score reaches a threshold. The positive label is `{{ positive_label }}` ({{ positive_label_reason }}).{% else %}It gives a score for each label; the prediction is the label with the highest score.{% endif %} It was fine-tuned from {{ base_link }} on {{ data_link }}.

## How to use it

{% if binary -%}
The model flags a text when its `{{ positive_label }}` score reaches **{{ "%.4f" | format(threshold.value) }}**, the threshold `{{ threshold.name }}` chosen on the validation split (not 0.5){% if threshold.why %}: {{ threshold.why }}{% endif %}. Apply it yourself:

```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{{ repo_id }}", top_k=None)
THRESHOLD = {{"%.4f" | format(threshold.value)}}  # chosen on validation; see "Evaluation"


def flag(texts):
    results = classifier(texts, truncation=True)
    scores = [next(s["score"] for s in r if s["label"] == "{{ positive_label }}") for r in results]
    return [(score, score >= THRESHOLD) for score in scores]


print(flag([{{example | tojson}}]))
```
{%- else -%}
```python
from transformers import pipeline

classifier = pipeline("text-classification", model="{{ repo_id }}", top_k=None)
for result in classifier([{{example | tojson}}], truncation=True):
    print({s["label"]: round(s["score"], 3) for s in result})  # every label's score
```
{%- endif %}

Over a whole table, in batches, with the input built as in training ({{ columns }}, joined by a blank line):

```python
from datasets import load_dataset
from transformers.pipelines.pt_utils import KeyDataset

rows = load_dataset("csv", data_files="data.csv", split="train")  # or a Hub dataset id
columns = {{ text_columns | tojson }}
rows = rows.map(lambda row: {"text": "\n\n".join(str(row[c]).strip() for c in columns if row[c])})
for n, (row, result) in enumerate(zip(rows, classifier(KeyDataset(rows, "text"), batch_size=32, truncation=True))):
{%- if id_column %}
    name = row.get({{ id_column | tojson }}, n)  # the row's id, else its number
{%- else %}
    name = n  # the row's number
{%- endif %}
{%- if binary %}
    score = next(s["score"] for s in result if s["label"] == "{{ positive_label }}")
    print(name, round(score, 3), score >= THRESHOLD)
{%- else %}
    best = max(result, key=lambda s: s["score"])["label"]
    print(name, best, {s["label"]: round(s["score"], 3) for s in result})
{%- endif %}
```

With `truncation=True` the pipeline reads only the start of a text longer than the model's limit. In training and evaluation, texts longer than {{ hyperparameters.max_length }} tokens were read whole, as overlapping windows of {{ hyperparameters.max_length }} tokens ({{ hyperparameters.stride }} shared), and each text was scored by {% if binary %}its window with the highest `{{ positive_label }}` score{% else %}each label's highest window score, renormalised{% endif %}. The project's `predict.py` labels a whole table the same way.

## Intended use and out of scope

{% if task -%}
- {{ task.intended_use | join("\n- ") }}
{%- else -%}
<!-- Fill in: who should use this model and for what; what is out of scope (other sources, periods, languages, kinds of text). -->
- It was trained and evaluated only on {{ data_link }}; texts from elsewhere are untested.
{%- endif %}

## Training data

{% if about -%}
{% if about.url %}[{{ about.name }}]({{ about.url }}){% else %}{{ about.name }}{% endif %}, {{ data_link }}{{ " on the Hub" if dataset.on_hub }}: {{ about.about }}.{% if about.license %} Licence {{ about.license | upper }}.{% endif %}{% if about.credit %} Credit: {{ about.credit }}.{% endif %}
{%- else -%}
{{ data_link }}.
<!-- Fill in: where these texts come from, who labelled them and how, their licence, and how to credit them. -->
{%- endif %}

- **Rows used**: {{ rows.used }}{% if rows.dropped_empty_or_unlabelled %} ({{ rows.dropped_empty_or_unlabelled }} rows with empty text or no label left out){% endif %}{% if rows.max_samples %}, a stratified subset of {{ rows.max_samples }} rows (`--max-samples`){% endif %}.
- **Input**: {{ columns }}{{ ", joined with a blank line" if text_columns | length > 1 }}.
- **Label**: `{{ label_column }}` → {% for n in labels %}`{{ n }}` ({{ class_counts[n] }} rows){{ ", " if not loop.last }}{% endfor %}.{% if task %} {{ task.labels }}{% else %} <!-- Fill in: how the labels were made, and by whom. -->{% endif %}
{% if dropped_columns %}- **Columns removed before anything else**, so the model never sees them:
{% for d in dropped_columns %}  - `{{ d.name }}`{% if d.why == "label" %}: kept out: it is another label of the same rows.{% elif d.shares %}: the rows labelled `{{ positive_label }}`, per value: {% for s in d.shares %}{{ s.value }}: {{ s.positive }}/{{ s.count }} ({{ "%.0f" | format(100 * s.share) }}%){{ "; " if not loop.last }}{% endfor %}.{% endif %}
{% endfor %}{% if dropped_columns | selectattr("why", "equalto", "leak") | list %}  A column whose values go with the label (who labelled a row, say) would let a model learn that, not what the text says.
{% endif %}{% endif -%}
{% if review -%}
- **Reviewed rows** (`--add-labels` {{ review.files | join(", ") }}): {{ review.rows }} rows labelled by a person{% if review.uncertain or review.random %} after `predict.py --review`{% endif %}: {% if review.measured %}{{ review.measured }} drawn at random from the collection it was run on, kept apart to measure the model there (below), and {% endif %}{{ review.trained_on }} trained on{% if review.uncertain %} ({{ review.uncertain }} of the reviewed rows were those the earlier model was least sure of){% endif %}{% if review.left_out_shared_text %}; {{ review.left_out_shared_text }} used nowhere, because a row of another split shares their text{% endif %}.{% if review.skipped_unlabelled %} {{ review.skipped_unlabelled }} reviewed rows with an empty label were skipped.{% endif %}
{% endif -%}
- **Duplicates**: rows that share the whitespace-normalised text of any input column form a group ({{ rows.rows_in_duplicate_groups }} rows in {{ rows.duplicate_groups }} group{{ "s" if rows.duplicate_groups != 1 }}). Each group is kept inside one split, so no text is trained on and then tested on.

## Evaluation

**Method.** The rows were split once, stratified by label and grouped as above, with seed {{ hyperparameters.seed }}: {{ split_sizes.train }} train, {{ split_sizes.validation }} validation, {{ split_sizes.test }} test. The model was trained on train; the epoch{% if binary %} and the decision thresholds were{% else %} was{% endif %} chosen on validation only (the window aggregation was fixed beforehand; `metrics.json` gives both aggregations' validation scores); the test split was scored once, at the end. The row ids of each split are in `splits.csv`.

**Test results** ({{ split_sizes.test }} rows{% if binary %}, at the `f1` threshold {{ "%.3f" | format(thresholds.f1.value) }}{% endif %}{% if test.intervals_95 and test.intervals_95_method %}; 95% intervals: {% for g in test.intervals_95_method.items() | groupby(1) %}{{ g.grouper }} for {{ g.list | map("first") | map("replace", "f1", "F1") | join(", ") }}{{ "; " if not loop.last }}{% endfor %}{% elif test.intervals_95 %}, 95% bootstrap intervals over {{ bootstrap_resamples }} resamples of the test rows{% endif %}):

| Metric | This model{% if test.intervals_95 %} | 95% interval{% endif %}{% if binary %} | at threshold 0.5{% endif %}{% if baseline %} | TF-IDF + logistic regression{% endif %} |
|---|---{% if test.intervals_95 %}|---{% endif %}{% if binary %}|---{% endif %}{% if baseline %}|---{% endif %}|
{% for m in metric_rows -%}
| {{ m.label }} | {{ "%.3f" | format(m.value) }}{% if test.intervals_95 %} | {% if m.interval and m.interval[0] == m.interval[1] %}{{ "%.3f" | format(m.interval[0]) }} in at least 95% of {{ bootstrap_resamples }} resamples{% elif m.interval %}{{ "%.3f – %.3f" | format(m.interval[0], m.interval[1]) }}{% endif %}{% endif %}{% if binary %} | {{ "%.3f" | format(m.at_half) if m.at_half is not none }}{% endif %}{% if baseline %} | {{ "%.3f" | format(m.baseline) if m.baseline is not none }}{% endif %} |
{% endfor %}
{% if binary %}F1, precision and recall are for the `{{ positive_label }}` class.{% else %}Macro averages weigh every class equally; weighted averages weigh each class by its number of test rows.{% endif %}{% if baseline %} The baseline is a class-weighted TF-IDF (word 1-2 grams) + logistic-regression model trained on the same training rows, with its regularisation{% if binary %} and threshold{% endif %} chosen on the same validation rows.{% endif %}

**Confusion matrix** (test{% if binary %}, at `f1`{% endif %}; rows are the true label, columns the prediction):

| true \ predicted |{% for n in labels %} {{ n }} |{% endfor %}
|---|{% for n in labels %}---|{% endfor %}
{% for row in test.confusion_matrix -%}
| {{ labels[loop.index0] }} |{% for v in row %} {{ v }} |{% endfor %}
{% endfor %}
{{ errors.count }} of {{ split_sizes.test }} test rows were misclassified{% if binary %} at `f1`{% endif %}; they are listed in `errors.csv` (id, true label, predicted label, score).
{% if test.per_class %}
**Per class** (test):

| Class | Precision | Recall | F1 | Rows |
|---|---|---|---|---|
{% for name, m in test.per_class.items() -%}
| {{ name }} | {{ "%.3f" | format(m.precision) }} | {{ "%.3f" | format(m.recall) }} | {{ "%.3f" | format(m.f1) }} | {{ m.support }} |
{% endfor %}
{%- endif %}
{% if binary -%}
**Choosing a threshold.** A text is flagged when its `{{ positive_label }}` score is at least the threshold. Each threshold below was chosen on the validation split; the test columns only report what it then gave. `f1` maximises F1 on validation; each `recall_R` is the highest threshold that still found the share R of the validation's `{{ positive_label }}` rows.{% if thresholds.f1.validation.positives %} Each rests on the validation rows it found: with {{ thresholds.f1.validation.positives }} of them, one row is {{ "%.1f" | format(100 / thresholds.f1.validation.positives) }} points of recall.{% endif %} This model ships with **`{{ threshold.name }}` = {{ "%.4f" | format(threshold.value) }}** as its `decision_threshold`, the one `predict.py` applies by default{% if threshold.why %} ({{ threshold.why }}){% endif %}; the test results above are at `f1`, to compare with the baseline and other runs. All of them are in `config.json` as `decision_thresholds`, and `predict.py --threshold {{ "f1" if threshold.name != "f1" else (thresholds | list)[-1] }}` uses another. Where a missed text costs more than one more text to read, take a recall threshold.

| Threshold | Value | Validation precision | Validation recall | Test precision | Test recall | To review per 1,000 texts (test) |{% if holdout %}{% for g in holdout.groups %} Recall, `{{ g.value }}` held out |{% endfor %}{% endif %}
|---|---|---|---|---|---|---|{% if holdout %}{% for g in holdout.groups %}---|{% endfor %}{% endif %}
{% for name, t in thresholds.items() -%}
| `{{ name }}`{{ " (shipped)" if name == threshold.name }} | {{ "%.4f" | format(t.value) }} | {{ "%.3f" | format(t.validation.precision) }} | {{ "%.3f" | format(t.validation.recall) }}{% if t.validation.positives is defined %} ({{ t.validation.found }} of {{ t.validation.positives }}){% endif %} | {{ "%.3f" | format(t.test.precision) }} | {{ "%.3f" | format(t.test.recall) }} | {{ "%.0f" | format(t.test.flagged_per_1000) }} |{% if holdout %}{% for g in holdout.groups %} {{ "%.3f" | format(g.recall_at[name]) if name in g.recall_at }} |{% endfor %}{% endif %}
{% endfor %}
{% if holdout -%}
In the held-out columns, each held-out run used its own threshold of that name, chosen on its own validation split.

{% endif -%}
![Precision and recall on validation and test at every threshold, with the named ones marked](pr_curve.png)
{% else -%}
**No cut-off to tune.** With more than two classes each text gets its most probable label, so the per-class precision and recall above are the whole trade-off.
{% endif %}
{% if collection -%}
**On the collection** (an estimate, apart from the test split): the {{ collection.rows }} reviewed rows drawn at random from the collection `predict.py --review` ran on (`--add-labels`), never trained on, scored {% if binary %}at the shipped threshold `{{ collection.threshold }}`{% else %}by the most probable label{% endif %}.{% if binary %} The model flagged {{ collection.flagged }} of them and found {{ collection.found }} of their {{ collection.positives }} `{{ positive_label }}` rows.{% if not collection.positives %} With no `{{ positive_label }}` row among them, recall cannot be measured on them.{% endif %}{% endif %}

| Metric | On the collection | 95% interval |
|---|---|---|
{% for key, name in ([("precision", "Precision"), ("recall", "Recall"), ("f1", "F1")] if binary else [("accuracy", "Accuracy"), ("macro_f1", "Macro F1")]) -%}
| {{ name }} | {{ "%.3f" | format(collection[key]) if collection[key] is not none else "cannot be measured" }} | {% if collection.intervals_95[key] %}{{ "%.3f – %.3f" | format(collection.intervals_95[key][0], collection.intervals_95[key][1]) }}{% endif %} |
{% endfor %}
A sample of {{ collection.rows }} rows gives wide intervals: review more random rows to narrow them.

{% endif -%}
**Validation per epoch** (the row marked * is the model kept):

| Epoch | Training loss | Validation loss | {% if binary %}F1 | Precision | Recall{% else %}Macro F1 | Weighted F1{% endif %} | Accuracy{% if validation_history[0].roc_auc is defined %} | ROC-AUC{% endif %} |
|---|---|---|---|---{% if binary %}|---{% endif %}|---{% if validation_history[0].roc_auc is defined %}|---{% endif %}|
{% for h in validation_history -%}
| {{ h.epoch }}{{ "*" if h.epoch == best_epoch }} | {{ "%.4f" | format(h.training_loss) if h.training_loss }} | {{ "%.4f" | format(h.loss) }} | {% if binary %}{{ "%.3f" | format(h.f1) }} | {{ "%.3f" | format(h.precision) }} | {{ "%.3f" | format(h.recall) }}{% else %}{{ "%.3f" | format(h.macro_f1) }} | {{ "%.3f" | format(h.weighted_f1) }}{% endif %} | {{ "%.3f" | format(h.accuracy) }}{% if h.roc_auc is defined %} | {{ "%.3f" | format(h.roc_auc) }}{% endif %} |
{% endfor %}
**Long texts.** {{ rows.longer_than_one_window }} of {{ rows.used }} texts were longer than one {{ hyperparameters.max_length }}-token window and were read as overlapping windows.

{% if seeds -%}
**Across {{ seeds.n }} seeds** (split and initialisation both change; mean ± standard deviation of the test metrics{% if binary %}, each at its run's `f1` threshold{% endif %}; the published model is seed {{ seeds.seeds[0] }}'s, chosen before any test score was seen):

| Metric | Mean ± std | Per seed |
|---|---|---|
{% for name, s in seeds.summary.items() -%}
| {{ name }} | {{ "%.3f ± %.3f" | format(s.mean, s.std) }} | {{ s["values"] | map("round", 3) | join(", ") }} |
{% endfor %}
{% endif -%}
{% if holdout -%}
**Held-out `{{ holdout.column }}`** (one training per value: trained on the other values' rows, tested on all rows of the held-out one; the column was used only for grouping):

| Held out | Rows | {% if binary %}Positive{% else %}Classes{% endif %} | Result{% if binary %} (at its `f1` threshold){% endif %} |
|---|---|---|---|
{% for g in holdout.groups -%}
| {{ g.value }} | {{ g.rows }} | {{ g.positives if binary else g.classes }} | {{ g.summary }} |
{% endfor %}
This is the honest worst case for a collection labelled by a different process than the training data.

{% endif -%}
## Training procedure

| Hyperparameter | Value |
|---|---|
| base model | {{ base_link }} ({{ base_model.preset }} preset) |
| epochs | {{ hyperparameters.epochs }} |
| learning rate | {{ hyperparameters.learning_rate }}, linear schedule, warmup {{ "%.0f" | format(100 * hyperparameters.warmup) }}% of the steps |
| batch size | {{ environment.effective_batch_size }} ({{ (environment.effective_batch_size / environment.processes) | int }} per process × {{ environment.processes }} process{{ "es" if environment.processes > 1 }}) |
| optimizer | AdamW (betas {{ hyperparameters.adam_betas | join(", ") }}; eps {{ hyperparameters.adam_epsilon }}; weight decay {{ hyperparameters.weight_decay }}) |
| max length (tokens per window) | {{ hyperparameters.max_length }}, stride {{ hyperparameters.stride }} |
| seed | {{ hyperparameters.seed }} |

The loss is cross-entropy with inverse-frequency class weights computed on the training split, w_c = N / (K · n_c): {% for n, w in class_weights.items() %}`{{ n }}` {{ "%.3f" | format(w) }}{{ ", " if not loop.last }}{% endfor %}. Training batches group texts of similar length and are padded per batch: {{ "%.0f" | format(100 * training_tokens.padding_efficiency) }}% of the tokens computed in training were real text.

- **Hardware**: {{ environment.hardware }}; precision {{ environment.precision }}; attention {{ environment.attention }}.
- **Wall time of this run**: {{ "%.0f" | format(timings.wall) }} s ({% for k, v in timings.items() if k != "wall" %}{{ k.replace("_", " ") }} {{ "%.1f" | format(v) }} s{{ ", " if not loop.last }}{% endfor %}).
- **Libraries**: {% for k, v in environment.versions.items() %}{{ k }} {{ v }}{{ ", " if not loop.last }}{% endfor %}.

## Reproduction

```bash
{{ command }}
```

The files `metrics.json` (every number on this card), `splits.csv` and `errors.csv` in this repository come from the same run.

## Limitations, bias and ethics

{% set key = "f1" if binary else "macro_f1" -%}
{% if baseline and test[key] < baseline[key] -%}
- **This model scores below the TF-IDF baseline** on the test split ({{ key | replace("_", " ") }} {{ "%.3f" | format(test[key]) }} against {{ "%.3f" | format(baseline[key]) }}): do not use it as it is. Train on more rows or for longer, or use a simpler model.
{% endif -%}
{% if task -%}
- {{ task.limitations | join("\n- ") }}
{%- else -%}
<!-- Fill in: whose judgement the labels encode and what they may miss; what harm a wrong prediction could do. -->
{%- endif %}
{% if binary -%}
{%- set shipped = thresholds[threshold.name].test %}
- At the shipped threshold (`{{ threshold.name }}`), recall on the test split is {{ "%.2f" | format(shipped.recall) }}: about {{ "%.0f" | format(100 * (1 - shipped.recall)) }} in 100 `{{ positive_label }}` texts like those in the data go unflagged. Review flags before acting on them.
{%- else -%}
- Recall differs by class, from {{ "%.2f" | format(test.per_class.values() | map(attribute="recall") | min) }} to {{ "%.2f" | format(test.per_class.values() | map(attribute="recall") | max) }} on the test split (see "Per class").
{%- endif %}

## Citation

{% if about and about.credit -%}
Please credit the data: {{ about.credit }}.

{% endif -%}
{% if about and about.citation -%}
```bibtex
{{ about.citation }}
```

{% endif -%}
{% if base_model.citation -%}
The base model:

```bibtex
{{ base_model.citation }}
```
{%- else -%}
The base model: {{ base_link }}; please cite it as its authors ask.
{%- endif %}
{%- if not base_model.on_hub %}
<!-- Fill in: which model the local folder `{{ base_model.id }}` holds (its Hub id, if it has one), so that others can cite it and rerun this. -->
{%- endif %}
{%- if not base_model.license %}
<!-- Fill in: this model's licence (usually its base model's), as `license:` in the metadata at the top. -->
{%- endif %}
"""

if __name__ == "__main__":
    entry_point()
