# /// script
# requires-python = ">=3.10"
# dependencies = [
#     "datasets>=4.0",
#     "huggingface_hub>=1.0",
#     "jinja2>=3.1",
#     "numpy>=1.26",
#     "pandas>=2.0",
#     "pyarrow>=15",
#     "torch>=2.6",
#     "tqdm>=4.66",
#     "transformers>=5.0",
# ]
# ///
r"""Label a whole corpus with a classifier trained by train_modernbert.py / train_roberta.py,
and publish the flags for expert review.

Every row keeps all its columns, in the original order, and gains three: `predicted_label`,
`score` (the probability of the positive label) and `threshold` (the cut-off that turned
the score into the label). Texts are read as in training: the same text columns joined
with a blank line, and texts longer than the model's window read whole as overlapping
windows, scored by their most positive window.

Smoke test first (the first 200 rows, written locally):

    uv run predict.py --model ./on-the-books-jim-crow-modernbert \
        --dataset laws.csv --output flagged.csv --max-samples 200

On Hugging Face Jobs (an L4; pushes the labelled dataset and a dataset card):

    hf jobs uv run --flavor l4x1 --secrets HF_TOKEN --timeout 2h predict.py --model me/jim-crow-modernbert \
        --dataset me/nc-session-laws --output-dataset me/nc-session-laws-flagged

Locally, to a CSV or Parquet file:

    uv run predict.py --model ./out --dataset laws.csv --output flagged.csv

Rows are scored and written in shards of --shard-size rows. If a run stops (a job's timeout,
a crash), run the same command again with --resume: finished shards are kept (in --work-dir
and, when pushing, in the dataset repo) and only the rest is scored.

Millions of rows: start several jobs at once, each labelling one slice of the rows into the same dataset repo
(--num-shards 4 --shard-index 0, 1, 2, 3), then join them with the same command and --finalize in place of
--shard-index: it checks that every slice is there, scored with the same settings, and pushes the dataset card.

`--dataset` takes a Hub id or a local CSV / TSV / Parquet / JSON(L) file or `save_to_disk` folder;
`--model` takes a Hub id or a local model folder. Run with `--help` for every flag.
"""

import argparse
import codecs
import csv
import itertools
import json
import logging
import os
import re
import shlex
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from hashlib import sha256
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

# The training default; a model saved by the training scripts records its own in metrics.json.
TEXT_COLUMNS = ["chapter_text", "section_text"]
DEFAULT_THRESHOLD = 0.5  # used only when the model's training run recorded no tuned threshold
BATCH_SIZE = 32  # windows per forward pass
SHARD_SIZE = 10_000  # rows scored and written together: what is held in memory, and what --resume skips
# Rows per scoring call inside a shard: windows are sorted by length within it; the bar moves per chunk.
CHUNK_ROWS = 256
FALLBACK_MAX_LENGTH = 512  # only when neither the model nor its tokenizer states a limit
# A model folder without any of these has no tokenizer (transformers may still make an empty one from config.json).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model")

# Fixed by the output format and the card.
OUTPUT_SUFFIXES = (".csv", ".parquet")
ADDED_COLUMNS = ["predicted_label", "score", "threshold"]
ON_THE_BOOKS_ID = "biglam/on_the_books"
RUN_KEY = b"predict_run"  # parquet metadata: the settings a shard was scored with (checked by --resume)
STATS_KEY = b"predict_stats"  # parquet metadata: per-shard counts for the card
# The work dir holds only this script's files: its marker, its shards (and their temporary names), its dataset card,
# and the folder a --resume downloads shards into.
MARKER = ".predict-run.json"
WRITING: list[Path] = []  # the work dir this run writes: where a Ctrl-C looks for what is kept
CARD_FILE = "dataset_card.md"  # uploaded as the repo's README.md; never README.md here, which may be someone's
OWN_FILE = re.compile(
    r"\.predict-run\.json|(slice-\d+-of-\d+-)?shard-\d+\.parquet(\.tmp)?|slice-\d+-of-\d+\.json|dataset_card\.md"
    r"|\.predict-download-.+|review_queue\.csv(\.tmp)?|slice-\d+-of-\d+-review\.parquet"
)

logger = logging.getLogger("predict")


class UserError(Exception):
    """A problem with the input that the user can fix: printed without a traceback, exit code 2."""


def main(argv=None) -> int:
    args = parse_args(argv)
    from huggingface_hub import get_token  # after --help, which answers at once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    clock = Clock()
    env = describe_run(argv)
    token = get_token()  # HF_TOKEN, or the token `hf auth login` stored; never logged or written
    if args.finalize:  # the slice jobs have finished: check them, then push the card with the totals
        return finalize(args, token, env)

    # 1. Everything that can fail does so now, before the model is loaded or a row is scored.
    target = check_inputs(args, token)
    with clock("data_load"):
        data = load_data(args, token, target.part)

    # 2. The model's settings (config and tokenizer are small), its weights, then the shards left to score: a model
    # refused for its weights leaves no work dir, and deletes nothing an --overwrite would.
    with clock("model_load"):
        plan = load_settings(args, token, data)
        scorer = load_scorer(args.model, token, args.batch_size)
        done = prepare_shards(args, target, plan)
    log_plan(args, data, plan, scorer)

    # 3. Score shard by shard: only one shard's texts and results are in memory at a time.
    scored_rows = score_shards(data, plan, scorer, target, done, clock)

    # 4. Count the labels from the shards, then write the output file, push the card, or push a slice's record.
    paths = [target.shard(n) for n, _, _ in plan.shards]
    summary = summarize(paths, plan, scored_rows, clock)
    record = slice_record(target, data, plan, scorer, summary, env)
    if args.review:  # the rows to label next: chosen here, or over every slice at --finalize
        record["review"] = queue_review(args, token, data, plan, scorer, target, paths, clock)
    if args.output:
        with clock("writing"):
            concatenate_shards(paths, Path(args.output).expanduser())
    elif target.part.count == 1:
        push_card(card_facts(args, target.repo_id, record), target, clock)
    else:
        push_record(record, target, clock)  # --finalize writes the card when every slice is in
    clean_work_dir(paths, target)
    log_results(target, data, plan, scorer, summary, clock)
    return 0


# ---------------------------------------------------------------------------
# Flags
# ---------------------------------------------------------------------------
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),  # the docstring's first paragraph, on one line
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: HF_TOKEN (needed to push, and for private models or datasets; never printed or saved).",
    )
    add_data_flags(p.add_argument_group("data"))
    add_model_flags(p.add_argument_group("model"))
    add_output_flags(p.add_argument_group("output (give exactly one of --output and --output-dataset)"))
    add_slice_flags(p.add_argument_group("several jobs at once, each labelling a slice of the rows"))
    review = p.add_argument_group("review: the rows a person should label next")
    review.add_argument(
        "--review",
        type=int,
        default=None,
        help=f"also write {REVIEW_FILE} (beside --output, or into --output-dataset): N rows to label, mostly those the "
        "model is least sure of, plus a random sample of the collection, each with its evidence and an empty label "
        "column; then train again with --add-labels (default: off)",
    )
    review.add_argument(
        "--review-random",
        type=int,
        default=None,
        help="of the --review rows, how many are drawn at random from the collection: the reviewed ones give the "
        f"model's precision and recall there (default: {100 * REVIEW_RANDOM_SHARE:.0f}%% of --review, at least 1)",
    )
    return check_args(p, p.parse_args(argv))


def add_data_flags(group) -> None:
    group.add_argument(
        "--dataset",
        required=True,
        type=os.path.expanduser,  # a local path: ~ is the home folder, as in a shell (so in every path flag)
        help="Hub dataset id, or a local CSV/TSV/Parquet/JSON(L) file or save_to_disk folder; "
        "all splits are labelled, as one table (required; no default)",
    )
    group.add_argument(
        "--text-columns",
        default=None,
        help="comma-separated columns joined into the input text, as in training (default: the columns "
        f"the model was trained on, from its metrics.json; else {','.join(TEXT_COLUMNS)})",
    )
    group.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="label only the first this many rows, for smoke runs (default: all rows)",
    )


def add_model_flags(group) -> None:
    group.add_argument(
        "--model",
        required=True,
        type=os.path.expanduser,
        help="Hub model id or local model folder, e.g. one saved by train_modernbert.py (required; no default)",
    )
    group.add_argument(
        "--max-length",
        type=int,
        default=None,
        help="tokens per window; longer texts become overlapping windows "
        "(default: what the training run used, from metrics.json; else the model's limit)",
    )
    group.add_argument(
        "--stride",
        type=int,
        default=None,
        help="tokens shared by consecutive windows of a long text "
        "(default: what the training run used; else a quarter of --max-length)",
    )
    group.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        help=f"windows per forward pass; results do not depend on it (default: {BATCH_SIZE})",
    )
    group.add_argument(
        "--threshold",
        default=None,
        help="flag a row when its positive-label score is at least this: a number, or the name of a threshold the "
        "training run chose on validation (f1, recall_0.95, ...); two-label models only (default: the model's "
        f"decision_threshold from config.json or metrics.json; else {DEFAULT_THRESHOLD})",
    )


def add_output_flags(group) -> None:
    where = group.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--output", default=None, type=os.path.expanduser, help="local file to write: .csv or .parquet (default: none)"
    )
    where.add_argument(
        "--output-dataset",
        default=None,
        help="Hub dataset repo to push the labelled rows and a dataset card to, e.g. me/laws-flagged (default: none)",
    )
    group.add_argument(
        "--private",
        action="store_true",
        help="create the --output-dataset repo as private (default: private for a local --dataset, else public)",
    )
    group.add_argument(
        "--public",
        action="store_true",
        help="create the --output-dataset repo as public even when --dataset is a local file (default: off)",
    )
    group.add_argument(
        "--shard-size",
        type=int,
        default=SHARD_SIZE,
        help=f"rows scored and written per shard; bounds memory and is what --resume skips (default: {SHARD_SIZE})",
    )
    group.add_argument(
        "--work-dir",
        default=None,
        type=os.path.expanduser,
        help="where the shards are written while the run lasts: a folder of this script's own, refused when it holds "
        "other files unless --overwrite (default: <output>.shards beside --output, or ./<repo name>.shards; for a "
        "slice of several, <...>.slice-0000i-of-0000K.shards)",
    )
    group.add_argument(
        "--resume",
        action="store_true",
        help="keep the shards a stopped run with the same settings finished, and score only the rest "
        "(default: start fresh)",
    )
    group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --output file, the shards in --work-dir, or the data files in --output-dataset "
        "(a slice job: only its own), and use a --work-dir that holds other files (left as they are) (default: refuse)",
    )


def add_slice_flags(group) -> None:
    group.add_argument(
        "--num-shards",
        type=int,
        default=1,
        help="K: cut the N rows into K slices, one per job, all pushed to the same --output-dataset; the job with "
        "--shard-index i labels rows i*N//K to (i+1)*N//K - 1, whatever its --shard-size. Then join them with "
        "--finalize (default: 1, one job labels every row)",
    )
    group.add_argument(
        "--shard-index",
        type=int,
        default=None,
        help="the slice this job labels, from 0 to --num-shards minus 1 (default: 0)",
    )
    group.add_argument(
        "--finalize",
        action="store_true",
        help="when the --num-shards slice jobs have finished: check that every slice is in --output-dataset, scored "
        "with the settings these flags give, then push the dataset card with the totals; scores nothing. Give the "
        "slice jobs' flags, without --shard-index (default: off)",
    )


