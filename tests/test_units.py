"""Pure pieces of the training scripts: labels, duplicates, splits, weights, windows, metrics."""

import types

import numpy as np
import pytest
from conftest import make_rows, train_tokenizer


@pytest.fixture(scope="module")
def t(trainer_module):
    return trainer_module


# --- labels -----------------------------------------------------------------
def test_binary_int_labels_get_named_after_the_column(t):
    ids, names = t.encode_labels([0, 1, 1, 0], "jim_crow", None, None)
    assert names == ["no_jim_crow", "jim_crow"] and ids == [0, 1, 1, 0]


def test_string_labels_use_sorted_values(t):
    ids, names = t.encode_labels(["road", "school", "court", "road"], "topic", None, None)
    assert names == ["court", "road", "school"] and ids == [1, 2, 0, 1]


def test_classlabel_names_are_kept_and_label_names_override(t):
    assert t.encode_labels([1, 0], "y", ["neg", "pos"], None) == ([1, 0], ["neg", "pos"])
    assert t.encode_labels([1, 0], "y", None, ["ok", "flag"])[1] == ["ok", "flag"]
    with pytest.raises(t.UserError, match="gives 3 names"):
        t.encode_labels([1, 0], "y", None, ["a", "b", "c"])


def test_integer_valued_floats_are_classes_but_real_floats_are_refused(t):
    assert t.encode_labels([0.0, 1.0, 1.0], "jim_crow", None, None)[0] == [0, 1, 1]
    with pytest.raises(t.UserError, match="regression"):
        t.encode_labels([0.2, 1.7, 3.1], "score", None, None)


def test_one_class_is_refused(t):
    with pytest.raises(t.UserError, match="at least two classes"):
        t.encode_labels([1, 1, 1], "jim_crow", None, None)


# --- duplicates and splits ----------------------------------------------------
class Table(dict):
    """The two things duplicate_groups needs from a datasets.Dataset: len() and column access."""

    def __len__(self):
        return len(next(iter(self.values())))


def test_duplicate_groups_join_rows_sharing_any_normalised_text(t):
    table = Table(chapter=["A", "A", "B", "C", "D"], section=["x  y", "z", "x y", "w", "v"])
    groups = t.duplicate_groups(table, ["chapter", "section"])
    assert groups[0] == groups[1] == groups[2]  # 0-1 share a chapter, 0-2 a section (whitespace differs)
    assert len({groups[0], groups[3], groups[4]}) == 3


