"""The L4 job, rehearsed on the CPU: the script alone in a folder standing for /data, run from elsewhere as a Hugging
Face Job, against the fake Hub, with the local predictions made in bf16 as on a GPU. And each way the first paid run
would fail or mislead: wrong hardware, a token that cannot write, a repo left with training leftovers, a lost upload.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from conftest import FAKE_TOKEN, ROOT, RUN_FILES, KilledJob, make_rows, write_csv
from fake_hub import FakeHub, hub_error

FAST = ["--max-length", "64", "--stride", "16", "--epochs", "1", "--batch-size", "8", "--learning-rate", "1e-3"]


@pytest.fixture(scope="module")
def small_modernbert(tmp_path_factory):
    """A ModernBERT a little less tiny (width 256, 4 layers): large enough for bf16 rounding to show in its scores."""
    from conftest import train_tokenizer
    from transformers import AutoModelForSequenceClassification, ModernBertConfig

    torch.manual_seed(0)
    tokenizer = train_tokenizer(model_max_length=128)
    ids = {"cls_token_id": tokenizer.cls_token_id, "sep_token_id": tokenizer.sep_token_id}
    config = ModernBertConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=8,
        intermediate_size=384,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=ids["cls_token_id"],
        eos_token_id=ids["sep_token_id"],
        **ids,
    )
    folder = tmp_path_factory.mktemp("models") / "small-modernbert"
    AutoModelForSequenceClassification.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def job(tmp_path, monkeypatch, tiny_models):
    """A job's world: the script alone in data/ (what hf jobs mounts at /data) beside the files passed as arguments,
    run from another working directory, with JOB_ID and a token set and the fake Hub in place of HfApi."""
    import huggingface_hub

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ROOT / "train_modernbert.py", data / "train_modernbert.py")  # the template does not travel
    laws = write_csv(data / "laws.csv", make_rows())
    spec = importlib.util.spec_from_file_location("job_script", data / "train_modernbert.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules["job_script"] = script
    spec.loader.exec_module(script)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("JOB_ID", "rehearsal-1")
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    monkeypatch.delenv("ACCELERATOR", raising=False)
    hub = FakeHub(tmp_path, [])
    monkeypatch.setattr(huggingface_hub, "HfApi", hub)
    monkeypatch.setattr(script.time, "sleep", lambda s: None)
    monkeypatch.setattr(script, "JOB_BUCKET", tmp_path / "bucket")
    argv = ["--dataset", str(laws), "--model", str(tiny_models["bert"]), "--max-samples", "80", *FAST]
    return {"script": script, "hub": hub, "argv": argv, "tmp": tmp_path, "work": work}


def run_job(job, *extra) -> tuple[int, str]:
    """The script's entry point, as `uv run /data/train_modernbert.py ...` calls it; returns (exit code, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        job["script"].entry_point([*job["argv"], *extra])
    return exit_info.value.code


def test_the_job_rehearsal_pushes_a_verified_clean_repo_after_bf16_predictions(job, monkeypatch, small_modernbert):
    script, hub = job["script"], job["hub"]
    job["argv"][job["argv"].index("--model") + 1] = str(small_modernbert)
    job["argv"][job["argv"].index("--learning-rate") + 1] = "1e-7"  # its scores stay spread as initialised
    predicted_in = []
    real_autocast = torch.autocast

    def autocast(device_type, dtype=None, enabled=True, **k):  # what a bf16 GPU does to the local predictions
        predicted_in.append((device_type, dtype, enabled))
        return real_autocast(device_type, dtype=dtype, enabled=enabled, **k)

    monkeypatch.setattr(script, "bf16_here", lambda device: True)
    monkeypatch.setattr(torch, "autocast", autocast)
    assert run_job(job) == 0
    assert ("cpu", torch.bfloat16, True) in predicted_in
    repo = "tester/laws-jim-crow-modernbert"
    assert hub.files(repo) == RUN_FILES  # the run's files and nothing else
    out = job["work"] / "laws-jim-crow-modernbert"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["push"]["verified_files"] == len(RUN_FILES)
    card = (hub.folder(repo) / "README.md").read_text()
    reproduce = card.split("## Reproduction\n\n```bash\n")[1].split("\n```")[0]
    assert reproduce == (
        "hf jobs uv run --flavor l4x1 --secrets HF_TOKEN train_modernbert.py --dataset laws.csv "
        f"--model small-modernbert --max-samples 80 {' '.join(FAST).replace('1e-3', '1e-7')}"
    )
    pushed = "".join(p.read_text(errors="replace") for p in hub.folder(repo).iterdir() if p.suffix in (".md", ".json"))
    assert str(job["tmp"]) not in pushed and "/data/" not in pushed  # no path of the job's machine goes out
    # what the old check compared: the local bf16 predictions against the pushed model reloaded in fp32
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts = [r["chapter_text"] + "\n\n" + r["section_text"] for r in make_rows(16)]
    model = AutoModelForSequenceClassification.from_pretrained(hub.folder(repo))
    tokenizer = AutoTokenizer.from_pretrained(hub.folder(repo))
    local = script.predict_probs(model, tokenizer, texts, 64, 16, 8)
    monkeypatch.setattr(script, "bf16_here", lambda device: False)
    reloaded = script.predict_probs(model, tokenizer, texts, 64, 16, 8)
    gap = float(abs(local - reloaded).max())
    print(f"bf16 local predictions against the fp32 reload: max |difference| {gap:.2e}")
    assert gap > 1e-3  # the tolerance of the check this replaced: it would have failed this good push