def check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """Turn --text-columns into a list, and refuse values that cannot work or that contradict each other."""
    if args.text_columns is not None:
        args.text_columns = [c for c in args.text_columns.split(",") if c.strip()]  # as typed: see match_columns
        if not args.text_columns:
            p.error("--text-columns names no column")
    if args.resume and args.overwrite:
        p.error("--resume keeps earlier shards and --overwrite deletes them: give one of them")
    if args.private and args.public:
        p.error("--private and --public contradict each other: give one of them")
    for flag in ("private", "public"):
        if getattr(args, flag) and not args.output_dataset:
            p.error(f"--{flag} applies only to --output-dataset")
    if args.threshold is not None and not re.fullmatch(r"[a-z][a-z0-9_.]*", args.threshold):
        try:
            args.threshold = float(args.threshold)
        except ValueError:
            p.error(f"--threshold {args.threshold}: give a number between 0 and 1, or a name such as recall_0.95")
        if not 0 <= args.threshold <= 1:
            p.error(f"--threshold {args.threshold} must be between 0 and 1 (it is compared with a probability)")
    for flag in ("shard_size", "batch_size", "max_samples", "max_length", "num_shards"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.stride is not None and args.stride < 0:
        p.error("--stride must be 0 or more")
    if args.review_random is not None and not (args.review and 0 <= args.review_random <= args.review):
        p.error("--review-random is a part of --review: give --review N and at most N random rows")
    if args.review is not None and args.review < 1:
        p.error("--review must be at least 1")
    if args.review and args.num_shards > 1 and not args.output_dataset:
        p.error("--review with --num-shards needs --output-dataset: --finalize chooses the queue from the slices' repo")
    return check_slice_args(p, args)


def check_slice_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """A slice that exists; --finalize only where it can join slices, without the flags of a scoring run."""
    if args.finalize:
        if not args.output_dataset:
            p.error("--finalize applies only to --output-dataset: it joins the slices that the jobs pushed there")
        if args.num_shards == 1:
            p.error("--finalize joins the slices of several jobs: give the --num-shards they were started with")
        if args.shard_index is not None:
            p.error("--finalize joins every slice: drop --shard-index")
        for flag in ("resume", "overwrite"):
            if getattr(args, flag):
                p.error(f"--finalize scores nothing and replaces only the dataset card: drop --{flag}")
    index, count = args.shard_index or 0, args.num_shards
    if not 0 <= index < count:
        hint = f"give 0 to {count - 1}" if count > 1 else "give --num-shards, the number of jobs"
        p.error(f"--shard-index {index} is not a slice of --num-shards {count}: {hint} (slices are numbered from 0)")
    args.shard_index = index
    return args


# ---------------------------------------------------------------------------
# The run: its clock, its libraries and command
# ---------------------------------------------------------------------------
@dataclass
class Clock:
    """When the run started, and seconds per phase: `with clock("scoring"): ...` adds to that phase."""

    started: float = field(default_factory=time.time)
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, phase: str):
        tick = time.time()
        yield
        self.phases[phase] = self.phases.get(phase, 0.0) + time.time() - tick


def describe_run(argv) -> dict:
    """The library versions (logged now) and the command that reproduces the run, for the dataset card."""
    packages = ("transformers", "torch", "datasets", "pyarrow", "huggingface_hub")
    versions = {name: version(name) for name in packages}
    logger.info("Versions: %s", ", ".join(f"{k} {v}" for k, v in versions.items()))
    words = named_not_located(
        sys.argv[1:] if argv is None else argv, ("--dataset", "--model", "--output", "--work-dir")
    )
    command = " ".join(shlex.quote(w) for w in [Path(sys.argv[0]).name, *words])
    return {"versions": versions, "command": f"uv run {command}"}


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


