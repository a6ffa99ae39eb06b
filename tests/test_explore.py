"""explore_dataset.py on synthetic data built to have a known answer.

The planted table (100 rows, see `planted_rows`):
- `id`: unique per row -> an identifier, not scored;
- `annotator`: "ruled" on 24 of the 28 positive rows and on nothing else -> leaky;
- `kind`: "local" on 30 rows that are all negative, where 72% of rows are negative -> associated, not leaky;
- `year`: 50 distinct numbers, 2 rows each -> cut into 10 quantile bins;
- `note`: empty on 90 rows -> 90 missing values;
- rows 0-2 share their title and body (one title written with a tab) but are labelled 1, 0, 0;
- rows 5 and 6 have titles that differ only in case; row 61's body is row 60's plus one word;
- every title is 2 four-letter words, every body w four-letter words, each one token of the test
  tokenizer: a body is 5w - 1 characters and w + 2 tokens; title + blank line + body is 5w + 10
  characters and w + 4 tokens. Bodies have w = 10 (rows 0-2), 10 + i (rows 3-94), 600 + i (rows 95-99).
"""

import json
import os
import random
import shutil
import subprocess

import pytest
from conftest import ROOT, import_script, train_tokenizer, write_csv

WORDS = ["each", "five", "from", "home", "kept", "laws", "levy", "meet", "ride", "that", "this", "town", "with"]


def words(n: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(n))


def planted_rows() -> list[dict]:
    titles = iter(
        f"{a} {b}" for a in WORDS for b in WORDS if a != b and (a, b) not in {("laws", "that"), ("town", "home")}
    )
    rows = []
    for i in range(100):
        label = 1 if i % 10 < 3 and i not in (1, 2) else 0
        n_words = 10 if i < 3 else 10 + i if i < 95 else 600 + i
        rows.append(
            {
                "id": f"row_{i:03d}",
                "annotator": "ruled" if label and i >= 20 else "crowd",
                "kind": "local" if i % 10 in (5, 6, 7) else "general",
                "year": 1900 + (i * 37) % 50,
                "note": "see page 2" if i % 10 == 9 else "",
                "label": label,
                "title": next(titles),
                "body": words(n_words, seed=i),
            }
        )
    for i in (0, 1, 2):  # one exact-duplicate group with conflicting labels (1, 0, 0)
        rows[i]["title"], rows[i]["body"] = "laws that", rows[0]["body"]
    rows[1]["title"] = "laws\tthat"  # equal after whitespace normalisation
    rows[5]["title"], rows[6]["title"] = "TOWN HOME", "town home"  # equal only after case folding
    rows[61]["body"] = rows[60]["body"] + " levy"  # a near-duplicate: 68 of 69 word 3-grams shared
    return rows


@pytest.fixture(scope="module")
def explore():
    return import_script("explore_dataset.py")


@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("explore") / "planted.csv", planted_rows())