def union_find_groups(table, text_columns: list[str]) -> list[int]:
    """What the script computed by hand before scipy's connected_components did it."""
    import re

    parent = list(range(len(table)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for column in text_columns:
        first_row = {}
        for i, value in enumerate(table[column]):
            key = re.sub(r"\s+", " ", str(value or "")).strip()
            if key:
                parent[find(i)] = find(first_row.setdefault(key, i))
    roots = [find(i) for i in range(len(table))]
    number = {r: n for n, r in enumerate(dict.fromkeys(roots))}
    return [number[r] for r in roots]


def test_duplicate_groups_equal_the_union_find_ones_on_random_tables(t):
    """The same groups, numbered the same way (in order of first appearance: holdout_split sorts by number)."""
    rng = np.random.default_rng(0)
    words = ["a", "b", "a ", " b\t", "c", "", None, "d  e", "d e"]  # blanks join nothing; spacing does not count
    for case in range(500):
        n, k = int(rng.integers(1, 40)), int(rng.integers(1, 4))
        vocabulary = words + [f"t{i}" for i in range(int(rng.integers(1, 60)))]
        table = Table({f"c{j}": [vocabulary[i] for i in rng.integers(0, len(vocabulary), n)] for j in range(k)})
        assert t.duplicate_groups(table, list(table)) == union_find_groups(table, list(table)), case
    assert t.duplicate_groups(Table(a=["", None]), ["a"]) == [0, 1]  # no text shared: each row its own group


def test_grouped_split_is_stratified_disjoint_reproducible_and_keeps_groups(t):
    rows = make_rows(200)
    labels = [r["jim_crow"] for r in rows]
    groups = t.duplicate_groups(Table(section=[r["section_text"] for r in rows]), ["section"])
    split = t.grouped_split(labels, groups, 0.1, 0.1, seed=3)
    assert split == t.grouped_split(labels, groups, 0.1, 0.1, seed=3)
    assert split != t.grouped_split(labels, groups, 0.1, 0.1, seed=4)
    everything = split["train"] + split["validation"] + split["test"]
    assert sorted(everything) == list(range(200))
    for part in split.values():  # each split holds 25-35% positives, like the whole (30%)
        assert 0.25 <= np.mean([labels[i] for i in part]) <= 0.35
        assert 15 <= len(part) or part is split["train"]
    where = {i: name for name, part in split.items() for i in part}
    dup = [i for i, r in enumerate(rows) if r["section_text"].startswith("That the earlier acts on this subject")]
    assert len(dup) == 3 and len({where[i] for i in dup}) == 1


def test_class_weights_are_inverse_frequency(t):
    w = t.class_weights([0] * 70 + [1] * 30, 2)
    assert w == pytest.approx([100 / (2 * 70), 100 / (2 * 30)])
    assert sum(wc * n for wc, n in zip(w, (70, 30), strict=True)) == pytest.approx(
        100
    )  # classes carry equal total weight
    assert t.class_weights([0, 1, 1, 2, 2, 2], 3) == pytest.approx([2.0, 1.0, 2 / 3])
    rng = np.random.default_rng(0)
    for _ in range(200):  # the very numbers of N / (K * n_c), not close ones
        k = int(rng.integers(2, 6))
        labels = [*range(k), *rng.integers(0, k, int(rng.integers(0, 300))).tolist()]  # every class trains
        assert t.class_weights(labels, k) == [len(labels) / (k * labels.count(c)) for c in range(k)]
    # a class with no training row (a held-out group that holds all of it) weighs as one row; the others keep theirs
    assert t.class_weights([0, 0, 2], 3) == pytest.approx([3 / (3 * 2), 3 / 3, 3 / 3])


def test_too_few_rows_of_a_class_names_the_numbers(t):
    class Args:
        validation_size, test_size, max_samples, seed = 0.1, 0.1, 50, 0

    full = [0] * 900 + [1] * 100
    with pytest.raises(t.UserError) as err:
        t.choose_rows(full, ["no", "yes"], Args)
    msg = str(err.value)
    assert "'yes': 5" in msg and "at least 20" in msg and "--max-samples 200 or more" in msg
    Args.max_samples = 200
    chosen = t.choose_rows(full, ["no", "yes"], Args)  # 200 is enough
    assert len(chosen) == 200 and sum(full[i] for i in chosen) == 20
    Args.max_samples = None
    with pytest.raises(t.UserError, match="Add rows of those classes"):
        t.choose_rows([0] * 45 + [1] * 5, ["no", "yes"], Args)


# --- windows --------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(model_max_length=128)


def test_a_text_three_windows_long_gives_three_overlapping_windows_with_its_label(t, tokenizer):
    words = [f"w{i}" for i in range(40)]
    tokenizer.add_tokens(words)  # one token per word, so the arithmetic below is exact
    max_length, stride = 16, 4  # 14 content tokens per window, 4 shared: 14 + 10 + 10 >= 34 > 14 + 10
    text = " ".join(words[:34])
    win = t.tokenize_windows(tokenizer, ["short text", text], max_length, stride, labels=[0, 1])
    rows = win["row"]
    assert rows == [0, 1, 1, 1]
    assert win["labels"] == [0, 1, 1, 1]
    bodies = [tokenizer.convert_ids_to_tokens(ids)[1:-1] for ids in win["input_ids"][1:]]
    assert [len(b) for b in bodies] == [14, 14, 14]
    assert bodies[0][-4:] == bodies[1][:4] and bodies[1][-4:] == bodies[2][:4]  # overlap of `stride` tokens
    assert bodies[0][0] == "w0" and bodies[2][-1] == "w33"  # nothing lost at either end
    assert all(len(ids) <= max_length for ids in win["input_ids"])


def test_aggregation_gives_one_prediction_per_row(t):
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    rows = [0, 0, 0, 1]
    top = t.aggregate_windows(probs, rows, 2, "max")
    mean = t.aggregate_windows(probs, rows, 2, "mean")
    assert top.shape == mean.shape == (2, 2)
    assert top[0] == pytest.approx([0.2, 0.8]) and top[1] == pytest.approx([0.7, 0.3])
    assert mean[0] == pytest.approx([1.7 / 3, 1.3 / 3])
    three = t.aggregate_windows(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), [0, 0], 1, "max")
    assert three.sum() == pytest.approx(1) and three.argmax() == 2


def test_a_signal_only_in_the_last_window_reaches_the_row_score(t, tokenizer):
    """A fixed scoring function stands in for the model: a window scores 0.9 when it holds 'colored'."""
    import torch

    flag_id = tokenizer.convert_tokens_to_ids("colored")
    assert flag_id != tokenizer.unk_token_id

    class Scorer(torch.nn.Module):
        config = type("C", (), {"num_labels": 2})()

        def __init__(self):
            super().__init__()
            self.dummy = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, attention_mask, **_):
            hit = ((input_ids == flag_id) & attention_mask.bool()).any(1).float()
            p = 0.1 + 0.8 * hit
            return type("O", (), {"logits": torch.stack([torch.log(1 - p), torch.log(p)], 1)})()

    long_text = " ".join(["the commissioners may levy a tax"] * 40) + " for the colored school"
    probs, window_probs, window_rows = t.predict_probs(Scorer(), tokenizer, [long_text], 32, 8, 4, return_windows=True)
    assert len(window_rows) > 3
    assert window_probs[0][1] == pytest.approx(0.1) and window_probs[-1][1] == pytest.approx(
        0.9
    )  # only the end sees it
    assert probs.shape == (1, 2) and probs[0, 1] == pytest.approx(0.9)
    truncated = t.predict_probs(Scorer(), tokenizer, [long_text[:200]], 32, 8, 4)
    assert truncated[0, 1] == pytest.approx(0.1)  # what truncation would have reported