# ---------------------------------------------------------------------------
# Step 1a: checks of the output, before anything is loaded
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Slice:
    """The part of the table one job labels (--num-shards, --shard-index): slice `index` of `count` is rows
    index*N//count to (index+1)*N//count of the N rows, whatever the --shard-size. Its files carry its number, so that
    slice jobs never touch each other's files; the one slice of a single run keeps the names that runs had before
    slices (shard-00000.parquet), so that their repos still resume."""

    index: int = 0
    count: int = 1

    def __str__(self) -> str:
        return f"slice {self.index} of {self.count}"

    @property
    def tag(self) -> str:
        return f"slice-{self.index:05d}-of-{self.count:05d}"

    @property
    def prefix(self) -> str:
        """What the names of this slice's shard files start with."""
        return "" if self.count == 1 else self.tag + "-"

    @property
    def record(self) -> str:
        """Where a slice of several puts its record in the dataset repo, once its last shard is there."""
        return f"slices/{self.tag}.json"

    @property
    def review(self) -> str:
        """Where a slice of several puts its candidates for the --review queue, for --finalize to choose from."""
        return f"slices/{self.tag}.review.parquet"

    def rows(self, num_rows: int) -> range:
        return range(self.index * num_rows // self.count, (self.index + 1) * num_rows // self.count)

    def shard_name(self, number: int) -> str:
        return f"{self.prefix}shard-{number:05d}.parquet"

    def owns(self, repo_file: str) -> bool:
        """Whether a file of the dataset repo is this slice's: its data files and its record (one slice of one: every
        data file, as before slices)."""
        if self.count == 1:
            return repo_file.startswith("data/") or repo_file == REVIEW_FILE
        return repo_file.startswith(f"data/{self.prefix}") or repo_file in (self.record, self.review)


@dataclass
class Target:
    """Where the labelled rows go: shard files in work_dir, then the --output file or the Hub dataset repo."""

    work_dir: Path
    output: str | None  # --output, when writing a local file
    api: Any = None  # the Hub client, when pushing
    repo_id: str | None = None
    remote: set[str] = field(default_factory=set)  # this slice's files in the repo: the shards pushed so far
    part: Slice = Slice()  # the rows this job labels: all of them, or one slice (--num-shards)

    @property
    def where(self) -> Path | str:
        """The output, for the last line of the log."""
        return Path(self.output) if self.output else f"https://huggingface.co/datasets/{self.repo_id}"

    def shard(self, number: int) -> Path:
        return self.work_dir / self.part.shard_name(number)


def check_inputs(args, token: str | None) -> Target:
    """A usable --output file and work dir; for --output-dataset, a repo that the token can write."""
    part = Slice(args.shard_index, args.num_shards)
    work_dir = default_work_dir(args, part)
    check_output(args)
    check_work_dir(args, work_dir, part)
    if args.output and args.resume and Path(args.output).expanduser().exists() and not work_dir.is_dir():
        raise UserError(
            f"--resume: {args.output} is finished (no unfinished run is left in {work_dir}): there is "
            "nothing to resume, and labelling it again would replace the file. Use --overwrite for that."
        )
    if not args.output_dataset:
        return Target(work_dir, args.output, part=part)
    api, repo_id, remote = preflight_push(args, token, part)
    return Target(work_dir, args.output, api, repo_id, remote, part)


def default_work_dir(args, part: Slice) -> Path:
    """--work-dir, else one beside the output for each slice."""
    suffix = ".shards" if part.count == 1 else f".{part.tag}.shards"
    if args.work_dir:
        return Path(args.work_dir).expanduser()
    if args.output:
        output = Path(args.output).expanduser()
        return output.with_name(output.name + suffix)
    return Path(args.output_dataset.split("/")[-1] + suffix)


def check_output(args) -> None:
    """A usable --output: its suffix, not the --dataset file, not silently overwritten."""
    if args.output:
        output, dataset = Path(args.output).expanduser(), Path(args.dataset).expanduser()
        if output.exists() and dataset.exists() and os.path.samefile(output, dataset):
            raise UserError(
                f"--output {args.output} is the --dataset file itself: writing it would replace the rows being "
                "labelled. Choose another name for --output."
            )
        if output.suffix.lower() not in OUTPUT_SUFFIXES:
            raise UserError(
                f"--output {args.output}: cannot write files ending in {output.suffix or '(no suffix)'!r}. "
                f"Use a name ending in {' or '.join(OUTPUT_SUFFIXES)}, or push with --output-dataset."
            )
        if output.is_dir():
            raise UserError(
                f"--output {args.output} is a folder. Give a file name ending in {' or '.join(OUTPUT_SUFFIXES)}."
            )
        if output.exists() and not (args.resume or args.overwrite):
            raise UserError(
                f"--output {args.output} already exists. Add --overwrite to replace it, "
                "--resume to finish the run that wrote it, or choose another name."
            )
        review = output.parent / REVIEW_FILE
        if args.review and review.exists() and not args.overwrite:
            raise UserError(
                f"--review: {review} already exists (labels you filled in, perhaps). Move or rename it, write "
                "--output into another folder, or add --overwrite to replace it."
            )


def check_work_dir(args, work_dir: Path, part: Slice) -> None:
    """A work dir this run can make its own: a folder it can write, holding only this script's files (--overwrite:
    other files too, left as they are) and no other run's shards unless --resume or --overwrite says what to do."""
    if work_dir.exists() and not work_dir.is_dir():
        raise UserError(f"--work-dir {work_dir} is a file, not a folder; give a folder (it is created if needed).")
    here = next(p for p in (work_dir.absolute(), *work_dir.absolute().parents) if p.exists())
    if not here.is_dir():
        raise UserError(f"--work-dir {work_dir} cannot be created because {here} is a file, not a folder.")
    if not os.access(here, os.W_OK | os.X_OK):
        raise UserError(f"--work-dir {work_dir} cannot be written: {here} does not let this user write to it.")
    if here != work_dir.absolute():
        return  # created when the run starts
    lock_folder(work_dir, output_flag(args))  # before reading it: another run may be writing there
    foreign = sorted(p.name for p in work_dir.iterdir() if not OWN_FILE.fullmatch(p.name))
    if foreign and not args.overwrite:
        raise UserError(
            f"--work-dir {work_dir} holds files this script did not write ({name_some(foreign)}). Give a new or "
            "empty folder, or add --overwrite to use this one: its other files are never deleted or uploaded."
        )
    if foreign:
        what = "--overwrite: --work-dir %s holds files this script did not write (%s); they are left as they are"
        logger.warning(what, work_dir, name_some(foreign))
    shards = sorted(work_dir.glob(f"{part.prefix}shard-*.parquet"))  # this slice's: other slices' are theirs
    if shards and not (args.resume or args.overwrite):
        raise UserError(
            f"--work-dir {work_dir} holds {len(shards)} shard(s) from an earlier run. Add --resume to keep "
            "them and score only the rest, or --overwrite to start again."
        )


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


def name_some(names: list[str], most: int = 5, sep: str = ", ") -> str:
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return sep.join(names[:most]) + more


def output_flag(args) -> str:
    """The flag that named the work dir: the one to change for a run of its own."""
    return "--work-dir" if args.work_dir else "--output" if args.output else "--output-dataset"


def claim_work_dir(work_dir: Path, settings: dict, what: str) -> None:
    """Make the work dir, hold it, and write the marker that says it is this script's: the run has started."""
    started = {"written_by": "predict.py", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "pid": os.getpid()}
    marker = {**started, "settings": settings}
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        lock_folder(work_dir, what)
        WRITING.append(work_dir)
        (work_dir / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except OSError as err:
        raise UserError(f"--work-dir {work_dir} cannot be written ({err.strerror or type(err).__name__}).") from err


def preflight_push(args, token: str | None, part: Slice):
    """Before anything expensive: a token that the Hub accepts, a dataset repo we can create or write,
    and no earlier run's data (of this slice) in it unless --resume or --overwrite says what to do with them.
    Returns (api, repo_id, this slice's files already in the repo)."""
    api, user, repo_id = hub_login(args, token)
    private = wants_private(args)
    try:
        public = private and repo_is_public(api, repo_id)
        if not public:
            api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
            files = api.list_repo_files(repo_id, repo_type="dataset")
    except Exception as err:
        raise UserError(
            hub_unreachable(err, f"create or write the dataset repo {repo_id}")
            or f"Cannot create or write the dataset repo {repo_id} as {user} ({type(err).__name__}). Check that "
            "the token has write access to that namespace, or choose another --output-dataset."
        ) from err
    if public:
        why = "--private" if args.private else "--dataset is a local file"
        raise UserError(
            f"The dataset repo {repo_id} already exists and is public, and this run would make it private ({why}); "
            f"the Hub keeps an existing repo as it is. Make it private on its settings page "
            f"(https://huggingface.co/datasets/{repo_id}/settings), add --public to publish the labels there, "
            "or choose another --output-dataset."
        )
    existing = {f for f in files if part.owns(f)}
    if existing and not (args.resume or args.overwrite):
        what = "data file(s)" if part.count == 1 else f"file(s) of {part}"
        raise UserError(
            f"The dataset repo {repo_id} already holds {len(existing)} {what}. Add --resume to continue "
            "the run that wrote them, or --overwrite to replace them, or choose another --output-dataset."
        )
    strays = not_of_slices(files, part.count) if part.count > 1 else []
    if strays:
        what = "The dataset repo %s holds %d data file(s) of no slice of --num-shards %d (%s): --finalize will refuse"
        logger.warning(what + " until they are deleted", repo_id, len(strays), part.count, name_some(strays))
    logger.info(
        "Push check passed: %s can write to the dataset repo %s%s", user, repo_id, " (private)" if private else ""
    )
    return api, repo_id, existing


def hub_login(args, token: str | None):
    """A token that the Hub accepts. Returns (api, user name, the --output-dataset repo id)."""
    if not token:
        raise UserError(
            "Pushing to the Hub needs a token with write access and none was found. Set HF_TOKEN "
            "(on hf jobs: --secrets HF_TOKEN; locally: hf auth login), or write a local file with --output."
        )
    api = hub_api(token)
    try:
        user = api.whoami()["name"]
    except Exception as err:
        raise UserError(
            hub_unreachable(err, "check HF_TOKEN")
            or f"The Hub did not accept HF_TOKEN ({type(err).__name__}). Make a write token at "
            "https://huggingface.co/settings/tokens, or write a local file with --output."
        ) from err
    repo_id = args.output_dataset if "/" in args.output_dataset else f"{user}/{args.output_dataset}"
    return api, user, repo_id


def not_of_slices(files, count: int) -> list[str]:
    """The data files in the repo that no slice of --num-shards `count` writes: left by a run with another
    --num-shards, or none. The dataset would hold their rows too."""
    of_slices = re.compile(rf"data/slice-(\d{{5}})-of-{count:05d}-shard-\d{{5}}\.parquet")
    return sorted(
        f for f in files if f.startswith("data/") and not ((m := of_slices.fullmatch(f)) and int(m[1]) < count)
    )


def wants_private(args) -> bool:
    """--private; else private for a local --dataset (unless --public), public for a Hub dataset."""
    if args.private or args.public or not looks_like_local_path(args.dataset):
        return args.private
    logger.info(
        "The dataset repo will be private: a dataset made from a local file may hold rows never meant to be "
        "public. Add --public to publish it."
    )
    return True


def repo_is_public(api, repo_id: str) -> bool:
    """Whether the dataset repo exists and is public (a missing repo is not)."""
    try:
        return not api.repo_info(repo_id, repo_type="dataset").private
    except Exception as err:
        if is_missing_repo(err):
            return False
        raise


def hub_unreachable(err: Exception, what: str) -> str | None:
    """The error in words when the Hub was never asked (offline mode), never answered (the network) or answered that
    it is busy or failing (429, 5xx); None when it refused."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(err, OfflineModeIsEnabled):
        return (
            f"Cannot {what}: offline mode is on (HF_HUB_OFFLINE=1). Unset HF_HUB_OFFLINE to push, or write a local "
            "file with --output."
        )
    if isinstance(err, (ConnectionError, TimeoutError)) or http_status(err) is None:
        return (
            f"Cannot {what}: could not reach the Hub ({type(err).__name__}: {first_line(err)}). Check the network "
            "and run again, or write a local file with --output."
        )
    if is_transient(err):  # an answer, but a rate limit or a server error: not the token's fault
        return (
            f"Cannot {what}: the Hub answered {http_status(err)} ({type(err).__name__}: {first_line(err)}), busy or "
            "failing. Wait a few minutes and run again, or write a local file with --output."
        )
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


def hub_api(token: str):
    """The one place the Hub client is made (tests replace it with a fake)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


RESUME_ADVICE = "The finished shards are kept: rerun the same command with --resume."


def with_retries(what: str, step, attempts: int = 3, wait_s: float = 10.0, advice: str = RESUME_ADVICE):
    """Run an upload, retrying errors that look transient (network, 429, 5xx; 409 and 412, which the Hub answers when
    another job commits to the same repo at the same moment)."""
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except Exception as err:
            if attempt < attempts and (is_transient(err) or http_status(err) in (409, 412)):
                wait = wait_s * attempt
                text = "%s failed (%s); retry %d of %d in %.0f s"
                logger.warning(text, what, type(err).__name__, attempt, attempts - 1, wait)
                time.sleep(wait)
                continue
            raise UserError(f"{what} failed ({type(err).__name__}: {first_line(err)}). {advice}") from err


# ---------------------------------------------------------------------------
# Step 1b: the data, and the checks that need it
# ---------------------------------------------------------------------------
@dataclass
class Data:
    """The rows to label, and how to read them."""

    table: Any  # every column of --dataset, all splits pooled into one table
    text_columns: list[str]  # joined with a blank line into the text the model reads
    num_rows: int  # the rows labelled: all, or the first --max-samples
    record: dict  # the model's training record (its metrics.json), or {}
    rows: range  # the rows this job labels: all num_rows, or its slice of them (--num-shards)


def load_data(args, token: str | None, part: Slice) -> Data:
    table = load_table(args.dataset, token)
    record = training_record(args.model, token)
    text_columns = match_columns(table, chosen_text_columns(args, record))
    check_columns(table, {"--text-columns": text_columns})
    check_added_columns(table, csv_output=bool(args.output) and Path(args.output).suffix.lower() == ".csv")
    added = [review_label(record), *REVIEW_COLUMNS]
    if args.review and (clash := [c for c in table.column_names if c in added or c.startswith("_review_")]):
        raise UserError(
            f"--review: --dataset already has column(s) {clash}, which {REVIEW_FILE} adds or uses ({added[0]} is the "
            "label to fill in). Remove or rename them first, so that no original column is lost."
        )
    num_rows = min(len(table), args.max_samples or len(table))
    if not num_rows:
        raise UserError(f"--dataset {args.dataset} has no rows: nothing to label.")
    if args.max_samples:
        logger.info("--max-samples %d: labelling the first %d of %d rows", args.max_samples, num_rows, len(table))
    if part.count > num_rows:
        raise UserError(
            f"--num-shards {part.count} is more than the {num_rows} rows to label: give at most {num_rows}, so that "
            "every job has rows to label."
        )
    rows = part.rows(num_rows)
    if part.count > 1:
        what = "%s: labelling rows %d to %d (%d of %d rows)"
        logger.info(what, str(part).capitalize(), rows.start, rows.stop - 1, len(rows), num_rows)
    return Data(table, text_columns, num_rows, record, rows)


def chosen_text_columns(args, record: dict) -> list[str]:
    """--text-columns, else the columns the model was trained on (its training record), else the default."""
    return args.text_columns or record.get("text_columns") or TEXT_COLUMNS


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


def model_file(model_name: str, name: str, token: str | None) -> Path | None:
    """A file the training scripts save beside the model: in its local folder (None when it has none), else downloaded
    from its Hub repo (which raises when it cannot)."""
    path = Path(model_name).expanduser()
    if path.is_dir():
        return path / name if (path / name).is_file() else None
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(model_name, name, token=token))


def training_record(model_name: str, token: str | None) -> dict:
    """The metrics.json that the training scripts save beside the model (local folder or Hub repo), or {}."""
    try:
        if (found := model_file(model_name, "metrics.json", token)) is None:
            return {}  # a local model of another origin: quietly the defaults
        record = json.loads(found.read_text(encoding="utf-8"))
        return record if isinstance(record, dict) else {}
    except Exception as err:  # not trained by these scripts, offline, or unreadable: the defaults apply
        what = "No training record (metrics.json) for %s (%s); using the model's own settings"
        logger.info(what, model_name, type(err).__name__)
        return {}


def check_added_columns(table, csv_output: bool) -> None:
    """The columns this script adds must be new, and a CSV can hold only flat columns."""
    import pyarrow as pa

    clash = [c for c in ADDED_COLUMNS if c in table.column_names]
    if clash:
        raise UserError(
            f"--dataset already has column(s) {clash}, which this script adds. Remove or rename them first "
            f"(e.g. dataset.rename_column('score', 'old_score')), so that no original column is lost."
        )
    if csv_output:
        schema = table.features.arrow_schema
        nested = [f.name for f in schema if pa.types.is_nested(f.type) or pa.types.is_binary(f.type)]
        if nested:
            raise UserError(
                f"--output: the column(s) {nested} hold lists, structs or bytes, which a CSV cannot store. "
                "Write a .parquet file instead."
            )


# ---------------------------------------------------------------------------
# Step 2a: the model's settings (the training run's, the threshold) and the shards
# ---------------------------------------------------------------------------
@dataclass
class Plan:
    """How the rows are read and labelled, and in which shards."""

    tokenizer: Any
    names: list[str]  # label names by class id
    positive: int | None  # with two labels, the id of the one flagged (its probability is the score); else None
    positive_source: str  # why that one, in words (for the log and the card)
    max_length: int  # tokens per window
    stride: int  # tokens shared by consecutive windows of a long text
    threshold: float | None  # None: more than two labels, so each row gets its most probable one
    threshold_source: str  # where the threshold came from, in words (for the log and the card)
    shards: list[tuple[int, int, int]]  # (shard number, first row, end row)
    settings: dict  # what a shard's labels depend on: --resume refuses shards scored with other values


def load_settings(args, token: str | None, data: Data) -> Plan:
    """The model's settings, and this job's rows in shards of --shard-size."""
    plan = model_settings(args, token, data.record, data.text_columns)
    plan.settings.update(rows=data.num_rows, shard_size=args.shard_size)
    plan.shards = plan_shards(data.rows, args.shard_size)
    return plan


def model_settings(args, token: str | None, record: dict, text_columns: list[str]) -> Plan:
    """The labels, windows and threshold: from the flags, else the training run, else the model's config. Loads the
    config and the tokenizer only (--finalize checks the slices with them); no shards yet."""
    config = load_config(args.model, token)
    saved_as = config.architectures or []  # the class save_pretrained saved; none in a config written by hand
    if saved_as and not any(name.endswith("ForSequenceClassification") for name in saved_as):
        raise UserError(untrained_head(args.model, f"its config.json says it is a {saved_as[0]}"))
    tokenizer = load_tokenizer(args.model, token)
    max_length, stride, length_source = window_settings(args.max_length, args.stride, config, tokenizer, record)
    threshold, threshold_source = resolve_threshold(args.threshold, config, record)
    names = [config.id2label[i] for i in range(config.num_labels)]
    positive, positive_source = resolve_positive(args.model, config, names)
    shown = "none" if threshold is None else f"{threshold:.4f}"
    what = "Labels %s; threshold %s (%s); windows of %d tokens (%s), stride %d; text columns %s"
    logger.info(what, names, shown, threshold_source, max_length, length_source, stride, text_columns)
    dataset, model = Path(args.dataset), Path(args.model)
    config_file = model / "config.json"  # of a local model: two of one folder name differ there (their thresholds)
    settings = {  # a local file or folder by its name only: they go into the Parquet metadata that is pushed
        "model": model.resolve().name if model.exists() else args.model,
        "model_config_sha256": sha256(config_file.read_bytes()).hexdigest() if config_file.is_file() else None,
        "dataset": dataset.resolve().name if looks_like_local_path(args.dataset) else args.dataset,
        "dataset_bytes": dataset.stat().st_size if dataset.is_file() else None,  # two files of one name differ here
        "text_columns": text_columns,
        "labels": names,
        "positive_label": None if positive is None else names[positive],
        "max_length": max_length,
        "stride": stride,
        "aggregation": WINDOW_AGGREGATION,
        "threshold": threshold,
    }
    return Plan(
        tokenizer, names, positive, positive_source, max_length, stride, threshold, threshold_source, [], settings
    )


def resolve_positive(model_name: str, config, names: list[str]) -> tuple[int | None, str]:
    """Of two labels, the one whose probability is the score and that is flagged: config.json's `positive_label`
    (the training scripts save it), else the second label (id 1). None for more than two labels."""
    if len(names) != 2:
        return None, "none: more than two labels"
    named = getattr(config, "positive_label", None)
    if named is None:
        positive, source = 1, "the model's second label: its config names none"
    elif named in names:
        positive, source = names.index(named), "named in the model's config.json"
    else:
        raise UserError(
            f"--model {model_name}: its config.json names the positive label {named!r}, which is not one of its "
            f"labels {names}. Set positive_label in config.json to one of them."
        )
    logger.info("Positive label: %s (%s)", names[positive], source)
    return positive, source


def load_config(model_name: str, token: str | None):
    """Only the config (kilobytes), to fail fast on an unknown model."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(model_name, token=token)
    except Exception as err:
        where = (
            "the local folder has no config.json"
            if Path(model_name).expanduser().is_dir()
            else "not found locally or on the Hub"
        )
        hint = "" if token else " If it is private, set HF_TOKEN (hf jobs: --secrets HF_TOKEN)."
        raise UserError(
            f"--model {model_name}: {where} ({type(err).__name__}). Give a Hub model id or a folder "
            f"saved by the training script (config.json, model weights, tokenizer files).{hint}"
        ) from err


def load_tokenizer(model_name: str, token: str | None):
    from transformers import AutoTokenizer

    folder = Path(model_name).expanduser()
    if folder.is_dir() and not any((folder / f).is_file() for f in TOKENIZER_FILES):
        raise UserError(
            f"--model {model_name}: the folder has no tokenizer files ({', '.join(TOKENIZER_FILES)}); save the "
            "tokenizer beside the model, with tokenizer.save_pretrained(folder), and run again."
        )
    tokenizer = AutoTokenizer.from_pretrained(model_name, token=token)
    if not tokenizer.is_fast:
        raise UserError(f"--model {model_name}: its tokenizer has no fast (Rust) version, which windowing needs.")
    return tokenizer


def window_settings(
    max_length: int | None, stride: int | None, config, tokenizer, record: dict
) -> tuple[int, int, str]:
    """--max-length and --stride, else what the training run used, else the model's limit and a quarter of it."""
    trained = record.get("hyperparameters") or {}
    limit = model_limit(config, tokenizer)
    if max_length is not None:
        source = "--max-length"
    elif trained.get("max_length"):
        max_length, source = int(trained["max_length"]), "what the training run used"
    else:
        max_length, source = limit, "the model's limit"
    if max_length > limit:
        what = "--max-length %d is more than the model reads (%d tokens); using %d. Longer texts become windows."
        logger.warning(what, max_length, limit, limit)
        max_length = limit
    if stride is None:
        recorded = trained.get("stride")
        stride = int(recorded) if recorded is not None and int(recorded) < max_length // 2 else max_length // 4
    if stride >= max_length // 2:
        raise UserError(f"--stride {stride} must be below half of the window length {max_length} ({source}).")
    return max_length, stride, source


def model_limit(config, tokenizer) -> int:
    """The most tokens one window may hold: the position embeddings, and the tokenizer's stated limit."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if positions:
        limits.append(positions)  # RoBERTa-like models read 2 fewer: their tokenizer's model_max_length says so
    if tokenizer.model_max_length and tokenizer.model_max_length < 1_000_000:  # unset limits are huge numbers
        limits.append(int(tokenizer.model_max_length))
    return min(limits) if limits else FALLBACK_MAX_LENGTH


def resolve_threshold(requested: float | str | None, config, record: dict) -> tuple[float | None, str]:
    """The cut-off on the positive-label score: --threshold (a number, or the name of one of the thresholds the
    training run chose on validation: config.json `decision_thresholds`), else the model's `decision_threshold`
    (config.json, or metrics.json), else 0.5. Models with more than two labels take the most probable label and use
    no threshold."""
    tuned = "tuned on validation when the model was trained, read from its"
    named = getattr(config, "decision_thresholds", None) or {}
    if config.num_labels != 2:
        if requested is not None:
            what = "--threshold %s ignored: the model has %d labels, so each row gets its most probable one."
            logger.warning(what, requested, config.num_labels)
        return None, f"none: the model has {config.num_labels} labels, so each row gets its most probable label"
    if isinstance(requested, str):
        if requested not in named:
            raise UserError(
                f"--threshold {requested}: the model's config.json names no such threshold. It names: "
                f"{', '.join(named) or 'none'}. Give one of them, or a number between 0 and 1."
            )
        return float(named[requested]), f"`{requested}`, {describe_threshold(requested)}, read from its config.json"
    if requested is not None:
        return float(requested), "set with --threshold"
    if getattr(config, "decision_threshold", None) is not None:
        name = getattr(config, "decision_threshold_name", None)  # older models: the first name of the same value
        name = name or next((n for n, v in named.items() if v == config.decision_threshold), None)
        if name is None:
            return float(config.decision_threshold), f"{tuned} config.json"
        return float(
            config.decision_threshold
        ), f"`{name}`, {describe_threshold(name)}, the model's default (config.json)"
    recorded = (record.get("threshold") or {}).get("value")
    if recorded is not None:
        return float(recorded), f"{tuned} metrics.json"
    return DEFAULT_THRESHOLD, f"the default {DEFAULT_THRESHOLD}: the model records no tuned threshold"


def describe_threshold(name: str) -> str:
    """What a named threshold of the training scripts means."""
    if name.startswith("recall_"):
        return f"the highest threshold that still found {float(name[7:]):.0%} of the positive rows on validation"
    return "the threshold that maximised F1 on validation"


def plan_shards(rows: range, shard_size: int) -> list[tuple[int, int, int]]:
    """(shard number, first row, end row) for consecutive runs of this job's rows."""
    starts = range(rows.start, rows.stop, shard_size)
    return [(n, start, min(start + shard_size, rows.stop)) for n, start in enumerate(starts)]


# ---------------------------------------------------------------------------
# Step 2b: the shards of an earlier run: deleted (--overwrite) or kept (--resume)
# ---------------------------------------------------------------------------
def prepare_shards(args, target: Target, plan: Plan) -> set[int]:
    """Claim the work dir (its marker). --overwrite deletes the earlier run's files (of this slice) in the repo (its
    shards here are scored again and replaced); --resume keeps (and fetches) those scored with the same settings.
    Returns the numbers of the shards already finished."""
    claim_work_dir(target.work_dir, plan.settings, output_flag(args))
    if args.overwrite:  # this slice's shards of the earlier run, those this plan would not write again included
        for old in target.work_dir.glob(f"{target.part.prefix}shard-*.parquet"):
            old.unlink()
    if args.overwrite and target.remote:
        delete_remote(target)
    if not args.resume:
        return set()
    ours = {f"data/{target.part.shard_name(n)}" for n, _, _ in plan.shards} | {target.part.record}
    stray = target.remote - ours
    if stray:
        raise UserError(
            f"--resume: {target.repo_id} holds data files this run would not write (e.g. {sorted(stray)[0]}), "
            "so they come from a run with other settings. Start again with --overwrite."
        )
    if target.remote:
        fetch_remote_shards(target, plan.shards)
    done = finished_shards(target, plan.shards, plan.settings)
    logger.info("--resume: %d of %d shards already finished in %s", len(done), len(plan.shards), target.work_dir)
    return done


def delete_remote(target: Target) -> None:
    """--overwrite: delete the earlier run's files from the repo in one commit. One job: the data folder. A slice of
    several: its own data files and record only; the other slices' files stay."""
    part, where = target.part, dict(repo_id=target.repo_id, repo_type="dataset")
    what = "--overwrite: deleting %d data file(s) of the earlier run from %s"
    if part.count > 1:
        what = f"--overwrite: deleting %d file(s) of the earlier run of {part} from %s"
    logger.info(what, len(target.remote), target.repo_id)
    if part.count == 1:
        step = partial(target.api.delete_folder, "data", commit_message="Delete the earlier run's labels", **where)
    else:
        from huggingface_hub import CommitOperationDelete

        deletions = [CommitOperationDelete(path_in_repo=name) for name in sorted(target.remote)]
        message = f"Delete the earlier labels of {part}"
        step = partial(target.api.create_commit, operations=deletions, commit_message=message, **where)
    with_retries("Deleting the old data files", step)
    if (
        part.count == 1 and REVIEW_FILE in target.remote
    ):  # an earlier --review's queue: this run writes its own, or none
        with_retries(f"Deleting {REVIEW_FILE}", partial(target.api.delete_file, REVIEW_FILE, **where))
    target.remote = set()


def fetch_remote_shards(target: Target, shards: list) -> None:
    """--resume on a fresh machine (a new hf job): bring back the shards the stopped run pushed."""
    with tempfile.TemporaryDirectory(prefix=".predict-download-", dir=target.work_dir) as download_dir:
        for number, _, _ in shards:
            path = target.shard(number)
            name = f"data/{path.name}"
            if name in target.remote and not path.exists():
                downloaded = with_retries(
                    f"Downloading {name}",
                    lambda name=name: target.api.hf_hub_download(
                        repo_id=target.repo_id, filename=name, repo_type="dataset", local_dir=download_dir
                    ),
                )
                os.replace(downloaded, path)


def finished_shards(target: Target, shards: list, settings: dict) -> set[int]:
    """The shards already in work_dir (--resume). A shard scored with other settings (another model,
    threshold, shard size, ...) stops the run instead of mixing two runs' labels in one output."""
    import pyarrow.parquet as pq

    wanted = json.loads(json.dumps(settings))
    done = set()
    for number, start, stop in shards:
        path = target.shard(number)
        if not path.exists():
            continue
        meta = pq.read_metadata(path)
        recorded = json.loads((meta.metadata or {}).get(RUN_KEY, b"{}"))
        differ = {k: (recorded.get(k), v) for k, v in wanted.items() if recorded.get(k) != v}
        if differ or meta.num_rows != stop - start:
            changes = "; ".join(f"{k}: {old!r} then, {new!r} now" for k, (old, new) in differ.items())
            raise UserError(
                f"--resume: {path} was written with other settings ({changes or 'row count differs'}). "
                "Rerun with the first run's settings, or start again with --overwrite."
            )
        done.add(number)
    return done


# ---------------------------------------------------------------------------
# Step 2c: the weights, on the GPU when there is one
# ---------------------------------------------------------------------------
@dataclass
class Scorer:
    """The model on its device, and what the card says about the hardware."""

    model: Any
    batch_size: int  # windows per forward pass
    hardware: str
    precision: str


def load_scorer(model_name: str, token: str | None, batch_size: int) -> Scorer:
    import torch

    model = load_model(model_name, token)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    hardware = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)"
    precision = "bf16" if bf16_here(device) else "fp32"  # what predict_probs will use
    return Scorer(model, batch_size, hardware, precision)


