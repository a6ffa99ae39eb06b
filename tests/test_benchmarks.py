"""The benchmarks count what they claim to: padding, tokens, windows. Tiny models on the CPU; seconds each."""

import json
import math
import re

import pytest
import torch
from conftest import import_script, make_rows, train_tokenizer, write_csv


@pytest.fixture(scope="module")
def bench():
    return import_script("benchmarks/bench_training.py")


@pytest.fixture(scope="module")
def gpu_check():
    return import_script("benchmarks/gpu_check.py")


# --- bench_training.py: batching and padding accounting ------------------------
def test_both_strategies_visit_every_window_once_per_epoch_in_the_same_number_of_steps(bench):
    lengths = [5 + (i * 37) % 120 for i in range(203)]
    for strategy in ("pipeline", "naive"):
        batches = bench.plan_batches(lengths, 16, strategy, seed=3)
        assert sorted(i for b in batches for i in b) == list(range(203))
        assert len(batches) == math.ceil(203 / 16) and all(len(b) == 16 for b in batches[:-1])


def test_pipeline_batches_are_length_grouped_and_pad_less_than_naive(bench):
    lengths = [5 + (i * 37) % 120 for i in range(640)]
    pipeline = bench.count_tokens(lengths, bench.plan_batches(lengths, 16, "pipeline", 0), "pipeline", 128)
    naive = bench.count_tokens(lengths, bench.plan_batches(lengths, 16, "naive", 0), "naive", 128)
    assert pipeline["real_tokens"] == naive["real_tokens"] == sum(lengths)
    assert naive["computed_tokens"] == 640 * 128  # every window padded to max_length
    assert pipeline["computed_tokens"] < naive["computed_tokens"]
    assert pipeline["padding_efficiency"] > 0.9 > naive["padding_efficiency"]


def test_pipeline_pads_each_batch_to_its_longest_window(bench):
    lengths = [10, 20, 30, 40]
    assert bench.count_tokens(lengths, [[0, 1], [2, 3]], "pipeline", 64)["computed_tokens"] == 2 * 20 + 2 * 40
    assert bench.count_tokens(lengths, [[0, 1], [2, 3]], "naive", 64)["computed_tokens"] == 4 * 64