@pytest.mark.parametrize(
    "role,orgs,target,expected",
    [
        ("read", [], None, "it is a read-only token"),
        ("write", [{"name": "archive", "roleInOrg": "read"}], "archive/model", "tester's role in archive is read"),
        ("write", [], "archive/model", "tester is not a member of the organization archive"),
    ],
)
def test_a_token_that_cannot_write_stops_the_job_before_training(
    job, monkeypatch, capsys, role, orgs, target, expected
):
    hub = job["hub"]
    hub.role, hub.orgs = role, orgs
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    assert run_job(job, *(["--hub-model-id", target] if target else [])) == 2
    err = capsys.readouterr().err
    assert expected in err and "Make a token with write access" in err
    assert not [e for e in hub.events if isinstance(e, tuple) and e[0] == "create_repo"]


def test_a_fine_grained_token_needs_repo_write_on_the_namespace_or_the_repo(job, monkeypatch, capsys):
    hub = job["hub"]
    hub.role = "fineGrained"
    hub.scopes = [{"entity": {"type": "user", "name": "tester"}, "permissions": ["repo.content.read"]}]
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    assert run_job(job) == 2
    assert "no repo.write permission on tester" in capsys.readouterr().err
    hub.repos["tester/existing"] = {"private": True}
    hub.scopes = [{"entity": {"type": "model", "name": "tester/existing"}, "permissions": ["repo.write"]}]
    args = job["script"].parse_args(["--hub-model-id", "tester/existing"])
    checked = job["script"].check_hub(args, {"type": "bert"}, FAKE_TOKEN)  # a scope on the repo itself will do
    assert checked["repo_id"] == "tester/existing" and ("auth_check", "tester/existing") in hub.events
    hub.scopes = [{"entity": {"type": "model", "name": "tester/other"}, "permissions": ["repo.write"]}]
    with pytest.raises(job["script"].UserError, match="cannot write to tester/existing: the Hub refuses write access"):
        job["script"].check_hub(args, {"type": "bert"}, FAKE_TOKEN)


def test_the_hub_says_whether_a_token_can_write_to_an_existing_repo(job, monkeypatch, capsys):
    """An org's existing repo: the Hub's auth check, not whoami's list of roles, decides (a contributor may write to
    the repos they made, a reader to none)."""
    hub = job["hub"]
    hub.repos["archive/model"] = {"private": True}
    hub.orgs = [{"name": "archive", "roleInOrg": "read"}]
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    assert run_job(job, "--hub-model-id", "archive/model") == 2
    err = capsys.readouterr().err
    assert "HF_TOKEN cannot write to archive/model: the Hub refuses write access (403" in err
    assert "Make a token with write access" in err and ("auth_check", "archive/model") in hub.events


def test_private_on_an_existing_public_repo_is_refused(job, monkeypatch, capsys):
    job["hub"].repos["tester/public-model"] = {"private": False}
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    assert run_job(job, "--hub-model-id", "tester/public-model", "--private") == 2
    assert (
        "tester/public-model already exists and is public; this run would make its model private"
        in capsys.readouterr().err
    )


def test_a_job_without_a_gpu_refuses_a_full_run_and_names_the_flavor(job, monkeypatch, capsys):
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    job["argv"] = [a for a in job["argv"] if a not in ("--max-samples", "80")]
    assert run_job(job, "--no-push") == 2
    err = capsys.readouterr().err
    assert "This Hugging Face Job has no GPU" in err and "--flavor l4x1" in err
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.skip("passed the check"))
    with pytest.raises(pytest.skip.Exception):  # --allow-cpu: the user means it
        job["script"].main([*job["argv"], "--no-push", "--allow-cpu"])


def test_the_job_refusal_comes_within_seconds_through_uv_run(tiny_models, laws_csv, tmp_path):
    """The command of the issue: JOB_ID=1 uv run train_modernbert.py --no-push --dataset <csv> --model <tiny>."""
    env = {**os.environ, "JOB_ID": "1", "HF_HUB_OFFLINE": "1"}
    env.pop("VIRTUAL_ENV", None)
    start = time.time()
    proc = subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            str(ROOT / "train_modernbert.py"),
            "--no-push",
            "--dataset",
            str(laws_csv),
            "--model",
            str(tiny_models["bert"]),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2 and "--flavor l4x1" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "laws-jim-crow-bert").exists()  # nothing written
    print(f"refused after {time.time() - start:.1f} s (uv start-up included)")