def load_model(model_name: str, token: str | None):
    from transformers import AutoModelForSequenceClassification

    model, info = AutoModelForSequenceClassification.from_pretrained(model_name, token=token, output_loading_info=True)
    if info["missing_keys"]:  # transformers gave them random values
        raise UserError(untrained_head(model_name, f"its weights lack {name_some(sorted(info['missing_keys']))}"))
    return model


def untrained_head(model_name: str, why: str) -> str:
    return (
        f"--model {model_name}: no trained classifier head was saved with it ({why}): it would score with a random "
        "head, other scores on each run. Give a classifier: the --output-dir of train_modernbert.py, or the Hub repo "
        "it pushed to."
    )


def log_plan(args, data: Data, plan: Plan, scorer: Scorer) -> None:
    what = "Model on %s (%s); %d rows in %d shard(s) of up to %d rows; batch %d windows"
    shards = len(plan.shards)
    logger.info(what, scorer.hardware, scorer.precision, len(data.rows), shards, args.shard_size, args.batch_size)


# ---------------------------------------------------------------------------
# Step 3: score, label, write and push each shard
# ---------------------------------------------------------------------------
def score_shards(data: Data, plan: Plan, scorer: Scorer, target: Target, done: set[int], clock: Clock) -> int:
    """Score the shards not yet done, write each one, and push it as soon as it is written (when pushing):
    a job that times out keeps its finished shards. Returns how many rows this run scored."""
    from tqdm.auto import tqdm

    schema = output_schema(data.table, plan.settings)
    rows_done = sum(stop - start for n, start, stop in plan.shards if n in done)
    scored_rows = 0
    clock.phases.update(scoring=0.0, writing=0.0, upload=0.0)  # reported even when nothing is scored or pushed
    bar = {"unit": "rows", "desc": "Labelling", "dynamic_ncols": True, "mininterval": 2}
    progress = tqdm(total=len(data.rows), initial=rows_done, **bar)
    whose = "" if target.part.count == 1 else f", {target.part}"
    for number, start, stop in plan.shards:
        path = target.shard(number)
        if number not in done:
            with clock("scoring"):
                texts = build_texts(data.table.select(range(start, stop)), data.text_columns)
                probs, long_rows = score_texts(scorer, plan, texts, progress.update)
            scored_rows += stop - start
            with clock("writing"):
                added = label_rows(probs, plan.names, plan.threshold, plan.positive)
                rows = data.table.with_format("arrow")[start:stop]  # a zero-copy slice of the memory-mapped table
                write_shard(path, rows, added, schema, {"long_rows": long_rows})
        if target.api is not None and f"data/{path.name}" not in target.remote:
            with clock("upload"):
                message = f"Add labelled rows, shard {number + 1} of {len(plan.shards)}{whose}"
                upload(target, f"Uploading {path.name}", path, f"data/{path.name}", message)
                target.remote.add(f"data/{path.name}")
    progress.close()
    return scored_rows