def test_bench_training_trains_both_strategies_on_the_same_windows(bench, tiny_models, tmp_path):
    data = write_csv(tmp_path / "laws.csv", make_rows(64))
    out = tmp_path / "bench.json"
    assert (
        bench.main(
            [
                "--model",
                str(tiny_models["bert"]),
                "--dataset",
                str(data),
                "--max-length",
                "64",
                "--batch-size",
                "8",
                "--epochs",
                "2",
                "--in-process",
                "--threads",
                "1",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(out.read_text())
    p, n = report["results"]["pipeline"], report["results"]["naive"]
    assert report["rows"] == 64 and report["max_length"] == 64 and report["stride"] == 16
    assert p["windows"] == n["windows"] > 64  # the long rows became several windows
    assert p["optimizer_steps_per_epoch"] == n["optimizer_steps_per_epoch"] == math.ceil(p["windows"] / 8)
    assert p["real_tokens_per_epoch"] == n["real_tokens_per_epoch"]
    assert n["computed_tokens_per_epoch"] == n["windows"] * 64
    assert p["padding_efficiency"] >= n["padding_efficiency"]
    assert len(p["epoch_seconds_each"]) == 2 and p["real_tokens_per_second"] > 0 and p["peak_memory_mb"] > 0
    assert report["pipeline_over_naive"]["epoch_seconds"] == pytest.approx(p["epoch_seconds"] / n["epoch_seconds"])


def test_a_strategy_run_in_a_fresh_process_gets_the_same_settings(bench, tiny_models, tmp_path):
    """The default isolation: the child process is this script with the same flags and one strategy."""
    data = write_csv(tmp_path / "laws.csv", make_rows(24))
    args = bench.parse_args(
        [
            "--model",
            str(tiny_models["bert"]),
            "--dataset",
            str(data),
            "--max-length",
            "48",
            "--stride",
            "8",
            "--batch-size",
            "4",
            "--max-samples",
            "20",
            "--seed",
            "3",
            "--threads",
            "1",
        ]
    )
    result = bench.run_in_subprocess(args, "naive")
    assert result["strategy"] == "naive" and result["device"] == "CPU (1 threads)"
    assert result["optimizer_steps_per_epoch"] == math.ceil(result["windows"] / 4)
    assert result["computed_tokens_per_epoch"] == result["windows"] * 48
    assert "reset before the training loop" in result["memory_measure"]


def test_padding_only_counts_every_max_length_without_training(bench, tiny_models, tmp_path):
    data = write_csv(tmp_path / "laws.csv", make_rows(120))
    out = tmp_path / "padding.json"
    # --max-length above the tiny model's 128 positions is fine here: only its tokenizer is used
    assert (
        bench.main(
            [
                "--padding-only",
                "--model",
                str(tiny_models["bert"]),
                "--dataset",
                str(data),
                "--max-length",
                "32,64,256",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = json.loads(out.read_text())["padding"]
    assert [r["max_length"] for r in rows] == [32, 64, 256]
    assert rows[0]["windows"] > rows[1]["windows"] > rows[2]["windows"] == 120
    for r in rows:
        assert r["naive"]["computed_tokens"] == r["windows"] * r["max_length"]
        assert (
            r["pipeline"]["real_tokens"]
            == r["naive"]["real_tokens"]
            == r["random_order_padded_per_batch"]["real_tokens"]
        )
        assert r["pipeline"]["padding_efficiency"] > r["naive"]["padding_efficiency"]
        assert r["random_order_padded_per_batch"]["padding_efficiency"] >= r["naive"]["padding_efficiency"]


def test_bench_training_windows_are_the_training_scripts_windows(bench, trainer_module):
    tokenizer = train_tokenizer(model_max_length=128)
    texts = [r["chapter_text"] + "\n\n" + r["section_text"] for r in make_rows(30)]
    assert bench.tokenize_windows(tokenizer, texts, 32, 8) == trainer_module.tokenize_windows(tokenizer, texts, 32, 8)


# --- gpu_check.py -------------------------------------------------------------
def test_sampled_lengths_follow_the_measured_percentiles(gpu_check):
    lengths = sorted(gpu_check.sample_lengths(20_000, seed=1))
    for p, value in gpu_check.LENGTH_PERCENTILES:
        if 5 <= p <= 95:
            assert lengths[int(p / 100 * (len(lengths) - 1))] == pytest.approx(value, rel=0.05), p
    assert min(lengths) >= 31 and max(lengths) <= 4976


def test_simulated_windows_match_the_tokenizer_overflow(gpu_check, trainer_module):
    tokenizer = train_tokenizer(model_max_length=512)
    texts = [r["chapter_text"] + "\n\n" + r["section_text"] for r in make_rows(60, long_every=3)]
    for max_length, stride in ((32, 8), (64, 16), (128, 32)):
        windows = trainer_module.tokenize_windows(tokenizer, texts, max_length, stride)
        full = [len(ids) for ids in tokenizer(texts)["input_ids"]]
        simulated = [n for length in full for n in gpu_check.window_lengths(length, max_length, stride)]
        assert simulated == [len(ids) for ids in windows["input_ids"]]


def test_mfu_peaks_are_looked_up_by_gpu_name(gpu_check):
    assert gpu_check.bf16_peak("NVIDIA L4") == 121e12
    assert gpu_check.bf16_peak("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu_check.bf16_peak("NVIDIA H100 PCIe") == 756e12
    assert gpu_check.bf16_peak("NVIDIA A100-SXM4-80GB") == 312e12
    assert gpu_check.bf16_peak("NVIDIA A10G") == 125e12
    assert gpu_check.bf16_peak("NVIDIA L40S") == 362e12
    assert gpu_check.bf16_peak("Tesla T4") is None


def test_published_configs_have_the_published_sizes(gpu_check):
    for key, (low, high) in {"modernbert": (149e6, 150e6), "roberta": (124e6, 126e6)}.items():
        config = gpu_check.build_config(key, smoke=False, max_length=512)
        with torch.device("meta"):
            from transformers import AutoModelForSequenceClassification

            model = AutoModelForSequenceClassification.from_config(config)
        total, _ = gpu_check.count_parameters(model)
        assert low < total < high, (key, total)
    modern = gpu_check.build_config("modernbert", smoke=False, max_length=1024)
    assert modern.layer_types[:3] == ["full_attention", "sliding_attention", "sliding_attention"]
    assert modern.rope_parameters["full_attention"]["rope_theta"] == 160000.0
    assert modern.rope_parameters["sliding_attention"]["rope_theta"] == 10000.0


def test_the_padding_check_fails_when_the_pads_are_attended_to(gpu_check, monkeypatch):
    """Its negative control: a mask that lets the short window attend to its pads must fail the check."""
    args = gpu_check.parse_args(["--smoke"])
    assert gpu_check.padding_check("modernbert", args, torch.device("cpu"))["passed"]
    real = gpu_check.pad_batch

    def attend_to_pads(seqs, pad_id, length, device):
        ids, mask = real(seqs, pad_id, length, device)
        return ids, torch.ones_like(mask)

    monkeypatch.setattr(gpu_check, "pad_batch", attend_to_pads)
    assert not gpu_check.padding_check("modernbert", args, torch.device("cpu"))["passed"]


def test_gpu_check_smoke_runs_on_cpu_and_prints_every_row(gpu_check, tmp_path, capsys):
    out = tmp_path / "gpu.json"
    assert gpu_check.main(["--smoke", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    for model in ("ModernBERT-base", "RoBERTa-base"):
        for path in ("padded", "naive"):
            assert re.search(
                rf"^\| {model} \| {path} \| sdpa \| [\d,]+ \| [\d,]+ \| [\d,]+ \| [\d.]+% \| [\d.]+ \| [\d,]+"
                r" \| n/a \| n/a \| n/a \|$",
                printed,
                re.MULTILINE,
            ), (model, path)
    report = json.loads(out.read_text())
    assert [(c["model"], c["passed"]) for c in report["padding_checks"]] == [
        ("ModernBERT-base", True),
        ("RoBERTa-base", True),
    ]
    rows = {(r["model"], r["path"]): r for r in report["results"]}
    assert len(rows) == 4
    for model in ("ModernBERT-base", "RoBERTa-base"):
        padded, naive = rows[(model, "padded")], rows[(model, "naive")]
        assert padded["real_tokens"] == naive["real_tokens"] and padded["windows"] == naive["windows"]
        assert naive["computed_tokens"] == naive["windows"] * 128
        assert padded["padding_efficiency"] > naive["padding_efficiency"]