# --- metrics ------------------------------------------------------------------
def hand_written_thresholds(y, s, targets) -> dict[str, float]:
    """What the script computed by hand before sklearn's precision_recall_curve did it: the F1 argmax over every
    distinct score (a tie to the higher threshold), and the score of the k-th most likely positive per recall target."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    tp, fp = np.cumsum(y_sorted == 1), np.cumsum(y_sorted != 1)
    last_of_value = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    f1 = np.where(last_of_value, 2 * tp / (tp + fp + max(int((y == 1).sum()), 1)), -1)
    named = {"f1": float(s_sorted[int(np.argmax(f1))])}
    positives = np.sort(s[y == 1])[::-1]
    for target in targets:
        named[f"recall_{target:.2f}"] = float(positives[max(int(np.ceil(target * len(positives) - 1e-9)), 1) - 1])
    return named


def test_the_named_thresholds_equal_the_hand_written_ones_on_random_cases_with_ties(t):
    rng = np.random.default_rng(0)
    tied = 0
    for case in range(2000):
        n = int(rng.integers(2, 120))
        y = rng.integers(0, 2, n)
        y[rng.integers(0, n)] = 1  # validation always holds a positive (grouped_split sees to it)
        decimals = int(rng.integers(1, 4))  # coarse scores: many ties, between and across the classes
        s = np.round(np.clip(y * rng.uniform(0, 0.5) + rng.random(n) * 0.7, 0, 1), decimals)
        tied += len(np.unique(s)) < n
        assert t.named_thresholds(y, s) == hand_written_thresholds(y, s, t.RECALL_TARGETS), case
    assert tied > 1500


def test_the_f1_threshold_matches_brute_force_search(t):
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 60)
        scores = np.round(np.clip(y * 0.3 + rng.random(60) * 0.7, 0, 1), 2)  # rounding makes ties
        threshold = t.named_thresholds(y, scores)["f1"]

        def f1_at(c, y=y, scores=scores):
            return 2 * ((scores >= c) & (y == 1)).sum() / ((scores >= c).sum() + (y == 1).sum())

        best = max(f1_at(c) for c in np.unique(scores))
        assert f1_at(threshold) == pytest.approx(best)
        assert threshold == max(c for c in np.unique(scores) if f1_at(c) == best)  # a tie: the fewer flags


def test_metrics_match_hand_counts(t):
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    probs = np.array([[0.1, 0.9], [0.4, 0.6], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.95, 0.05]])
    m = t.classification_metrics(y, probs, ["no", "yes"], 0.5)
    assert m["confusion_matrix"] == [[4, 1], [1, 2]]
    assert (m["precision"], m["recall"], m["accuracy"]) == pytest.approx((2 / 3, 2 / 3, 6 / 8))
    assert m["f1"] == pytest.approx(2 / 3) and m["n"] == 8
    assert m["roc_auc"] == pytest.approx(12 / 15)  # 5 + 4 + 3 of 15 positive-negative pairs ranked right
    assert t.classification_metrics(y, probs, ["no", "yes"], 0.65)["confusion_matrix"] == [[4, 1], [2, 1]]


def test_multiclass_metrics_are_macro_with_per_class(t):
    y = [0, 1, 2, 2]
    probs = np.eye(3)[[0, 1, 2, 1]]
    m = t.classification_metrics(y, probs, ["a", "b", "c"])
    assert m["accuracy"] == 0.75 and set(m["per_class"]) == {"a", "b", "c"}
    assert m["per_class"]["c"]["recall"] == 0.5 and m["macro_f1"] == pytest.approx(np.mean([1, 2 / 3, 2 / 3]))
    assert m["weighted_f1"] == pytest.approx((1 + 2 / 3 + 2 * 2 / 3) / 4)
    assert not {"f1", "precision", "recall"} & set(m)  # averages are named as averages


def test_intervals_contain_the_estimate_and_the_bootstrap_repeats_with_the_seed(t):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 150)
    pred = np.where(rng.random(150) < 0.8, y, 1 - y)
    a = t.intervals_95(y, pred, seed=7)
    assert a == t.intervals_95(y, pred, seed=7) and a["f1"] != t.intervals_95(y, pred, seed=8)["f1"]
    point = t.classification_metrics(y, np.eye(2)[pred], ["n", "p"])
    for key in ("f1", "precision", "recall", "accuracy"):
        lo, hi = a[key]
        assert lo < point[key] < hi and hi - lo < 0.3


def test_a_proportion_found_whole_gets_the_exact_interval_not_a_bootstrap_of_zero_width(t):
    """55 of 55 positives found, 2 of 121 negatives flagged: recall's interval is Clopper-Pearson's for 55/55
    (0.025 ** (1 / 55) = 0.935 to 1), precision's for 55/57; a percentile bootstrap would say 1.000 - 1.000."""
    from scipy.stats import beta

    y = np.array([1] * 55 + [0] * 121)
    pred = np.array([1] * 55 + [1, 1] + [0] * 119)
    a = t.intervals_95(y, pred, seed=0)
    assert a["recall"] == pytest.approx([0.025 ** (1 / 55), 1.0]) and a["recall"][0] == pytest.approx(0.9351, abs=1e-4)
    assert a["precision"] == pytest.approx([beta.ppf(0.025, 55, 3), beta.ppf(0.975, 56, 2)])
    assert a["accuracy"] == pytest.approx([beta.ppf(0.025, 174, 3), beta.ppf(0.975, 175, 2)])
    assert a["f1"][0] < a["f1"][1] == pytest.approx(1.0)
    assert t.intervals_95([0, 1], [0, 0], seed=0)["precision"] is None  # nothing flagged: no precision to bound