def output_schema(table, settings: dict):
    """The original features (ClassLabel names and all) plus the three added columns, as an Arrow schema
    whose metadata also records the settings the shards are scored with."""
    from datasets import Features, Value

    added = {"predicted_label": Value("string"), "score": Value("float64"), "threshold": Value("float64")}
    schema = Features({**table.features, **added}).arrow_schema
    return schema.with_metadata({**schema.metadata, RUN_KEY: json.dumps(settings, sort_keys=True).encode()})


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


def score_texts(scorer: Scorer, plan: Plan, texts: list[str], progress=None):
    """Class probabilities per text (NaN for empty texts, which are not scored), in chunks of
    CHUNK_ROWS rows so that the progress bar moves. Returns (probs, rows longer than one window)."""
    probs = np.full((len(texts), scorer.model.config.num_labels), np.nan)
    long_rows = 0
    todo = [i for i, t in enumerate(texts) if t]
    if progress and len(todo) < len(texts):
        progress(len(texts) - len(todo))
    for start in range(0, len(todo), CHUNK_ROWS):
        idx = todo[start : start + CHUNK_ROWS]
        chunk = [texts[i] for i in idx]
        row_probs, window_probs, window_rows = predict_probs(
            scorer.model, plan.tokenizer, chunk, plan.max_length, plan.stride, scorer.batch_size, return_windows=True
        )
        if plan.positive == 0:  # aggregate_windows takes the window most positive for label 1: ask it about label 0
            row_probs = aggregate_windows(window_probs[:, ::-1], window_rows, len(chunk))[:, ::-1]
        probs[idx] = row_probs
        long_rows += count_long_rows(window_rows)
        if progress:
            progress(len(idx))
    return probs, long_rows


def label_rows(probs, names: list[str], threshold: float | None, positive: int | None = 1) -> dict[str, list]:
    """The three added columns. Two labels: score = P(names[positive]), label names[positive] when score >= threshold.
    More: the most probable label and its probability. Rows without a score (no text) get no label."""
    if len(names) == 2:
        scores, yes, no = probs[:, positive], names[positive], names[1 - positive]
        hits = flagged(np.nan_to_num(scores, nan=-1.0), threshold)
        labels = [None if np.isnan(s) else yes if hit else no for s, hit in zip(scores, hits, strict=True)]
    else:
        scores = probs.max(axis=1)
        best = np.nan_to_num(probs, nan=-1).argmax(axis=1)
        labels = [None if np.isnan(s) else names[b] for s, b in zip(scores, best, strict=True)]
    scores = [None if np.isnan(s) else float(s) for s in scores]
    thresholds = [threshold if s is not None else None for s in scores]
    return {"predicted_label": labels, "score": scores, "threshold": thresholds}


def write_shard(path: Path, rows, added: dict[str, list], schema, stats: dict) -> None:
    """The shard's original rows (all columns, in order) plus the added columns, written under a
    temporary name and renamed, so a shard file on disk is always complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name in ADDED_COLUMNS:
        rows = rows.append_column(name, pa.array(added[name], schema.field(name).type))
    metadata = {**schema.metadata, STATS_KEY: json.dumps(stats).encode()}
    part = rows.cast(schema).replace_schema_metadata(metadata)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(part, tmp)
    os.replace(tmp, path)


def upload(target: Target, what: str, local: Path, path_in_repo: str, message: str) -> None:
    """Upload one file to the dataset repo, retrying errors that look transient."""
    with_retries(
        what,
        lambda: target.api.upload_file(
            path_or_fileobj=str(local),
            path_in_repo=path_in_repo,
            repo_id=target.repo_id,
            repo_type="dataset",
            commit_message=message,
        ),
    )


# ---------------------------------------------------------------------------
# Step 4: count the labels, write the output file or push the card, clean up, report
# ---------------------------------------------------------------------------
@dataclass
class Summary:
    """What the run labelled, counted from the shard files (so including the shards --resume kept)."""

    counts: dict[str, int]  # rows per label name
    empty_rows: int  # rows with no text: no label, no score
    long_rows: int  # rows read as more than one window
    flagged: int | None  # rows given the positive label (two-label models only)
    scored_rows: int  # rows scored by this run
    scoring_s: float  # seconds this run spent scoring them
    rows_per_second: float | None


def summarize(paths: list[Path], plan: Plan, scored_rows: int, clock: Clock) -> Summary:
    counts, long_rows = shard_summary(paths)
    empty_rows = counts.pop(None, 0)
    counts = {n: counts.get(n, 0) for n in plan.names}
    flagged = counts[plan.names[plan.positive]] if plan.threshold is not None else None
    scoring = clock.phases["scoring"]
    rows_per_second = scored_rows / scoring if scoring else None
    return Summary(counts, empty_rows, long_rows, flagged, scored_rows, scoring, rows_per_second)


def shard_summary(paths: list[Path]) -> tuple[dict, int]:
    """Rows per predicted label (None: no text) and rows read as several windows, from the shard files."""
    import pyarrow.parquet as pq

    counts: dict = {}
    long_rows = 0
    for path in paths:
        file = pq.ParquetFile(path)
        for value in file.read(columns=["predicted_label"]).column(0).to_pylist():
            counts[value] = counts.get(value, 0) + 1
        long_rows += json.loads((file.schema_arrow.metadata or {}).get(STATS_KEY, b"{}")).get("long_rows", 0)
    return counts, long_rows


def concatenate_shards(paths: list[Path], output: Path) -> None:
    """Stream the shards, one record batch at a time, into one CSV or Parquet file (temp name, then rename)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    schema = pq.read_schema(paths[0])
    schema = schema.with_metadata({k: v for k, v in (schema.metadata or {}).items() if k != STATS_KEY})
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    writer = pq.ParquetWriter(tmp, schema) if output.suffix.lower() == ".parquet" else pa_csv.CSVWriter(tmp, schema)
    with writer:
        for path in paths:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
                writer.write_table(pa.Table.from_batches([batch]).replace_schema_metadata(schema.metadata))
    os.replace(tmp, output)


def slice_record(target: Target, data: Data, plan: Plan, scorer: Scorer, summary: Summary, env: dict) -> dict:
    """What this job labelled and how. The card of a single run is made from it; a slice of several uploads it, as
    slices/slice-....json, for --finalize to check and add up."""
    part = target.part
    return {
        "written_by": "predict.py",
        "slice": {"index": part.index, "count": part.count, "start": data.rows.start, "stop": data.rows.stop},
        "rows": len(data.rows),
        "files": [f"data/{part.shard_name(n)}" for n, _, _ in plan.shards],
        "counts": summary.counts,
        "empty_rows": summary.empty_rows,
        "long_rows": summary.long_rows,
        "flagged": summary.flagged,
        "settings": plan.settings,  # what its shards were scored with
        "sources": {"threshold": plan.threshold_source, "positive": plan.positive_source},
        "run": {
            "hardware": scorer.hardware,
            "precision": scorer.precision,
            "scored_rows": summary.scored_rows,
            "scoring_s": summary.scoring_s,
            "versions": env["versions"],
            "command": env["command"],
        },
    }