def test_an_nvidia_gpu_that_torch_cannot_use_is_named_with_the_fix(job, monkeypatch, capsys):
    monkeypatch.setattr(job["script"], "nvidia_driver", lambda: "535.104.05")
    monkeypatch.setattr(job["script"], "load_data", lambda *a, **k: pytest.fail("the data was loaded"))
    assert run_job(job, "--no-push") == 2
    err = capsys.readouterr().err
    assert "An NVIDIA GPU is here (driver 535.104.05)" in err and f"torch {torch.__version__}" in err
    if torch.version.cuda and torch.version.cuda.startswith("13"):
        assert "needs driver 580.65.06 or newer" in err


@pytest.mark.parametrize(
    "capability,allow_fp16,expected",
    [((7, 5), False, "fp32"), ((7, 5), True, "fp16"), ((8, 9), False, "bf16"), ((9, 0), True, "bf16")],
)
def test_bf16_only_where_the_gpu_computes_it_natively(trainer_module, monkeypatch, capability, allow_fp16, expected):
    """A T4 (7.5) says is_bf16_supported() True, by emulation: it must train in fp32 (or fp16 where allowed)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert trainer_module.training_precision(allow_fp16) == expected
    assert trainer_module.bf16_here(torch.device("cuda")) is (expected == "bf16")


@pytest.mark.parametrize(
    "error,expected",
    [
        ("offline", "offline mode is on (HF_HUB_OFFLINE=1)"),
        ("network", "Could not check HF_TOKEN: could not reach the Hub (ConnectError"),
        ("503", "Could not check HF_TOKEN: the Hub answered 503"),
    ],
)
def test_an_unreachable_or_failing_hub_is_not_called_a_bad_token(job, monkeypatch, capsys, error, expected):
    def whoami(**_):
        raise hub_error(error)

    monkeypatch.setattr(job["hub"], "whoami", whoami)
    assert run_job(job) == 2
    err = capsys.readouterr().err
    assert expected in err and "did not accept" not in err


@pytest.mark.parametrize("resume", [["--resume", "--push-checkpoints"], ["--resume"]])
def test_resume_from_the_hub_leaves_no_leftovers_in_the_repo(job, killed_after_first_save, resume):
    """A killed job's last-checkpoint/ is gone at the end (whether or not the resumed job pushes checkpoints too), the
    fetched checkpoint is never uploaded again, and nothing but the run's files is left (no training_args.bin, no
    hub/: the Trainer's own push is never used)."""
    script, hub = job["script"], job["hub"]
    repo = "tester/laws-jim-crow-bert"
    job["argv"][job["argv"].index("--epochs") + 1] = "2"
    with pytest.raises(KilledJob):  # the first job pushes its checkpoint after epoch 1, then hits its timeout
        script.main([*job["argv"], "--push-checkpoints"])
    assert "last-checkpoint/run_settings.json" in hub.files(repo)
    shutil.rmtree(job["work"] / "laws-jim-crow-bert")  # a new job starts on a new machine
    pushed = {f.split("/")[0] for f in hub.files(repo)}
    assert not {"training_args.bin", "hub"} & pushed  # the Trainer's own push, which would leave them, is not used
    killed_after_first_save()
    assert run_job(job, *resume) == 0
    assert hub.files(repo) == RUN_FILES
    out = job["work"] / "laws-jim-crow-bert"
    history = json.loads((out / "metrics.json").read_text())["validation_history"]
    assert [h["epoch"] for h in history] == [1.0, 2.0]  # epoch 1 came from the Hub's checkpoint
    assert not (out / "hub-checkpoint").exists()


def test_a_failed_upload_in_a_job_keeps_the_files_in_the_jobs_bucket(job, capsys):
    job["hub"].fail_uploads = 99
    (job["tmp"] / "bucket").mkdir()
    assert run_job(job) == 2
    err = capsys.readouterr().err
    kept = job["tmp"] / "bucket" / "laws-jim-crow-bert"
    assert f"kept in this job's bucket, at {kept}" in err and "hf buckets sync" in err and "hf upload" in err
    assert sorted(p.name for p in kept.iterdir()) == RUN_FILES
    assert all((job["work"] / "laws-jim-crow-bert" / name).is_file() for name in RUN_FILES)  # copied, not moved


def test_a_failed_upload_in_a_job_without_a_bucket_says_the_model_will_be_lost(job, capsys):
    job["hub"].fail_uploads = 99
    (job["tmp"] / "bucket").write_text("not a folder")  # no writable bucket
    assert run_job(job) == 2
    assert "This job's disk is wiped when it ends" in capsys.readouterr().err


def test_report_to_reaches_the_trainer(job, monkeypatch):
    import transformers

    seen = []
    original = transformers.TrainingArguments.__post_init__

    class Stop(Exception):
        pass

    def spy(self):
        original(self)
        seen.append(self.report_to)
        raise Stop

    monkeypatch.setattr(transformers.TrainingArguments, "__post_init__", spy)
    monkeypatch.setattr(transformers.integrations, "get_available_reporting_integrations", lambda: ["trackio"])
    for extra in (["--report-to", "trackio"], []):
        with pytest.raises(Stop):
            job["script"].main([*job["argv"], "--no-push", *extra])
    assert seen == [["trackio"], []]  # the default logs nowhere but the console
