"""Scores and pictures of a trained model: metrics, seqeval report, plots."""

import csv
import json

import numpy as np
from seqeval.metrics import classification_report

from kerasner.entity_predictor import decode_entities
from kerasner.evaluation import entity_scores, span_scores
from kerasner.prediction import predict_tags
from kerasner.run_folder import write_atomically
from kerasner.tags import split_tag
from kerasner.word_splitter import detokenize


def evaluate_features(model, features, batch_size=64, decode="viterbi"):
    """Word-level evaluation of `model` on labelled `features`, tags decoded by `decode`
    (`"viterbi"`: valid IOB2 sequences, or `"argmax"`; see `predict_words`).

    Returns:
        A dict with `entity` (seqeval default mode), `entity_strict` (IOB2 strict), `token_accuracy`
        (share of words whose tag is right), `words`, `sentences`, plus `report` (seqeval's text
        report) and the `gold`/`predicted` tag lists.
    """
    gold, predicted = predict_tags(model, features, batch_size, decode=decode)
    flat_gold = [tag for tags in gold for tag in tags]
    flat_predicted = [tag for tags in predicted for tag in tags]
    correct = sum(g == p for g, p in zip(flat_gold, flat_predicted))
    return {
        "entity": entity_scores(gold, predicted),
        "entity_strict": entity_scores(gold, predicted, mode="strict"),
        "token_accuracy": correct / max(len(flat_gold), 1),
        "words": len(flat_gold),
        "sentences": len(gold),
        "report": _report(gold, predicted),
        "gold": gold,
        "predicted": predicted,
    }


def _report(gold, predicted):
    """seqeval's text report; it cannot be made when neither side holds an entity."""
    if not any(tag != "O" for tags in gold + predicted for tag in tags):
        return "no entities in the gold or the predicted tags\n"
    return classification_report(gold, predicted, digits=4, zero_division=0)


def evaluate_raw_text(predictor, sentences):
    """Entity scores on ordinary text, as a user of `predictor` receives them.

    Each labelled sentence is joined into text (`detokenize`; one read from an annotation tool's
    export keeps its own text), its entities become character
    spans, `predictor` finds entities in the text (with the text of its context, for a model
    that reads context), and exact `(start, end, type)` spans are scored.

    Args:
        predictor: an `EntityPredictor`.
        sentences: labelled `Sentence`s.

    Returns:
        A dict with `entity` (`span_scores`), `sentences`, `split_as_labelled` (the number of
        sentences whose text the predictor's word splitter splits into the labelled words) and
        `word_splitter` (its kind).
    """
    texts, true_spans, split_as_labelled, contexts = [], [], 0, []
    for sentence in sentences:
        contexts.append(tuple(detokenize(side)[0] for side in sentence.context or ((), ())))
        # A sentence read from an annotation tool has its own text; others are joined into text.
        text, offsets = (sentence.text, list(sentence.offsets)) if sentence.text is not None else detokenize(sentence.words)
        words = [(word, start, end) for word, (start, end) in zip(sentence.words, offsets)]
        entities = decode_entities(text, words, sentence.tags, [1.0] * len(words))
        texts.append(text)
        true_spans.append([(e["start"], e["end"], e["label"]) for e in entities])
        split_as_labelled += [(start, end) for _, start, end in predictor.split_words(text)] == offsets
    predicted = predictor.predict(texts, context=contexts)  # read with its document's text around it, if the model does
    return {
        "entity": span_scores(true_spans, [[(e["start"], e["end"], e["label"]) for e in found] for found in predicted]),
        "sentences": len(texts),
        "split_as_labelled": split_as_labelled,
        "word_splitter": predictor.word_splitter.kind,
    }


def summary_line(result):
    """One line of the headline scores of `evaluate_features`."""
    entity, strict = result["entity"], result["entity_strict"]
    return (
        f"entity F1 {entity['f1']:.4f} (P {entity['precision']:.4f}, R {entity['recall']:.4f}; "
        f"strict {strict['f1']:.4f}); token accuracy {result['token_accuracy']:.4f}"
    )


def raw_text_line(raw):
    """One line of the scores of `evaluate_raw_text`."""
    entity = raw["entity"]
    return (
        f"raw text: entity F1 {entity['f1']:.4f} (P {entity['precision']:.4f}, R {entity['recall']:.4f}); "
        f"{raw['split_as_labelled']:,} of {raw['sentences']:,} sentences split into the labelled words"
    )


def write_json(path, values):
    """Writes `values` as JSON; a kill part-way leaves the old file or none, never a part."""
    write_atomically(path, json.dumps(values, indent=2, sort_keys=False) + "\n")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history_csv, path):
    """Loss and validation entity F1 per epoch, from a `history.csv`."""
    with open(history_csv) as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return None
    plt = _pyplot()
    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [float(row["loss"]) for row in rows], marker="o")
    left.set(title="Training loss (masked cross-entropy)", xlabel="epoch", ylabel="loss")
    if "val_entity_f1" in rows[0]:
        for key, name in (("val_entity_f1", "F1"), ("val_entity_precision", "precision"), ("val_entity_recall", "recall")):
            right.plot(epochs, [float(row[key]) for row in rows], marker="o", label=name)
        right.legend()
    right.set(title="Validation entity scores", xlabel="epoch", ylim=(0, 1))
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.set_xticks(epochs)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_per_type_f1(scores, path):
    """Bars of precision, recall and F1 per entity type."""
    plt = _pyplot()
    kinds = list(scores["per_type"])
    figure, axis = plt.subplots(figsize=(max(5, 1.2 * len(kinds) + 2), 4))
    x = np.arange(len(kinds))
    for offset, key in zip((-0.27, 0.0, 0.27), ("precision", "recall", "f1")):
        axis.bar(x + offset, [scores["per_type"][k][key] for k in kinds], width=0.27, label=key)
    axis.set_xticks(x, [f"{k}\n(n={scores['per_type'][k]['support']})" for k in kinds])
    axis.set(ylim=(0, 1.15), title=f"Entity scores per type (overall F1 {scores['f1']:.3f})")
    axis.legend(loc="upper center", ncol=3, frameon=False)
    axis.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def type_confusion(gold, predicted):
    """Word-level confusion of entity types (`O` for no entity): `(types, matrix)`, rows gold."""
    flat_gold = [split_tag(tag)[1] or "O" for tags in gold for tag in tags]
    flat_predicted = [split_tag(tag)[1] or "O" for tags in predicted for tag in tags]
    types = sorted((set(flat_gold) | set(flat_predicted)) - {"O"}) + ["O"]
    index = {t: i for i, t in enumerate(types)}
    matrix = np.zeros((len(types), len(types)), dtype=np.int64)
    for g, p in zip(flat_gold, flat_predicted):
        matrix[index[g], index[p]] += 1
    return types, matrix


def plot_confusion(types, matrix, path):
    """A heat map of `type_confusion`, rows normalised."""
    plt = _pyplot()
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(1 + 0.8 * len(types), 0.8 * len(types) + 1))
    axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(types)), types, rotation=45)
    axis.set_yticks(range(len(types)), types)
    axis.set(xlabel="predicted type", ylabel="gold type", title="Word-level entity type confusion")
    for i in range(len(types)):
        for j in range(len(types)):
            axis.text(j, i, f"{matrix[i, j]}", ha="center", va="center", fontsize=8, color="black" if shares[i, j] < 0.6 else "white")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
