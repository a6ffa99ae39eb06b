"""Training on several GPUs: the script relaunches itself under torch.distributed.run, one process per GPU (DDP).
On the CPU the same code runs as two processes with the gloo backend, on a tiny ModernBERT (no dropout, so that the
two-process run can be compared with the one-process run step for step)."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, RUN_FILES, make_rows, write_csv

RUNNER = str(ROOT / "tests" / "ddp_runner.py")
ARGS = ["--epochs", "2", "--max-length", "64", "--stride", "16", "--batch-size", "8", "--learning-rate", "3e-3"]


def train(tmp_path, tiny_models, processes: int, *extra, env_extra=None) -> tuple[subprocess.CompletedProcess, dict]:
    """The training script through the test runner (the fake Hub in a folder), in `processes` processes."""
    hub = tmp_path / f"hub{processes}"
    hub.mkdir()
    data = tmp_path / "laws.csv"
    if not data.exists():  # 104 training windows, 16 validation windows: whole batches of 8 and 16 (see below)
        write_csv(data, make_rows(100))
    argv = [
        str(hub),
        "train_modernbert.py",
        "--dataset",
        str(data),
        "--model",
        str(tiny_models["modernbert"]),
        "--output-dir",
        str(tmp_path / f"out{processes}"),
        *ARGS,
        *extra,
    ]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
    command = [*launcher, RUNNER, *argv] if processes > 1 else [sys.executable, RUNNER, *argv]
    env = {
        **os.environ,
        "HF_TOKEN": "hf_fake",
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        **(env_extra or {}),
    }
    tick = time.time()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    print(f"{processes} process(es): {time.time() - tick:.1f} s wall, exit {proc.returncode}")
    return proc, {p.name: json.loads(p.read_text()) for p in hub.glob("events-rank*.json")}


@pytest.fixture(scope="module")
def runs(tiny_models, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("several")
    one = train(tmp, tiny_models, 1)
    two = train(tmp, tiny_models, 2)
    return tmp, one, two


def test_two_processes_write_one_model_one_card_and_push_once(runs):
    tmp, _, (proc, events) = runs
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (tmp / "out2").iterdir()) == [".classifier-run.json", *RUN_FILES]
    assert set(events) == {"events-rank0.json", "events-rank1.json"}
    assert events["events-rank1.json"] == []  # the second process never talks to the Hub
    commits = [e for e in events["events-rank0.json"] if isinstance(e, list) and e[0] == "create_commit"]
    assert commits == [["create_commit", RUN_FILES]]


def test_the_effective_batch_is_reported_and_the_training_matches_one_process(runs):
    tmp, (proc1, _), (proc2, _) = runs
    assert proc1.returncode == 0 and proc2.returncode == 0
    one, two = (json.loads((tmp / f"out{n}" / "metrics.json").read_text()) for n in (1, 2))
    assert (two["environment"]["processes"], two["environment"]["effective_batch_size"]) == (2, 8)
    assert (one["environment"]["processes"], one["environment"]["effective_batch_size"]) == (1, 8)
    assert "| batch size | 8 (4 per process × 2 processes) |" in (tmp / "out2" / "README.md").read_text()
    # each batch of 8 is cut in two halves: the same batches, the same steps, the same validation losses
    for kind in ("loss", "training_loss"):  # the training loss: the class-weighted mean of the whole batch, not N times
        losses = [[h[kind] for h in m["validation_history"]] for m in (one, two)]
        assert losses[1] == pytest.approx(losses[0], rel=1e-4, abs=1e-6), kind  # float sums in another order
    # The data makes whole batches: with several processes, accelerate completes a short last batch with rows from
    # the first one (even_batches), which one process never does, so the steps would differ there.
    assert two["training_tokens"]["real"] == one["training_tokens"]["real"]  # every process's share counted
    # ... and each process padded only its own half of each batch: the processes really shared the batches out
    assert two["training_tokens"]["computed"] < one["training_tokens"]["computed"]
    assert two["test"]["confusion_matrix"] == one["test"]["confusion_matrix"]


def test_a_failure_on_one_process_stops_the_job_with_its_error(tiny_models, tmp_path):
    tick = time.time()
    proc, _ = train(tmp_path, tiny_models, 2, "--no-push", env_extra={"FAIL_ON_RANK": "1"})
    assert proc.returncode != 0 and "simulated failure on rank 1" in proc.stderr
    assert time.time() - tick < 300  # not a hang: the launcher stops the other process
    assert not (tmp_path / "out2" / "model.safetensors").exists()


@pytest.mark.parametrize(
    "batch,processes,expected", [(16, 1, (False, 16)), (16, 2, (True, 16)), (16, 4, (True, 16)), (7, 2, (False, 14))]
)
def test_the_batch_is_shared_out_where_it_divides_and_reported_honestly_where_not(
    trainer_module, batch, processes, expected
):
    assert trainer_module.share_batches(batch, processes) == expected


class Launcher:
    """Stands for torch.distributed.run's process: each wait() gives the next of `results` (an exception is raised)."""

    def __init__(self, results):
        self.results, self.waits, self.killed = list(results), [], False

    def wait(self, timeout=None):
        self.waits.append(timeout)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    def kill(self):
        self.killed = True


@pytest.mark.parametrize(
    "results, waits, killed",
    [
        ([KeyboardInterrupt(), 130], [None, 60], False),  # the launcher stops its workers in time
        ([KeyboardInterrupt(), subprocess.TimeoutExpired("torchrun", 60)], [None, 60], True),
        ([KeyboardInterrupt(), KeyboardInterrupt()], [None, 60], True),  # a second Ctrl-C: no more waiting
    ],
)
def test_ctrl_c_gives_the_launcher_time_to_stop_its_workers(trainer_module, monkeypatch, results, waits, killed):
    """subprocess.run would kill torch.distributed.run 0.25 s after a Ctrl-C, before it has stopped the training
    processes it started in their own session, which would then go on holding the GPUs."""
    import torch

    launcher = Launcher(results)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(subprocess, "Popen", lambda command, **k: launcher)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert trainer_module.launch_processes(trainer_module.parse_args(["--dataset", "laws.csv"])) == 130
    assert launcher.waits == waits and launcher.killed is killed


@pytest.mark.parametrize("count,gpus,nproc", [(4, None, 4), (4, 2, 2), (4, 1, None), (1, None, None), (0, None, None)])
def test_several_gpus_relaunch_the_same_command_once_per_gpu(trainer_module, monkeypatch, count, gpus, nproc):
    import torch

    launched = []
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(subprocess, "Popen", lambda command, **k: launched.append(command) or Launcher([0]))
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    argv = ["--dataset", "laws.csv", "--max-samples", "200"] + (["--gpus", str(gpus)] if gpus else [])
    result = trainer_module.launch_processes(trainer_module.parse_args(argv))
    if nproc is None:
        assert result is None and launched == []
        assert os.environ.get("CUDA_VISIBLE_DEVICES") == ("0" if count > 1 else None)  # --gpus 1: the first GPU only
    else:
        assert result == 0
        assert launched == [
            [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                f"--nproc-per-node={nproc}",
                str(ROOT / "train_modernbert.py"),
                *argv,
            ]
        ]
