"""Regenerate the copies that the scripts must carry, from their masters (like transformers' check_copies).

- train_roberta.py = train_modernbert.py with its own DEFAULT_MODEL line (the one line in which they differ);
- EMBEDDED_CARD_TEMPLATE in both = model_card_template.md;
- the `# --- shared: NAME ---` blocks in the other scripts = train_modernbert.py's.

    python tools/sync_copies.py          # rewrite the copies
    python tools/sync_copies.py --check  # exit 1 if any copy drifted (what tests/test_copies.py asserts)
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MASTER = ROOT / "train_modernbert.py"
VARIANTS = {ROOT / "train_roberta.py": '"FacebookAI/roberta-base"'}  # each variant's DEFAULT_MODEL value
OTHER_SCRIPTS = [ROOT / "explore_dataset.py", ROOT / "predict.py", ROOT / "benchmarks" / "bench_training.py"]
DEFAULT_MODEL_RE = re.compile(r'^(DEFAULT_MODEL = )("[^"]*")', re.M)
TEMPLATE_RE = re.compile(r'(EMBEDDED_CARD_TEMPLATE = r""")(.*?)(""")', re.S)
BLOCK_RE = re.compile(r"(# --- shared: (\S+) .*?\n)(.*?)(# --- end shared: \2 ---\n)", re.S)


def with_default_model(text: str, value: str) -> str:
    return DEFAULT_MODEL_RE.sub(lambda m: m.group(1) + value, text, count=1)


def with_template(text: str, template: str) -> str:
    assert '"""' not in template, 'the template may not contain """ (it is embedded in a r""" string)'
    return TEMPLATE_RE.sub(lambda m: m.group(1) + template + m.group(3), text)


def shared_blocks(text: str) -> dict:
    return {m.group(2): m.group(3) for m in BLOCK_RE.finditer(text)}


def with_blocks(text: str, blocks: dict, path: Path) -> str:
    unknown = sorted({m.group(2) for m in BLOCK_RE.finditer(text)} - set(blocks))
    if unknown:  # a misspelt or removed block would otherwise never be checked
        sys.exit(f"{path.name}: shared block(s) {unknown} are not in {MASTER.name}")
    return BLOCK_RE.sub(lambda m: m.group(1) + blocks[m.group(2)] + m.group(4), text)


def expected_files() -> dict:
    template = (ROOT / "model_card_template.md").read_text(encoding="utf-8")
    master = with_template(MASTER.read_text(encoding="utf-8"), template)
    out = {MASTER: master}
    for path, default_model in VARIANTS.items():
        out[path] = with_default_model(master, default_model)
    blocks = shared_blocks(master)
    for path in OTHER_SCRIPTS:
        if path.exists():
            out[path] = with_blocks(path.read_text(encoding="utf-8"), blocks, path)
    marked = {p for p in [*ROOT.glob("*.py"), *ROOT.glob("benchmarks/*.py")] if "# --- shared: " in p.read_text()}
    if unlisted := sorted(p.name for p in marked - set(out)):  # a copy this tool would never check
        sys.exit(f"{', '.join(unlisted)}: holds shared blocks but is not in OTHER_SCRIPTS of {Path(__file__).name}")
    return out


def main() -> int:
    expected = expected_files()
    drifted = [p for p, text in expected.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    if "--check" in sys.argv:
        for p in drifted:
            print(f"{p.name} differs from its master copy: run python tools/sync_copies.py")
        return 1 if drifted else 0
    for p, text in expected.items():
        p.write_text(text, encoding="utf-8")
    print("synced:", ", ".join(p.name for p in drifted) or "nothing to do")
    return 0


if __name__ == "__main__":
    sys.exit(main())
