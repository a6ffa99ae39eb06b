"""Peak memory of predict.py as the corpus grows: it should stay flat, because rows are scored and
written one shard at a time and the table itself stays on disk (memory-mapped Arrow).

Builds a tiny randomly initialised BERT (what it predicts does not matter here, only what the
pipeline holds in memory) and synthetic law-like corpora of each size, runs predict.py on each in
its own process, and reports the process's peak resident memory (ru_maxrss) and its peak
anonymous memory (RssAnon, sampled from /proc: the heap, without the memory-mapped table pages
that the kernel can drop at any time).

    .venv/bin/python benchmarks/bench_predict_memory.py                       # 20,000 and 200,000 rows
    .venv/bin/python benchmarks/bench_predict_memory.py --sizes 2000,20000 --shard-size 1000

Torch runs on one thread by default here (--threads): on a machine whose cores are busy with other
jobs, two spinning threads per process made a tiny model ten times slower.

Runs offline; writes only under --work (default /tmp/bench_predict).
"""

import argparse
import os
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = (
    "the board of commissioners county shall may levy tax school schools district white colored races separate "
    "road roads bridge town city bonds sheriff fee court clerk act section chapter hereby repealed ratification "
    "public private laws state north carolina children teachers passengers railroad coach marriage persons"
).split()


def build_tiny_model(folder: Path) -> Path:
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import AutoModelForSequenceClassification, BertConfig, PreTrainedTokenizerFast

    torch.manual_seed(0)
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.train_from_iterator(
        [" ".join(WORDS)] * 10,
        trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]),
    )
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", tok.token_to_id("[CLS]")), ("[SEP]", tok.token_to_id("[SEP]"))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )
    config = BertConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = AutoModelForSequenceClassification.from_config(config)
    model.config.id2label, model.config.label2id = {0: "no_jim_crow", 1: "jim_crow"}, {"no_jim_crow": 0, "jim_crow": 1}
    model.config.decision_threshold = 0.5
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_corpus(path: Path, rows: int, payload_chars: int, seed: int = 0) -> Path:
    """Synthetic sections: mostly 10-40 words, 1 in 50 long enough (300 words) to need several windows.
    Each row also carries `page_text`, a column the model does not read but the output keeps: it makes
    the corpus big (rows x payload_chars bytes) without making the benchmark slow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(seed)
    page = " ".join(rng.choices(WORDS, k=payload_chars))[:payload_chars]
    schema = pa.schema(
        [("id", pa.string()), ("chapter_text", pa.string()), ("section_text", pa.string()), ("page_text", pa.string())]
    )
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, 10_000):
            n = min(10_000, rows - start)
            writer.write_table(
                pa.table(
                    {
                        "id": [f"law_{i:07d}" for i in range(start, start + n)],
                        "chapter_text": [
                            f"CHAPTER {i} AN ACT CONCERNING " + " ".join(rng.choices(WORDS, k=6)).upper()
                            for i in range(start, start + n)
                        ],
                        "section_text": [
                            " ".join(rng.choices(WORDS, k=300 if rng.random() < 0.02 else rng.randint(10, 40)))
                            for _ in range(n)
                        ],
                        "page_text": [
                            f"{i} {page[rng.randrange(payload_chars // 2) :]}" for i in range(start, start + n)
                        ],
                    },
                    schema=schema,
                )
            )
    return path


def text_megabytes(path: Path) -> float:
    """Uncompressed size of the corpus's columns in memory (what a load-everything script would hold)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return sum(meta.row_group(g).total_byte_size for g in range(meta.num_row_groups)) / 2**20