def card_facts(args, repo_id: str, record: dict) -> dict:
    """Everything the dataset card says: about one run, or about the slices --finalize joined (their added-up record)."""
    settings, run = record["settings"], record["run"]
    names = settings["labels"]
    model_link, _ = hub_link(args.model, "model", Path(args.model).expanduser().exists())
    dataset_link, dataset_on_hub = hub_link(args.dataset, "dataset", looks_like_local_path(args.dataset))
    title = f"{args.dataset.rstrip('/').split('/')[-1]} labelled by {args.model.rstrip('/').split('/')[-1]}"
    binary = settings["positive_label"] is not None
    positive = names.index(settings["positive_label"]) if binary else len(names) - 1
    negative = 1 - positive if binary else 0
    return {
        "title": title,
        "repo_id": repo_id,
        "on_the_books": names[positive] == "jim_crow",
        "binary": binary,
        "model": args.model,
        "model_link": model_link,
        "dataset": args.dataset,
        "dataset_link": dataset_link,
        "dataset_on_hub": dataset_on_hub,
        "rows": record["rows"],
        "counts": record["counts"],
        "empty_rows": record["empty_rows"],
        "flagged": record["flagged"],
        "threshold": settings["threshold"],
        "threshold_source": record["sources"]["threshold"],
        "label_names": names,
        "positive_label": names[positive],
        "positive_source": record["sources"]["positive"],
        "negative_label": names[negative],
        "text_columns": settings["text_columns"],
        "max_length": settings["max_length"],
        "stride": settings["stride"],
        "aggregation": settings["aggregation"],
        "long_rows": record["long_rows"],
        "hardware": run["hardware"],
        "precision": run["precision"],
        "rows_per_second": run["scored_rows"] / run["scoring_s"] if run["scoring_s"] else None,
        "jobs": run.get("jobs"),  # --finalize: how many slice jobs labelled the rows
        "review": record.get("review") if (record.get("review") or {}).get("rows") else None,
        "review_file": REVIEW_FILE,
        "versions": run["versions"],
        "command": run["command"],
    }


def hub_link(name: str, kind: str, local: bool) -> tuple[str, bool]:
    """Markdown for a model or dataset given as a Hub id or a local path; and whether it is on the Hub."""
    if local:
        return f"`{Path(name).name}` (a local {'model folder' if kind == 'model' else 'file'})", False
    prefix = "datasets/" if kind == "dataset" else ""
    return f"[`{name}`](https://huggingface.co/{prefix}{name})", True


def push_record(record: dict, target: Target, clock: Clock) -> None:
    """A slice of several, its last shard in the repo: its record says to --finalize that it has finished."""
    part = target.part
    path = target.work_dir / Path(part.record).name
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    with clock("upload"):
        upload(target, f"Uploading {part.record}", path, part.record, f"Finish {part}: its record")


def push_card(facts: dict, target: Target, clock: Clock) -> None:
    """Render the dataset card into the work dir (as dataset_card.md) and upload it as README.md: the run's last
    commit."""
    card = target.work_dir / CARD_FILE
    card.write_text(render_card(facts), encoding="utf-8")
    with clock("upload"):
        upload(target, "Uploading the dataset card", card, "README.md", "Add the dataset card")