def test_baseline_beats_chance_and_sees_only_training_rows(t, monkeypatch):
    from sklearn.feature_extraction.text import TfidfVectorizer

    rows = make_rows(200)
    texts, labels = [r["section_text"] for r in rows], [r["jim_crow"] for r in rows]
    split = t.grouped_split(labels, list(range(200)), 0.15, 0.15, seed=0)
    fitted = []
    original = TfidfVectorizer.fit_transform
    monkeypatch.setattr(
        TfidfVectorizer, "fit_transform", lambda self, x, y=None: fitted.append(list(x)) or original(self, x, y)
    )
    result = t.tfidf_baseline(texts, labels, split, ["no", "yes"], seed=0)
    assert fitted == [[texts[i] for i in split["train"]]]
    assert result["train_rows"] == len(split["train"]) and result["n"] == len(split["test"])
    assert result["f1"] > 0.9  # chance F1 for 30% positives is about 0.46


def test_holdout_split_keeps_the_held_out_group_and_its_duplicates_out_of_training(t):
    labels = [1, 1, 0, 0, 0, 1, 0, 0, 1, 0] * 6
    source = ["paschal", "paschal"] + ["experts"] * 8
    source = source * 6
    groups = list(range(60))
    groups[2] = groups[0]  # an experts row duplicates a paschal row
    split = t.holdout_split(labels, groups, source, "paschal", 0.2, seed=0)
    assert sorted(split["test"]) == [i for i, s in enumerate(source) if s == "paschal"]
    training = set(split["train"]) | set(split["validation"])
    assert not training & set(split["test"]) and 2 not in training
    assert len(training) == 60 - 12 - 1