def run_predict(model: Path, corpus: Path, output: Path, shard_size: int, batch_size: int, env: dict) -> dict:
    """Run predict.py in its own process; sample its anonymous memory; return its peak RSS from wait4."""
    cmd = [
        sys.executable,
        str(ROOT / "predict.py"),
        "--model",
        str(model),
        "--dataset",
        str(corpus),
        "--output",
        str(output),
        "--shard-size",
        str(shard_size),
        "--batch-size",
        str(batch_size),
        "--overwrite",
    ]
    log = output.with_suffix(".log")
    started = time.time()
    with log.open("w") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    samples = []  # (seconds since start, RssAnon kB, RssFile kB)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                found = [re.search(rf"^{key}:\s+(\d+) kB", status, re.M) for key in ("RssAnon", "RssFile")]
                if all(found):
                    samples.append((time.time() - started, int(found[0].group(1)), int(found[1].group(1))))
            except (FileNotFoundError, ProcessLookupError):
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    stop.set()
    sampler.join()
    wall = time.time() - started
    text = log.read_text()
    if status != 0:
        raise SystemExit(f"predict.py failed (status {status}); see {log}:\n{text[-2000:]}")
    speed = re.search(r"Scored (\d+) rows in ([\d.]+) s: ([\d.]+) rows/s", text)
    flagged = re.search(r"Flagged (\d+) of (\d+) rows", text)
    # the heap's peak in each quarter of the run: flat after the first quarter means memory does not grow with rows
    quarters = [
        max((a for t, a, _ in samples if q * wall / 4 <= t < (q + 1) * wall / 4), default=0) / 1024 for q in range(4)
    ]
    return {
        "wall_s": wall,
        "rows_per_s": float(speed.group(3)) if speed else None,
        "flagged": int(flagged.group(1)) if flagged else None,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "peak_anon_mb": max(a for _, a, _ in samples) / 1024,
        "peak_file_mb": max(f for _, _, f in samples) / 1024,
        "anon_mb_by_quarter": [round(q) for q in quarters],
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--sizes", default="20000,200000", help="comma-separated corpus sizes in rows (default: 20000,200000)"
    )
    p.add_argument("--shard-size", type=int, default=5000, help="predict.py --shard-size (default: 5000)")
    p.add_argument("--batch-size", type=int, default=64, help="predict.py --batch-size (default: 64)")
    p.add_argument(
        "--payload-chars",
        type=int,
        default=1000,
        help="characters per row of a column the model does not read (default: 1000)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for predict.py; 1 keeps runs comparable on a machine shared with other jobs (default: 1)",
    )
    p.add_argument(
        "--work",
        default="/tmp/bench_predict",
        help="where models, corpora and outputs go (default: /tmp/bench_predict)",
    )
    args = p.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_DATASETS_CACHE": str(work / "datasets-cache"),
        "OMP_NUM_THREADS": str(args.threads),
    }
    model = work / "tiny-bert"
    if not (model / "config.json").exists():
        build_tiny_model(model)
    results = []
    for rows in (int(s) for s in args.sizes.split(",")):
        corpus = work / f"corpus_{rows}_{args.payload_chars}.parquet"
        if not corpus.exists():
            write_corpus(corpus, rows, args.payload_chars)
        output = work / f"flagged_{rows}.parquet"
        r = run_predict(model, corpus, output, args.shard_size, args.batch_size, env)
        r.update(rows=rows, corpus_mb=text_megabytes(corpus), output_mb=output.stat().st_size / 2**20)
        results.append(r)
        print(f"{rows} rows: {r}", flush=True)
    print(
        f"\npredict.py, tiny BERT, --shard-size {args.shard_size}, --batch-size {args.batch_size},"
        f" {args.threads} thread(s) on {os.cpu_count()} CPU cores"
    )
    print(
        f"Corpus: short sections plus a {args.payload_chars}-character column the model does not read;"
        " 'Corpus (MB)' is its uncompressed size"
    )
    print(
        "| Rows | Corpus (MB) | Wall (s) | Rows/s (scoring) | Peak RSS (MB) | Peak anonymous RSS (MB)"
        " | Peak file-backed RSS (MB) | Anonymous peak per quarter of the run (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['corpus_mb']:.1f} | {r['wall_s']:.0f} | {r['rows_per_s'] or 0:.0f}"
            f" | {r['peak_rss_mb']:.0f} | "
            f"{r['peak_anon_mb']:.0f} | {r['peak_file_mb']:.0f} | {' / '.join(map(str, r['anon_mb_by_quarter']))} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