def render_card(facts: dict) -> str:
    """The dataset card from one run's facts. Pure: no scoring, no network."""
    from huggingface_hub import DatasetCard, DatasetCardData

    on_the_books = facts["on_the_books"]
    card_data = DatasetCardData(
        pretty_name=facts["title"],
        language=["en"] if on_the_books else None,
        license="cc-by-3.0" if facts["dataset"] == ON_THE_BOOKS_ID else None,
        task_categories=["text-classification"],
        size_categories=[size_category(facts["rows"])],
        source_datasets=[facts["dataset"]] if facts["dataset_on_hub"] else None,
        tags=(DOMAIN_TAGS if on_the_books else []) + ["model-predictions", "candidates-for-review"],
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/*.parquet"}]}]
        + (
            [{"config_name": "review", "data_files": [{"split": "train", "path": REVIEW_FILE}]}]
            if facts["review"]
            else []
        ),
    )
    return str(
        DatasetCard.from_template(card_data, template_str=CARD_TEMPLATE, review_sentence=REVIEW_SENTENCE, **facts)
    )


def size_category(rows: int) -> str:
    for limit, name in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
        (10_000_000, "1M<n<10M"),
    ):
        if rows < limit:
            return name
    return "10M<n<100M"


def clean_work_dir(paths: list[Path], target: Target) -> None:
    """Everything is in the output now: delete what this run wrote for it (its shards, which were only for --resume,
    its card and its marker) and nothing else; the work dir goes too when that leaves it empty."""
    work_dir = target.work_dir
    pushed = CARD_FILE if target.part.count == 1 else Path(target.part.record).name  # the card, or a slice's record
    card = [work_dir / pushed] if target.api is not None else []  # written only when pushing
    review = [work_dir / REVIEW_WORK_FILE, work_dir / f"{target.part.tag}-review.parquet"]  # --review's, once pushed
    for path in [*paths, *card, *review, work_dir / MARKER]:
        path.unlink(missing_ok=True)
    left = sorted(p.name for p in work_dir.iterdir())
    if left:
        logger.info("Kept --work-dir %s: it holds files this run did not write (%s)", work_dir, name_some(left))
    else:
        work_dir.rmdir()


def log_results(target: Target, data: Data, plan: Plan, scorer: Scorer, summary: Summary, clock: Clock) -> None:
    timings = clock.phases
    logger.info("Timings: %s", ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in timings.items()))
    if summary.rows_per_second:
        what = "Scored %d rows in %.1f s: %.1f rows/s on %s"
        logger.info(what, summary.scored_rows, timings["scoring"], summary.rows_per_second, scorer.hardware)
    counts = ", ".join(f"{n} {c}" for n, c in summary.counts.items())
    logger.info("Labels: %s%s", counts, f", no text {summary.empty_rows}" if summary.empty_rows else "")
    scored = sum(summary.counts.values())
    if scored > 1 and max(summary.counts.values()) == scored:
        logger.warning(
            "Every scored row got the same label (%s): check the model's card before using these labels.",
            max(summary.counts, key=summary.counts.get),
        )
    if summary.flagged is not None:
        share = 100 * summary.flagged / max(len(data.rows), 1)
        what = "Flagged %d of %d rows as %s (%.1f%%) at threshold %.4f: candidates for expert review"
        logger.info(what, summary.flagged, len(data.rows), plan.names[plan.positive], share, plan.threshold)
    elapsed = time.time() - clock.started
    logger.info("Wrote %d labelled rows to %s in %.0f s", len(data.rows), target.where, elapsed)
    part = target.part
    if part.count > 1 and target.api is not None:
        what = "%s is in. When all %d slice jobs have finished, run this command again with --finalize in place of "
        what += "--shard-index %d: it checks the slices and pushes the dataset card"
        logger.info(what, str(part).capitalize(), part.count, part.index)


# ---------------------------------------------------------------------------
# Step 5 (--review N): the rows a person should label next, and why each was flagged
# ---------------------------------------------------------------------------
REVIEW_FILE = "review.csv"  # beside --output, or in the dataset repo (its `review` config)
REVIEW_WORK_FILE = "review_queue.csv"  # its name in the work dir, before the upload
REVIEW_RANDOM_SHARE = 0.2  # of the queue: a uniform sample of the collection, for an unbiased estimate
REVIEW_SEED = 0
REVIEW_COLUMNS = ["review_reason", "evidence_sentence", "evidence_sentence_score", "evidence_window", "collection_row"]
SENTENCE_END = re.compile(r"(?<=[.;:!?])\s+|\n\s*\n")  # a sentence, a clause of a long legal one, or a column
MAX_SENTENCES = 200  # per row: the sentences scored alone for its evidence


def review_sizes(args) -> tuple[int, int]:
    """(rows the model is least sure of, rows drawn at random) in a queue of --review rows."""
    drawn = args.review_random if args.review_random is not None else max(1, round(REVIEW_RANDOM_SHARE * args.review))
    return args.review - drawn, drawn


def queue_review(args, token: str | None, data: Data, plan: Plan, scorer: Scorer, target: Target, paths, clock) -> dict:
    """This job's candidates for the queue, with their evidence. A single job chooses the queue from them and writes
    it; a slice of several uploads them for --finalize, which chooses over the whole collection. Returns what the
    slice's record says about them."""
    with clock("review"):
        skip = labelled_ids(args.model, token, data.record)
        candidates, eligible = review_candidates(args, data, plan, scorer, paths, skip)
        if target.part.count == 1:
            queue = choose_review([(candidates, eligible)], *review_sizes(args))
            write_review(args, target, review_label(data.record), queue)
            return {"eligible": eligible, **review_counts(queue)}
        local = target.work_dir / f"{target.part.tag}-review.parquet"
        candidates.to_parquet(local)
        upload(
            target, f"Uploading {target.part.review}", local, target.part.review, f"Review candidates, {target.part}"
        )
    return {"eligible": eligible, "asked": list(review_sizes(args))}


def labelled_ids(model_name: str, token: str | None, record: dict) -> set[str]:
    """The ids of the rows the model was trained, validated or tested on (its splits.csv): already labelled, so not
    queued again. Empty when the model has no splits.csv or its data had no id column."""
    if not record.get("id_column"):
        return set()
    try:
        if (found := model_file(model_name, "splits.csv", token)) is None:
            raise FileNotFoundError("splits.csv")
        with open(found, newline="", encoding="utf-8") as f:
            return {row["id"] for row in csv.DictReader(f)}
    except Exception as err:  # not trained by these scripts, or offline: nothing is known to be labelled
        logger.info("No splits.csv for %s (%s): rows it was trained on may be queued", model_name, type(err).__name__)
        return set()


def review_candidates(args, data: Data, plan: Plan, scorer: Scorer, paths: list[Path], skip: set[str]):
    """Every row the queue could take from this job's rows: the first rows of a random order of the scored rows (the
    random part), and the rows nearest the threshold (twice as many as the queue, so that duplicates can be passed
    over). Returns them with their evidence, and how many rows were eligible (scored, and not labelled already)."""
    import pyarrow.parquet as pq

    tables = [pq.read_table(p, columns=["score", "predicted_label"]) for p in paths]
    scores = np.concatenate([t.column("score").to_numpy(zero_copy_only=False) for t in tables]).astype(np.float64)
    labels = [v for t in tables for v in t.column("predicted_label").to_pylist()]
    rows = np.asarray(data.rows)
    id_column = data.record.get("id_column")
    known = id_column in data.table.column_names
    ids = data.table.with_format("arrow")[data.rows.start : data.rows.stop][id_column].to_pylist() if known else None
    eligible = ~np.isnan(scores)
    if ids is not None and skip:
        labelled = np.array([str(v) in skip for v in ids])
        eligible &= ~labelled
        what = "--review: %d rows whose %s the model's splits.csv lists (already labelled) are not queued"
        logger.info(what, labelled.sum(), id_column)
    elif not known:
        what = "--review: the collection has no %s column: rows the model was trained on cannot be told apart"
        logger.warning(what, id_column or "id")
    n_uncertain, n_random = review_sizes(args)
    where = np.flatnonzero(eligible)
    order = np.random.default_rng([REVIEW_SEED, data.rows.start]).permutation(where)[:n_random]
    distance = review_distance(scores, plan.threshold)
    nearest = where[np.argsort(distance[where], kind="stable")][: 2 * args.review]
    picked = np.union1d(order, nearest)
    chosen = data.table.select(rows[picked].tolist())
    frame, texts = chosen.to_pandas(), build_texts(chosen, data.text_columns)
    rank = {int(r): n for n, r in enumerate(order)}
    frame["predicted_label"] = [labels[i] for i in picked]
    frame["score"] = scores[picked]
    frame["threshold"] = plan.threshold
    frame["_review_random_rank"] = [rank.get(int(i), -1) for i in picked]
    frame["_review_distance"] = distance[picked]
    frame["_review_text_key"] = [" ".join(re.findall(r"[^\W\d_]+", t.lower())) for t in texts]  # words, in any script
    frame["_review_nearest"] = np.isin(picked, nearest)
    frame["collection_row"] = rows[picked]
    for name, values in review_evidence(scorer, plan, texts).items():
        frame[name] = values
    return frame, int(eligible.sum())


def review_distance(scores, threshold: float | None):
    """How unsure the model is of each row, smallest first: two labels, the distance of the score from the threshold
    in log-odds (on a probability scale a score of 0.001 would sit "near" a threshold of 0.01); more labels, the
    probability of the most probable one."""
    if threshold is None:
        return scores
    s, t = np.clip(scores, 1e-7, 1 - 1e-7), np.clip(threshold, 1e-7, 1 - 1e-7)
    return np.abs(np.log(s / (1 - s)) - np.log(t / (1 - t)))


def review_evidence(scorer: Scorer, plan: Plan, texts: list[str]) -> dict[str, list]:
    """What drove each row's score: its highest-scoring window (a text longer than one window; else empty), and its
    highest-scoring sentence when each sentence is scored alone. Scores are of the flagged label (two labels), else
    of the row's most probable one."""
    model, tok = scorer.model, plan.tokenizer
    if not texts:  # nothing left to queue in these rows (all labelled already, say)
        return {"evidence_sentence": [], "evidence_sentence_score": [], "evidence_window": []}
    row_probs, window_probs, window_rows = predict_probs(
        model, tok, texts, plan.max_length, plan.stride, scorer.batch_size, return_windows=True
    )
    label = np.full(len(texts), plan.positive) if plan.threshold is not None else row_probs.argmax(axis=1)
    windows = window_texts(tok, texts, plan.max_length, plan.stride)
    best_window = [""] * len(texts)
    window_rows = np.asarray(window_rows)
    for r in range(len(texts)):
        mine = np.flatnonzero(window_rows == r)
        if len(mine) > 1:
            best_window[r] = windows[mine[np.argmax(window_probs[mine, label[r]])]]
    sentences = [(r, s) for r, t in enumerate(texts) for s in split_sentences(t)]
    said = [s for _, s in sentences]
    probs = predict_probs(model, tok, said, plan.max_length, plan.stride, scorer.batch_size) if said else []
    best, best_score = [""] * len(texts), [None] * len(texts)
    for (r, sentence), p in zip(sentences, probs, strict=True):
        if best_score[r] is None or p[label[r]] > best_score[r]:
            best[r], best_score[r] = sentence, float(p[label[r]])
    return {"evidence_sentence": best, "evidence_sentence_score": best_score, "evidence_window": best_window}


def split_sentences(text: str) -> list[str]:
    """A text's sentences (and the clauses of a long legal sentence, at ; and :), as written in it."""
    return [s for s in SENTENCE_END.split(text.strip()) if re.search(r"\w", s)][:MAX_SENTENCES]


def window_texts(tokenizer, texts: list[str], max_length: int, stride: int) -> list[str]:
    """The text each window of tokenize_windows reads, cut from the row's own text (a slow tokenizer: decoded)."""
    enc = tokenizer(
        texts,
        truncation=True,
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=tokenizer.is_fast,
    )
    if not tokenizer.is_fast:
        return [tokenizer.decode(ids, skip_special_tokens=True) for ids in enc["input_ids"]]
    out = []
    for row, offsets in zip(enc["overflow_to_sample_mapping"], enc["offset_mapping"], strict=True):
        spans = [(a, b) for a, b in offsets if b > a]
        out.append(texts[row][spans[0][0] : spans[-1][1]] if spans else "")
    return out


def choose_review(candidates: list[tuple[Any, int]], n_uncertain: int, n_random: int, seed: int = REVIEW_SEED):
    """The queue from the candidates of every slice ((candidates, eligible rows) each): a uniform sample of n_random
    of all eligible rows (how many from each slice drawn as from one urn, then each slice's first rows of its random
    order), and the n_uncertain other rows nearest the threshold: first those whose words (numbers aside) are not
    in the queue already, so that it spreads over the collection, then, if too few, the nearest of the others."""
    import pandas as pd

    sizes = [eligible for _, eligible in candidates]
    draws = np.random.default_rng(seed).multivariate_hypergeometric(sizes, min(n_random, sum(sizes)))
    drawn = [
        c[(c["_review_random_rank"] >= 0) & (c["_review_random_rank"] < k)]
        for (c, _), k in zip(candidates, draws, strict=True)
    ]
    rest = pd.concat(
        [c[~c.index.isin(d.index) & c["_review_nearest"]] for (c, _), d in zip(candidates, drawn, strict=True)]
    )
    seen = {key for d in drawn for key in d["_review_text_key"]}
    rest = rest.sort_values("_review_distance", kind="stable")
    distinct = []
    for position, key in enumerate(rest["_review_text_key"]):
        if key not in seen:
            seen.add(key)
            distinct.append(position)
    first = set(distinct)
    others = [p for p in range(len(rest)) if p not in first]  # repeats, only when too few distinct
    keep = (distinct + others)[:n_uncertain]
    queue = pd.concat(
        [rest.iloc[keep].assign(review_reason="uncertain"), *(d.assign(review_reason="random") for d in drawn)]
    )
    return queue.sort_values("collection_row", kind="stable")


def review_label(record: dict) -> str:
    """The column to fill in: the model's label column (its training record), else `label`."""
    return record.get("label_column") or "label"


def review_counts(queue) -> dict:
    reasons = queue["review_reason"].value_counts()
    return {"rows": len(queue), "uncertain": int(reasons.get("uncertain", 0)), "random": int(reasons.get("random", 0))}


def write_review(args, target: Target, label: str, queue) -> None:
    """review.csv: the label column to fill in (empty), the row's own columns, then its score, why it was chosen and
    its evidence. Beside --output, or uploaded to the dataset repo."""
    added = ["predicted_label", "score", "threshold", *REVIEW_COLUMNS]
    own = [c for c in queue.columns if c not in added and not c.startswith("_review_")]
    queue = queue.assign(**{label: ""})[[label, *own, *added]]
    path = Path(args.output).expanduser().parent / REVIEW_FILE if args.output else target.work_dir / REVIEW_WORK_FILE
    tmp = path.with_name(path.name + ".tmp")
    queue.to_csv(tmp, index=False)
    os.replace(tmp, path)
    if target.api is not None:
        upload(target, f"Uploading {REVIEW_FILE}", path, REVIEW_FILE, f"Add {REVIEW_FILE}: {len(queue)} rows to label")
    counts = review_counts(queue)
    where = path if args.output else f"{REVIEW_FILE} in https://huggingface.co/datasets/{target.repo_id}"
    what = "Wrote %s: %d rows for a person to label (%d the model is least sure of, %d drawn at random from the "
    what += "collection). Fill in its `%s` column, then train again with --add-labels %s (rename it first if you run "
    what += "--review again: an existing %s is never replaced)"
    fill = path if args.output else REVIEW_FILE
    logger.info(what, where, counts["rows"], counts["uncertain"], counts["random"], label, fill, REVIEW_FILE)
    if counts["rows"] < args.review:
        logger.warning(
            "--review %d: only %d rows could be queued (scored, not labelled already)", args.review, counts["rows"]
        )


# ---------------------------------------------------------------------------
# --finalize: the slice jobs have finished; check them and push the card with the totals
# ---------------------------------------------------------------------------
def finalize(args, token: str | None, env: dict) -> int:
    """Every slice's record and data files in the repo, each slice scored with the settings these flags give (the
    model's config and tokenizer say; no weights are loaded, no row is scored), then the card with the totals."""
    api, user, repo_id = hub_login(args, token)
    files = repo_files(api, user, repo_id)
    with tempfile.TemporaryDirectory(prefix="predict-finalize-") as tmp:
        target = Target(Path(tmp), None, api, repo_id)
        records = read_slice_records(target, files, args.num_shards)
        check_slices_finished(files, records)
        strays = not_of_slices(files, args.num_shards)
        if strays:
            raise UserError(
                f"--finalize: the dataset repo {repo_id} holds {len(strays)} data file(s) of no slice of --num-shards "
                f"{args.num_shards} ({name_some(strays)}), left by a run with another --num-shards or none: the "
                f"dataset would hold their rows too. Delete them (hf repos delete-files --repo-type dataset {repo_id} "
                f"{' '.join(strays) if len(strays) <= 5 else 'FILE...'}), then --finalize again."
            )
        trained = training_record(args.model, token)
        check_slice_settings(args, token, records, trained)
        total = add_up(records, env)
        if args.review:
            total["review"] = finalize_review(args, target, files, records, review_label(trained))
        push_card(card_facts(args, repo_id, total), target, Clock())
    what = "--finalize: %d slices, %d rows%s; pushed the dataset card to %s"
    flagged = "" if total["flagged"] is None else f", {total['flagged']} flagged"
    logger.info(what, args.num_shards, total["rows"], flagged, f"https://huggingface.co/datasets/{repo_id}")
    return 0


def finalize_review(args, target: Target, files: set[str], records: list[dict], label: str) -> dict:
    """The --review queue over the whole collection, from the candidates each slice uploaded."""
    import pandas as pd

    count = len(records)
    missing = [i for i in range(count) if Slice(i, count).review not in files or "review" not in records[i]]
    if missing:
        raise UserError(
            f"--finalize --review: {name_slices(missing, count)} uploaded no review candidates: rerun "
            f"{'its job' if len(missing) == 1 else 'their jobs'} with --review and --overwrite, or --finalize without "
            "--review."
        )
    wanted, asked = review_sizes(args), [r["review"].get("asked") for r in records]
    if any(a is None or a[0] < wanted[0] or a[1] < wanted[1] for a in asked):
        raise UserError(
            f"--finalize --review {args.review}: the slices prepared candidates for a smaller queue ({asked[0][0]} "
            f"uncertain, {asked[0][1]} random rows); the queue would be short and its random part not uniform. Give "
            "the slices' --review and --review-random, or rerun them with these."
        )
    candidates = []
    for index, record in enumerate(records):
        name = Slice(index, count).review
        path = download(target, name)
        candidates.append((pd.read_parquet(path), record["review"]["eligible"]))
    queue = choose_review(candidates, *review_sizes(args))
    write_review(args, target, label, queue)
    return {"eligible": sum(e for _, e in candidates), **review_counts(queue)}


def download(target: Target, name: str) -> str:
    """One file of the dataset repo, into the work dir, for --finalize."""
    where = dict(repo_id=target.repo_id, filename=name, repo_type="dataset", local_dir=str(target.work_dir))
    return with_retries(
        f"Downloading {name}", partial(target.api.hf_hub_download, **where), advice="Run --finalize again."
    )


def repo_files(api, user: str, repo_id: str) -> set[str]:
    """The files in the dataset repo (none when it does not exist)."""
    try:
        return set(api.list_repo_files(repo_id, repo_type="dataset"))
    except Exception as err:
        if is_missing_repo(err):
            return set()
        raise UserError(
            hub_unreachable(err, f"read the dataset repo {repo_id}")
            or f"Cannot read the dataset repo {repo_id} as {user} ({type(err).__name__}). Check --output-dataset."
        ) from err


def read_slice_records(target: Target, files: set[str], count: int) -> list[dict | None]:
    """Each slice's record, or None where its job has not uploaded one (running, failed, or never started)."""
    records = []
    for index in range(count):
        name = Slice(index, count).record
        if name not in files:
            records.append(None)
            continue
        path = download(target, name)
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = None
        records.append(record if isinstance(record, dict) else None)  # unreadable: the slice counts as unfinished
    return records


def check_slices_finished(files: set[str], records: list[dict | None]) -> None:
    """Refuse, naming them, the slices without a record, or whose data files in the repo are not the ones their
    record lists (missing, or more: a rerun of the slice is under way)."""
    count, unfinished = len(records), {}
    for index, record in enumerate(records):
        part = Slice(index, count)
        if record is None:
            unfinished[index] = f"no {part.record} yet"
            continue
        listed = set(record.get("files", []))
        held = {f for f in files if f.startswith(f"data/{part.prefix}")}
        if listed - held:
            lost = len(listed - held)
            unfinished[index] = f"{lost} of its {len(listed)} data files {'is' if lost == 1 else 'are'} not in the repo"
        elif held - listed:
            unfinished[index] = f"{len(held - listed)} data file(s) in the repo that its record does not list"
    if unfinished:
        one = len(unfinished) == 1
        details = name_some([f"slice {i}: {why}" for i, why in unfinished.items()], sep="; ")
        raise UserError(
            f"--finalize: {name_slices(list(unfinished), count)} {'is' if one else 'are'} missing or unfinished "
            f"({details}): run {'its job' if one else 'their jobs'} (or rerun {'it' if one else 'them'} with "
            "--resume), then --finalize again."
        )


def check_slice_settings(args, token: str | None, records: list[dict], trained: dict) -> None:
    """Refuse, naming them, the slices scored with other settings (model, dataset, threshold, text columns, windows,
    labels, rows) than these flags give: one dataset, one way of labelling."""
    wanted = json.loads(json.dumps(model_settings(args, token, trained, chosen_text_columns(args, trained)).settings))
    wanted["rows"] = Counter(r["settings"].get("rows") for r in records).most_common(1)[0][0]  # most slices' rows
    differ = {}
    for index, record in enumerate(records):
        changes = {k: (record["settings"].get(k), v) for k, v in wanted.items() if record["settings"].get(k) != v}
        if changes:
            differ[index] = ", ".join(f"{k} {old!r}, not {new!r}" for k, (old, new) in changes.items())
    details = "; ".join(f"slice {i}: {what}" for i, what in differ.items())
    if len(differ) == len(records):
        raise UserError(
            f"--finalize: no slice was scored with the settings these flags give ({details}). Give --finalize the "
            "same --model, --dataset and scoring flags as the slice jobs (without --shard-index)."
        )
    if differ:
        count, same = len(records), [i for i in range(len(records)) if i not in differ]
        one, it = len(differ) == 1, "it" if len(differ) == 1 else "they"
        raise UserError(
            f"--finalize: {name_slices(list(differ), count)} {'was' if one else 'were'} scored with other settings "
            f"than these flags give, which {name_slices(same, count)} {'was' if len(same) == 1 else 'were'} scored "
            f"with ({details}). Rerun {'it' if one else 'them'} with --overwrite and these flags, or give --finalize "
            f"the flags {it} {'was' if one else 'were'} scored with and rerun the others; then --finalize again."
        )


def add_up(records: list[dict], env: dict) -> dict:
    """The slices' records as one, for the card: rows and counts added up, hardware and commands listed."""
    first, runs = records[0], [r["run"] for r in records]
    return {
        **first,
        "slice": {"index": 0, "count": 1, "start": 0, "stop": first["settings"]["rows"]},
        "rows": sum(r["rows"] for r in records),
        "files": [f for r in records for f in r["files"]],
        "counts": {name: sum(r["counts"][name] for r in records) for name in first["counts"]},
        "empty_rows": sum(r["empty_rows"] for r in records),
        "long_rows": sum(r["long_rows"] for r in records),
        "flagged": None if first["flagged"] is None else sum(r["flagged"] for r in records),
        "run": {
            "hardware": " / ".join(dict.fromkeys(run["hardware"] for run in runs)),
            "precision": " / ".join(dict.fromkeys(run["precision"] for run in runs)),
            "scored_rows": sum(run["scored_rows"] for run in runs),
            "scoring_s": sum(run["scoring_s"] for run in runs),
            "jobs": len(records),
            "versions": first["run"]["versions"],
            "command": "\n".join([*(run["command"] for run in runs), env["command"]]),
        },
    }


def name_slices(indices: list[int], count: int) -> str:
    """'slice 1 of 4', 'slices 1 and 3 of 4', 'slices 0, 1 and 3 of 4'."""
    if len(indices) == 1:
        return f"slice {indices[0]} of {count}"
    shown = [str(i) for i in indices[:10]] + ([f"{len(indices) - 10} more"] if len(indices) > 10 else [])
    return f"slices {', '.join(shown[:-1])} and {shown[-1]} of {count}"


# ---------------------------------------------------------------------------
# The dataset card's template
# ---------------------------------------------------------------------------
DOMAIN_TAGS = ["legal", "glam", "lam", "jim-crow", "north-carolina", "history", "civil-rights"]
REVIEW_SENTENCE = (
    "The flags are candidates for expert review, not findings: a person who knows the material "
    "should read every flagged row before drawing a conclusion from it."
)
# A backslash at a line's end joins it to the next (Python drops both): the card's lines are longer than the code's.
CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

{% if on_the_books -%}
> **Content warning.** These laws contain racist language and describe racial segregation and discrimination enacted \
in North Carolina.

{% endif -%}
This dataset is {{ dataset_link }} with three columns added by the text classifier {{ model_link }}. Every row keeps \
all its original columns, in the original order.

**{{ review_sentence }}**{% if on_the_books %} A flag means a law reads like the laws the On the Books project \
identified as Jim Crow laws; a law that is not flagged may still be one.{% endif %}

## Labels

{% if binary -%}
**{{ flagged }} of {{ rows }} rows ({{ "%.1f" | format(100 * flagged / rows if rows else 0) }}%) were flagged as \
`{{ positive_label }}`**, at threshold {{ "%.4f" | format(threshold) }} ({{ threshold_source }}). The positive label \
is `{{ positive_label }}` ({{ positive_source }}): `score` is its probability.
{%- else -%}
Each row got the most probable of the model's {{ label_names | length }} labels; no threshold was applied.
{%- endif %}

| `predicted_label` | Rows | Share |
|---|---|---|
{% for name, n in counts.items() -%}
| `{{ name }}` | {{ n }} | {{ "%.1f" | format(100 * n / rows if rows else 0) }}% |
{% endfor -%}
{% if empty_rows %}| (none: no text to read) | {{ empty_rows }} | {{ "%.1f" | format(100 * empty_rows / rows) }}% |
{% endif -%}
| **All rows** | **{{ rows }}** | 100% |

## Added columns

- `predicted_label`: {% if binary %}`{{ positive_label }}` when `score` is at least `threshold`, else \
`{{ negative_label }}`{% else %}the most probable label{% endif %}{% if empty_rows %}; empty when the row has no \
text{% endif %}.
- `score`: {% if binary %}the model's probability of `{{ positive_label }}`, between 0 and 1. Sort by it to read the \
most likely rows first{% else %}the probability of `predicted_label`{% endif %}.
- `threshold`: {% if binary %}{{ "%.4f" | format(threshold) }} on every row: the cut-off that turned the score into \
the label. Choose your own by filtering on `score`{% else %}empty: no threshold applies to a model with more than two \
labels{% endif %}.

## How it was labelled

- **Model**: {{ model_link }}{% if binary %}; threshold {{ "%.4f" | format(threshold) }}, \
{{ threshold_source }}{% endif %}.
- **Input**: {% for c in text_columns %}`{{ c }}`{{ ", then " if not loop.last }}{% endfor %}, joined with a blank \
line, as in training.
- **Long texts**: windows of {{ max_length }} tokens overlapping by {{ stride }}; a text's score is its \
{{ "most positive window's" if aggregation == "max" else "mean window" }} score. {{ long_rows }} rows were longer \
than one window and were read whole this way, not cut off.
- **Hardware**: {{ hardware }}, precision {{ precision }}{% if rows_per_second %}; \
{{ "%.1f" | format(rows_per_second) }} rows/s{% if jobs %} per job{% endif %}{% endif %}{% if jobs %}; {{ jobs }} jobs, \
each labelling a slice of the rows{% endif %}.
- **Libraries**: {% for k, v in versions.items() %}{{ k }} {{ v }}{{ ", " if not loop.last }}{% endfor %}.

```bash
{{ command }}
```

## Use it

```python
from datasets import load_dataset

rows = load_dataset("{{ repo_id }}", split="train")
{% if binary -%}
flagged = rows.filter(lambda row: row["predicted_label"] == "{{ positive_label }}").sort("score", reverse=True)
{%- else -%}
by_label = rows.filter(lambda row: row["predicted_label"] == "{{ label_names[0] }}").sort("score", reverse=True)
{%- endif %}
```
{% if review %}
## Rows to label next

`{{ review_file }}` holds {{ review.rows }} rows for a person to label ({{ review.uncertain }} that the model is least \
sure of, spread over the collection, and {{ review.random }} drawn at random from the {{ review.eligible }} rows not \
labelled yet), each with the passage that drove its score (`evidence_sentence`, and `evidence_window` for a long \
text) and an empty label column to fill in: `load_dataset("{{ repo_id }}", "review")`. Labelled, they train the next \
model (`--add-labels`); the random rows also measure it on this collection.
{% endif %}{% if on_the_books %}
## Credit

The model was trained on the expert-labelled examples of [On the Books: Jim Crow and Algorithms of \
Resistance](https://onthebooks.lib.unc.edu/), University of North Carolina at Chapel Hill Libraries (CC BY 3.0).
{% endif %}"""


def run() -> None:
    try:
        sys.exit(main())
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback
        print(interrupted(sys.argv[1:]), file=sys.stderr)
        sys.exit(130)
    finally:
        release_folders()


def interrupted(argv: list[str]) -> str:
    """What a Ctrl-C leaves (the shards finished so far), and the command that scores the rest."""
    words = [a for a in argv if a not in ("--resume", "--overwrite")]
    again = f"uv run {Path(__file__).name} {shlex.join(words)}"
    shards = sorted(WRITING[-1].glob("*shard-*.parquet")) if WRITING else []
    if not shards:
        return f"Interrupted (Ctrl-C) before a shard was finished: nothing to continue from. Start again with: {again}"
    kept = f"{len(shards)} finished shard{' is' if len(shards) == 1 else 's are'} kept in {WRITING[-1]}"
    return f"Interrupted (Ctrl-C): {kept}. Score the rest with: {again} --resume"


if __name__ == "__main__":
    run()
