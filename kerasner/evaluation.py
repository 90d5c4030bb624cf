"""Entity-level precision, recall and F1 with seqeval."""

import warnings

from seqeval.metrics import classification_report
from seqeval.scheme import IOB2

MODES = ("default", "strict")


def entity_scores(true_tags, predicted_tags, mode="default"):
    """Entity precision/recall/F1 overall (micro average) and per type, computed by seqeval.

    Args:
        true_tags: list of tag sequences (one list of IOB2 tags per sentence).
        predicted_tags: list of tag sequences of the same lengths.
        mode: `"default"` (conlleval-compatible: an I- after O starts an entity) or `"strict"`
            (IOB2 entities must start with B-). Defaults to `"default"`.

    Returns:
        `{"precision", "recall", "f1", "support", "per_type": {type: {"precision", "recall",
        "f1", "support"}}}`.

    Example:
    ```python
    kerasner.entity_scores([["B-per", "I-per", "O"]], [["B-per", "I-per", "O"]])["f1"]  # 1.0
    ```
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode. Expected one of {set(MODES)}. Received: mode={mode!r}")
    true_tags = [list(tags) for tags in true_tags]
    predicted_tags = [list(tags) for tags in predicted_tags]
    if len(true_tags) != len(predicted_tags) or any(
        len(t) != len(p) for t, p in zip(true_tags, predicted_tags)
    ):
        raise ValueError("`true_tags` and `predicted_tags` must hold sequences of the same lengths")
    options = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    with warnings.catch_warnings():  # seqeval averages empty arrays when there is no entity at all
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(true_tags, predicted_tags, output_dict=True, zero_division=0, **options)
    overall = report.pop("micro avg", None) or {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    per_type = {
        kind: _row(values) for kind, values in sorted(report.items()) if kind not in ("macro avg", "weighted avg")
    }
    return {**_row(overall), "per_type": per_type}


def _row(values):
    return {
        "precision": float(values["precision"]),
        "recall": float(values["recall"]),
        "f1": float(values["f1-score"]),
        "support": int(values["support"]),
    }


def span_scores(true_spans, predicted_spans):
    """Exact-match entity precision/recall/F1 of character spans, overall and per type.

    A predicted entity counts only if its `(start, end, label)` equals a true one: the scores a
    user of raw text receives.

    Args:
        true_spans: one collection of `(start, end, label)` per text.
        predicted_spans: one collection of `(start, end, label)` per text, as many texts.

    Returns:
        The same dict as `entity_scores`.

    Example:
    ```python
    kerasner.span_scores([[(0, 4, "per")]], [[(0, 4, "per"), (9, 15, "geo")]])["precision"]  # 0.5
    ```
    """
    true_spans, predicted_spans = list(true_spans), list(predicted_spans)
    if len(true_spans) != len(predicted_spans):
        raise ValueError("`true_spans` and `predicted_spans` must hold one collection per text, as many of each")
    counts = {}  # label -> [true, predicted, correct]
    for true, predicted in zip(true_spans, predicted_spans):
        true, predicted = set(map(tuple, true)), set(map(tuple, predicted))
        for spans, column in ((true, 0), (predicted, 1), (true & predicted, 2)):
            for *_, label in spans:
                counts.setdefault(label, [0, 0, 0])[column] += 1
    totals = [sum(column) for column in zip(*counts.values())] or [0, 0, 0]
    return {**_span_row(*totals), "per_type": {label: _span_row(*counts[label]) for label in sorted(counts)}}


def _span_row(true, predicted, correct):
    precision = correct / predicted if predicted else 0.0
    recall = correct / true if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": true}