@pytest.fixture(scope="module")
def word_tokenizer(tmp_path_factory):
    """The conftest tokenizer (lower-cases; every word in WORDS is one token), saved as a folder."""
    folder = tmp_path_factory.mktemp("tokenizer")
    tokenizer = train_tokenizer(model_max_length=512, extra_words=tuple(WORDS))
    assert all(tokenizer.tokenize(w) == [w] for w in WORDS)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def report(explore, planted_csv, word_tokenizer, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.json"
    code = explore.main(
        [
            "--dataset",
            str(planted_csv),
            "--text-columns",
            "title,body",
            "--label-column",
            "label",
            "--tokenizer",
            str(word_tokenizer),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    return json.loads(out.read_text()), out.with_suffix(".md").read_text()


def column(report, name):
    return next(c for c in report["leakage"]["columns"] if c["column"] == name)


def test_schema_and_labels(report):
    r, _ = report
    assert r["schema"]["rows"] == 100
    assert r["schema"]["splits"] == {"train": 100}
    columns = {c["name"]: c for c in r["schema"]["columns"]}
    assert list(columns) == ["id", "annotator", "kind", "year", "note", "label", "title", "body"]
    assert columns["note"]["missing"] + columns["note"]["empty"] == 90
    assert columns["id"]["distinct"] == 100 and columns["year"]["distinct"] == 50
    assert columns["year"]["type"] == "int64"
    assert r["labels"]["classes"] == [
        {"label": "0", "rows": 72, "share": 0.72, "weight": 0.6944},  # 100 / (2 * 72)
        {"label": "1", "rows": 28, "share": 0.28, "weight": 1.7857},  # 100 / (2 * 28)
    ]
    assert r["labels"]["split"] == {
        "rows_needed_per_class": 20,
        "too_small": {},
        "min_max_samples": 72,
    }  # 20 / 0.28 = 71.4


def test_lengths_in_characters_and_tokens(report):
    r, _ = report
    chars, tokens = r["lengths"]["chars"], r["lengths"]["tokens"]
    # Sorted word counts: 10, 10, 10, 13, 14, ..., 104 (rank 95), 695, ..., 699. Nearest rank: p50 = 59 words.
    assert {k: chars["body"][k] for k in ("rows", "p50", "p90", "p95", "p99", "max")} == {
        "rows": 100,
        "p50": 294,
        "p90": 494,
        "p95": 519,
        "p99": 3489,
        "max": 3494,
    }
    assert {k: chars["input_text"][k] for k in ("p50", "p95", "p99", "max")} == {
        "p50": 305,
        "p95": 530,
        "p99": 3500,
        "max": 3505,
    }
    assert {k: tokens["body"][k] for k in ("p50", "p90", "p95", "p99", "max")} == {
        "p50": 61,
        "p90": 101,
        "p95": 106,
        "p99": 700,
        "max": 701,
    }
    assert tokens["body"]["over_512"] == {"rows": 5, "share": 0.05}
    assert tokens["body"]["over_8192"] == {"rows": 0, "share": 0.0}
    assert {k: tokens["input_text"][k] for k in ("p50", "p90", "p95", "p99", "max")} == {
        "p50": 63,
        "p90": 103,
        "p95": 108,
        "p99": 702,
        "max": 703,
    }
    assert r["lengths"]["max_length"] == {
        "covers_95": 108,
        "covers_99": 702,
        "model_max_length": 512,
        "suggested": 112,
        "capped_by_model": False,
    }


def test_exact_and_near_duplicates(report):
    r, _ = report
    exact = r["duplicates"]["exact"]
    assert {
        k: exact["title"][k]
        for k in ("groups", "rows", "conflicting_groups", "conflicting_rows", "casefold_groups", "casefold_rows")
    } == {
        "groups": 1,
        "rows": 3,
        "conflicting_groups": 1,
        "conflicting_rows": 3,
        "casefold_groups": 2,
        "casefold_rows": 5,
    }
    for name in ("body", "input_text"):
        assert {k: exact[name][k] for k in ("groups", "rows", "conflicting_groups", "casefold_groups")} == {
            "groups": 1,
            "rows": 3,
            "conflicting_groups": 1,
            "casefold_groups": 1,
        }
    assert exact["input_text"]["examples"][0]["ids"] == ["row_000", "row_001", "row_002"]
    assert exact["input_text"]["examples"][0]["labels"] == {"0": 2, "1": 1}
    near = r["duplicates"]["near"]["columns"]
    assert r["duplicates"]["near"]["threshold"] == 0.8
    assert {k: near["body"][k] for k in ("groups", "rows", "pairs", "conflicting_groups")} == {
        "groups": 1,
        "rows": 2,
        "pairs": 1,
        "conflicting_groups": 0,
    }
    assert near["body"]["examples"][0]["ids"] == ["row_060", "row_061"]
    assert near["title"]["examples"][0]["ids"] == ["row_005", "row_006"]  # same words, different case: Jaccard 1
    assert (near["input_text"]["groups"], near["input_text"]["rows"]) == (1, 2)
    assert r["duplicates"]["split_groups"] == {"groups": 1, "rows": 3}


def test_leakage_verdicts(report):
    r, _ = report
    assert [c["column"] for c in r["leakage"]["columns"]] == ["id", "annotator", "kind", "year", "note"]
    assert column(r, "id")["verdict"] == "identifier" and "cramers_v" not in column(r, "id")
    annotator = column(r, "annotator")
    assert annotator["verdict"] == "leaky"
    assert annotator["pinned"] == {"1": {"rows": 24, "label_rows": 28, "values": ["ruled"], "share": 0.8571}}
    ruled = next(v for v in annotator["values"] if v["value"] == "ruled")
    assert ruled == {
        "value": "ruled",
        "rows": 24,
        "label_counts": {"0": 0, "1": 24},
        "top_label": "1",
        "top_share": 1.0,
        "pins_label": True,
    }
    kind = column(r, "kind")
    assert kind["verdict"] == "associated" and kind["pinned"] == {}
    assert kind["cramers_v"] == pytest.approx(0.3977, abs=1e-4)  # phi 0.408, bias-corrected for n = 100
    local = next(v for v in kind["values"] if v["value"] == "local")
    assert (local["rows"], local["top_label"], local["top_share"], local["pins_label"]) == (30, "0", 1.0, False)
    year = column(r, "year")
    assert year["kind"] == "numeric, 10 quantile bins" and [v["rows"] for v in year["values"]] == [10] * 10
    assert year["verdict"] != "leaky"
    note = column(r, "note")
    assert {v["value"]: v["rows"] for v in note["values"]} == {"(missing)": 90, "see page 2": 10}
    assert note["verdict"] != "leaky"


def test_recommendations_map_to_training_flags(report, planted_csv, word_tokenizer):
    r, markdown = report
    flags = {f["flag"]: f["value"] for f in r["recommendations"]["flags"]}
    assert flags == {
        "--drop-columns": "annotator",
        "--id-column": "id",
        "--max-length": "112",
        "--max-samples": ">= 72",
    }
    assert r["recommendations"]["command"] == (
        f"uv run train_modernbert.py --dataset {planted_csv} --text-columns title,body "
        f"--label-column label --model {word_tokenizer} --drop-columns annotator --id-column id --max-length 112"
    )  # the lengths were counted with --tokenizer: training with that model keeps them true
    assert any(
        "rows with the same input text carry different labels (groups: 1, rows: 3)" in w
        for w in r["recommendations"]["warnings"]
    )
    assert "| `annotator` | categorical | **leaky** |" in markdown
    assert "--drop-columns annotator --id-column id --max-length 112" in markdown


def test_verdicts_on_the_books_proportions(explore):
    """The counts the issue states for biglam/on_the_books (per value of `source` and `type`), rebuilt as
    synthetic rows: `source` must be leaky, `type` associated but not leaky."""
    import datasets

    def rows(spec):
        values, labels = [], []
        for value, positive, total in spec:
            values += [value] * total
            labels += ["1"] * positive + ["0"] * (total - positive)
        return values, labels

    source, labels = rows([("project experts", 403, 1673), ("paschal", 74, 74), ("murray", 35, 38)])
    audit = explore.audit_column("source", source, datasets.Value("string"), labels, ["0", "1"])
    assert audit["verdict"] == "leaky"
    assert audit["pinned"]["1"] == {"rows": 109, "label_rows": 512, "values": ["paschal", "murray"], "share": 0.2129}
    kind, labels = rows(
        [
            ("public laws", 310, 749),
            ("private laws", 166, 527),
            ("public local laws", 13, 304),
            ("session laws", 23, 205),
        ]
    )
    audit = explore.audit_column("type", kind, datasets.Value("string"), labels, ["0", "1"])
    assert audit["verdict"] == "associated" and audit["pinned"] == {}
    assert 0.3 < audit["cramers_v"] < 0.33


def test_verdict_edge_cases(explore):
    import datasets

    string = datasets.Value("string")
    # A value that pins the minority label, but on only 10 of its 200 rows (5%): associated, not leaky.
    values = ["rare"] * 10 + ["common"] * 990
    labels = ["1"] * 10 + ["1"] * 190 + ["0"] * 800
    audit = explore.audit_column("c", values, string, labels, ["0", "1"])
    assert audit["pinned"]["1"]["share"] == 0.05 and audit["verdict"] != "leaky"
    # Half the rows carry a value that is always the majority label: large association, leaky by Cramér's V.
    values = ["a"] * 500 + ["b"] * 500
    labels = ["0"] * 500 + ["0"] * 250 + ["1"] * 250
    audit = explore.audit_column("c", values, string, labels, ["0", "1"])
    assert audit["pinned"] == {} and audit["verdict"] == "leaky" and audit["cramers_v"] >= 0.5
    # Too few rows to pin: 9 rows, all positive.
    values = ["x"] * 9 + ["y"] * 91
    labels = ["1"] * 9 + ["1"] * 21 + ["0"] * 70
    assert explore.audit_column("c", values, string, labels, ["0", "1"])["pinned"] == {}
    # Constant column; a float column that is unique per row is a measurement, not an identifier.
    assert explore.audit_column("c", ["same"] * 4, string, ["0", "1", "0", "1"], ["0", "1"])["verdict"] == "constant"
    floats = [i / 7 for i in range(100)]
    assert (
        explore.audit_column("f", floats, datasets.Value("float64"), ["0", "1"] * 50, ["0", "1"])["kind"]
        == "numeric, 10 quantile bins"
    )
    assert (
        explore.audit_column("n", list(range(100)), datasets.Value("int64"), ["0", "1"] * 50, ["0", "1"])["verdict"]
        == "identifier"
    )


def test_near_duplicates_scale_without_comparing_all_pairs(explore):
    """3,000 random texts with 3 planted near-copies: exactly those pairs are found, from far fewer
    candidate pairs than the 4.5 million a full comparison would need."""
    rng = random.Random(0)
    vocab = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choice(vocab) for _ in range(40)) for _ in range(3000)]
    for a, b in ((10, 2000), (500, 2500), (1200, 2999)):
        copy = texts[a].split()
        copy[20] = "changed"  # 3 of 38 word 3-grams change: Jaccard 35/41 = 0.85
        texts[b] = " ".join(copy)
    groups, pairs = explore.near_duplicate_groups(texts, 0.8)
    assert sorted(groups) == [[10, 2000], [500, 2500], [1200, 2999]] and pairs == 3
    shingles = explore.word_shingles(texts)
    candidates = explore.lsh_candidate_pairs(explore.minhash_signatures(shingles, 120))
    assert {(10, 2000), (500, 2500), (1200, 2999)} <= candidates and len(candidates) < 1000


def test_exact_duplicates_normalisation(explore):
    texts = [
        "That all laws  are repealed.",
        "That all laws are repealed.\n",
        "THAT ALL LAWS ARE REPEALED.",
        None,
        "",
        "other",
    ]
    assert explore.exact_duplicate_groups(texts) == [[0, 1]]
    assert explore.exact_duplicate_groups(texts, casefold=True) == [[0, 1, 2]]


def test_small_class_warning(explore):
    balance = explore.label_balance(["a"] * 200 + ["b"] * 15 + [None] * 3)
    assert balance["missing"] == 3 and [c["rows"] for c in balance["classes"]] == [200, 15]
    split = explore.split_warnings(balance)
    assert split == {"rows_needed_per_class": 20, "too_small": {"b": 15}, "min_max_samples": None}


def test_splits_of_a_saved_dataset_dict(explore, tmp_path):
    import datasets

    rows = planted_rows()
    dd = datasets.DatasetDict(
        {"train": datasets.Dataset.from_list(rows[:80]), "test": datasets.Dataset.from_list(rows[80:])}
    )
    dd.save_to_disk(str(tmp_path / "saved"))
    assert explore.split_sizes(str(tmp_path / "saved"), 100, None) == {"train": 80, "test": 20}


def test_characters_only_and_user_errors(explore, planted_csv, tmp_path, capsys):
    out = tmp_path / "chars.json"
    assert (
        explore.main(
            ["--dataset", str(planted_csv), "--text-columns", "body", "--label-column", "label", "--output", str(out)]
        )
        == 0
    )
    r = json.loads(out.read_text())
    assert r["lengths"]["tokens"] is None and r["lengths"]["max_length"] is None
    assert next(f for f in r["recommendations"]["flags"] if f["flag"] == "--max-length")["value"] is None
    assert [c["column"] for c in r["leakage"]["columns"]] == ["id", "annotator", "kind", "year", "note", "title"]
    capsys.readouterr()

    with pytest.raises(SystemExit) as exit_info:
        explore.run(
            [
                "--dataset",
                str(planted_csv),
                "--text-columns",
                "body",
                "--label-column",
                "jim_crow",
                "--output",
                str(out),
            ]
        )
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--label-column: column(s) ['jim_crow'] not in the dataset" in err
    assert "id, annotator, kind, year, note, label, title, body" in err

    with pytest.raises(SystemExit) as exit_info:
        explore.run(["--dataset", str(tmp_path / "nowhere.csv"), "--output", str(out)])
    assert exit_info.value.code == 2
    assert "no such file or folder" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not installed")
def test_uv_run_writes_json_markdown_and_picture(planted_csv, tmp_path):
    """The script as a user runs it: uv builds its environment from the PEP 723 header (slow the first time)."""
    out = tmp_path / "uv" / "report.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run(
        [
            "uv",
            "run",
            "--quiet",
            "explore_dataset.py",
            "--dataset",
            str(planted_csv),
            "--text-columns",
            "title,body",
            "--label-column",
            "label",
            "--output",
            str(out),
            "--plot",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["schema"]["rows"] == 100 and column(r, "annotator")["verdict"] == "leaky"
    assert r["duplicates"]["exact"]["body"]["groups"] == 1 and r["lengths"]["chars"]["body"]["p95"] == 519
    assert "## Leakage audit" in out.with_suffix(".md").read_text()
    assert "## Leakage audit" in done.stdout  # the same report on the terminal
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_output_that_is_the_dataset_file_is_refused_and_the_data_kept(explore, tmp_path, capsys):
    data = tmp_path / "laws.json"
    data.write_text(json.dumps([{"title": "An act", "body": "separate schools", "label": 1}] * 30))
    before = data.read_bytes()
    argv = ["--dataset", str(data), "--text-columns", "title,body", "--label-column", "label"]
    with pytest.raises(SystemExit) as exit_info:
        explore.main([*argv, "--output", str(tmp_path / "." / "laws.json")])
    assert exit_info.value.code == 2 and "is the --dataset file itself" in capsys.readouterr().err
    assert data.read_bytes() == before


def test_command_says_drop_nothing_when_no_column_leaks(explore, tmp_path):
    rows = [{k: v for k, v in row.items() if k != "annotator"} for row in planted_rows()]
    out, data = tmp_path / "clean.json", write_csv(tmp_path / "clean.csv", rows)
    argv = ["--dataset", str(data), "--text-columns", "title,body", "--label-column", "label", "--output", str(out)]
    assert explore.main(argv) == 0
    r = json.loads(out.read_text())
    assert "leaky" not in [c["verdict"] for c in r["leakage"]["columns"]]
    assert next(f for f in r["recommendations"]["flags"] if f["flag"] == "--drop-columns")["value"] == ""
    assert r["recommendations"]["command"].endswith("--label-column label --drop-columns '' --id-column id")


def test_percentiles_are_nearest_rank_and_max_length_stops_at_the_model_limit(explore):
    s = explore.length_summary([5, 1, 7, 3, 2, 6, 4])  # 7 rows: rank ceil(q * 7 / 100)
    assert (s["p50"], s["p90"], s["p95"], s["p99"], s["max"]) == (4, 7, 7, 7, 7)
    assert explore.covering_max_length({"p95": 700, "p99": 900}, 512) == {
        "covers_95": 700,
        "covers_99": 900,
        "model_max_length": 512,
        "suggested": 512,
        "capped_by_model": True,
    }
    assert explore.covering_max_length({"p95": 100, "p99": 900}, None)["suggested"] == 104


def test_markdown_tables_say_what_the_json_says(report):
    r, md = report
    assert "| `input_text` | 100 | 63 | 103 | 108 | 702 | 703 | 5.0% | 0.0% |" in md
    assert "| `body` | 1 | 2 | 1 | 0 |" in md  # near: groups, rows, pairs, conflicting
    assert "| `kind` | categorical | associated | 0.398 |" in md
    assert "| `year` | numeric, 10 quantile bins | weak |" in md


@pytest.mark.parametrize("output", ["report.md", "report", "report.json.md", "report.png"])
def test_output_must_end_in_json(explore, output, capsys):
    """The Markdown copy goes to <output>.md and the picture to <output>.png: a .md --output would be overwritten."""
    with pytest.raises(SystemExit) as exit_info:
        explore.parse_args(["--output", output])
    assert exit_info.value.code == 2
    assert f"--output {output}: must end in .json" in capsys.readouterr().err
    assert explore.parse_args(["--output", "out/report.json"]).output.name == "report.json"


def test_report_names_the_positive_label(explore, report, planted_csv, tmp_path):
    r, markdown = report
    # a 0/1 column: the training scripts name its labels no_label / label, and flag `label` (the rows labelled 1)
    assert r["labels"]["positive_label"] == {
        "name": "label",
        "label": "1",
        "reason": "`no_label` is named as the negative",
    }
    assert "Positive label: `label` (rows labelled `1`): `no_label` is named as the negative." in markdown
    assert "--positive-label" not in json.dumps(r["recommendations"])
    # two names, neither named as the negative: the rule falls back to the one that sorts last
    rows = [{**row, "label": "skip" if row["label"] else "keep"} for row in planted_rows()]
    out = tmp_path / "words.json"
    data = write_csv(tmp_path / "words.csv", rows)
    argv = ["--dataset", str(data), "--text-columns", "body", "--label-column", "label", "--output", str(out)]
    assert explore.main(argv) == 0
    r = json.loads(out.read_text())
    assert r["labels"]["positive_label"] == {
        "name": "skip",
        "label": "skip",
        "reason": "it sorts last; choose with --positive-label",
    }
    flag = next(f for f in r["recommendations"]["flags"] if f["flag"] == "--positive-label")
    assert flag["value"] == "skip" and "--positive-label <name>" in flag["why"]
    assert "`--positive-label skip`" in out.with_suffix(".md").read_text()
    assert explore.positive_label(["a", "b", "c"], None, "label") is None  # more than two labels: no positive class


def test_label_shares_leave_out_the_unlabelled_rows_and_a_class_of_exactly_the_minimum_is_enough(explore):
    balance = explore.label_balance(["a", "a", "b", "b", None])
    assert balance["missing"] == 1 and [c["share"] for c in balance["classes"]] == [0.5, 0.5]
    need = explore.rows_needed_per_class()
    at = explore.split_warnings(explore.label_balance(["a"] * need + ["b"] * 100))
    below = explore.split_warnings(explore.label_balance(["a"] * (need - 1) + ["b"] * 100))
    assert at["too_small"] == {} and below["too_small"] == {"a": need - 1}


def test_a_true_false_label_column_is_named_as_the_training_scripts_name_it(explore):
    from datasets import Value

    found = explore.positive_label(["False", "True"], Value("bool"), "jim_crow")
    assert (found["name"], found["label"]) == ("jim_crow", "True")  # True is `jim_crow`, False `no_jim_crow`
    assert explore.positive_label(["no", "yes"], Value("string"), "flag")["name"] == "yes"


def test_the_label_named_as_the_column_is_flagged_by_explore_and_training_alike(explore, trainer_module):
    """`other` and `jim_crow` in the column `jim_crow` (e.g. --label-names other,jim_crow): neither is named as a
    negative; `other` sorts last, but the label named as the column is the one to flag, in explore's report and in
    training, where the card's words (TASK_CARD, flagging jim_crow) then apply."""
    from datasets import Value

    found = explore.positive_label(["other", "jim_crow"], Value("string"), "jim_crow")
    assert found["name"] == "jim_crow" and found["reason"].startswith("it is named as the label column")
    t = trainer_module
    args = t.parse_args(["--label-names", "other,jim_crow"])
    labels, names, why = t.positive_class([0, 1, 1], ["other", "jim_crow"], args)
    assert (labels, names, why) == ([0, 1, 1], ["other", "jim_crow"], found["reason"])
    assert t.card_words(args, names)[0] is t.TASK_CARD
    assert t.choose_positive(["other", "jim_crow"], None)[0] == "other"  # without the column: the one sorting last