@pytest.mark.parametrize("shares,need", [((0.1, 0.1), 20), ((0.2, 0.25), 10)])
def test_each_class_needs_the_rows_that_give_its_smallest_split_two(t, shares, need):
    args = types.SimpleNamespace(max_samples=None, seed=0, validation_size=shares[0], test_size=shares[1])
    labels = [0] * 50 + [1] * need
    assert len(t.choose_rows(labels, ["no", "yes"], args)) == 50 + need
    with pytest.raises(t.UserError, match=f"each class needs at least {need} rows"):
        t.choose_rows(labels[:-1], ["no", "yes"], args)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("data/laws.csv", True),
        ("./x", True),
        ("/abs/dir", True),
        ("biglam/on_the_books", False),
        ("a/b/c", True),
        ("laws.parquet", True),
    ],
)
def test_local_paths_and_hub_ids_are_told_apart(t, name, expected):
    assert t.looks_like_local_path(name) is expected


def test_a_checkpoint_saved_in_bf16_is_trained_in_fp32(trainer_module, tiny_models, tmp_path):
    """transformers 5 loads a checkpoint in its own dtype; mixed precision needs fp32 weights to update."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = tmp_path / "bf16-model"
    AutoModelForSequenceClassification.from_pretrained(tiny_models["bert"]).to(torch.bfloat16).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_models["bert"]).save_pretrained(folder)
    assert AutoModelForSequenceClassification.from_pretrained(folder).dtype == torch.bfloat16  # what it would be
    model, _ = trainer_module.load_model(str(folder), ["no", "yes"], None)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_multiclass_roc_auc_is_one_vs_rest_macro(t):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    y = np.array([0, 1, 2] * 6 + [0] * 6)
    probs = rng.dirichlet([1, 1, 1], size=len(y))
    probs[np.arange(len(y)), y] += 0.3 * rng.random(len(y))
    probs /= probs.sum(axis=1, keepdims=True)
    auc = t.classification_metrics(y, probs, ["a", "b", "c"])["roc_auc"]
    assert auc == pytest.approx(np.mean([roc_auc_score(y == c, probs[:, c]) for c in range(3)]))
    assert abs(auc - roc_auc_score(y, probs, multi_class="ovo")) > 1e-3


def test_more_than_two_classes_choose_the_epoch_and_summarise_by_macro_f1(t):
    assert t.main_metric(["a", "b"]) == "f1" and t.main_metric(["a", "b", "c"]) == "macro_f1"
    summary = t.holdout_summary({"macro_f1": 0.5, "weighted_f1": 0.7, "accuracy": 0.6}, [0, 1, 2], ["a", "b", "c"])
    assert summary == "macro F1 0.500, accuracy 0.600"
