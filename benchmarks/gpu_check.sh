#!/usr/bin/env bash
# The GPU check in one command, for a GPU machine with no network access:
#
#     bash benchmarks/gpu_check.sh                 # both models, both paths (a few minutes on an H100)
#     bash benchmarks/gpu_check.sh --models roberta
#
# Runs benchmarks/gpu_check.py (arguments are passed on) with the first Python that has a CUDA
# build of torch and transformers: $PYTHON if set, else .venv/bin/python, python3, python. Nothing is
# downloaded: the models are built from configs written in the script, with random weights.
# Prints tokens/s, padding efficiency, epoch time, peak memory and MFU per model and path, and
# writes gpu_check.json (--output to change).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

probe='import torch, transformers; raise SystemExit(0 if torch.cuda.is_available() else 3)'
python=""
for candidate in ${PYTHON:-} .venv/bin/python python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "$probe" 2>/dev/null; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "gpu_check.sh: no Python here has torch with CUDA and transformers (tried: ${PYTHON:-} .venv/bin/python python3 python)." >&2
    echo "Set PYTHON=/path/to/python, or run 'python3 benchmarks/gpu_check.py --smoke' to test the code on a CPU." >&2
    exit 1
fi

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv || true
echo "python: $(command -v "$python")"
"$python" - <<'EOF'
import importlib.metadata as md
for name in ("torch", "transformers", "accelerate"):
    try:
        print(f"{name} {md.version(name)}")
    except md.PackageNotFoundError:
        print(f"{name}: not installed")
EOF
exec "$python" benchmarks/gpu_check.py "$@"
