"""What a training or tuning run needs before it starts: the split sentences and the model."""

import logging
import time
from pathlib import Path

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.errors import cut
from kerasner.formats import read_sentences
from kerasner.saving import MODEL_FILE
from kerasner.sentences import add_context, sample_data_path
from kerasner.sentences import train_validation_split
from kerasner.tags import labels_from_tags
from kerasner.tiny_bert import build_tiny_model
from kerasner.training_config import DEFAULT_HEAD

logger = logging.getLogger(__name__)


def load_splits(
    data=None, train=None, validation=None, format=None, scheme="auto", validation_size=0.2, seed=42, encoding=None,
    allow_new_labels=False, context=0, word_splitter="treebank", **options,
):
    """Reads training and validation sentences and the label list.

    Either `data` (split by sentence with `validation_size` and `seed`), or `train` and
    `validation` files. With none of them, the embedded sample corpus is split. `encoding`,
    `word_splitter` and `options` go to `read_sentences`. With `context`, each sentence gets up to that many words of
    its document on each side (`add_context`), before the split.

    Tags found only in the `validation` file cannot be learnt, and often mean the files come
    from different corpora: they raise `ValueError` listing them, unless `allow_new_labels`
    (then they are added to the labels, and counted in `stats["validation_only_labels"]`).

    Returns:
        `(train_sentences, validation_sentences, labels, stats)`; `stats` has the files, counts and
        reading time.
    """
    start = time.perf_counter()
    if (train is None) != (validation is None):
        raise ValueError("Pass both `train` and `validation` files, or `data` alone")
    if data is not None and train is not None:
        raise ValueError("Pass either `data` or `train` and `validation`, not both")
    read = dict(format=format, scheme=scheme, encoding=encoding, word_splitter=word_splitter, **options)
    if train is not None:
        train_sentences = add_context(read_sentences(train, **read), context)
        validation_sentences = add_context(read_sentences(validation, **read), context)
        sources = {"train": train_sentences.stats, "validation": validation_sentences.stats}
    else:
        sentences = add_context(read_sentences(data or sample_data_path(), **read), context)
        train_sentences, validation_sentences = train_validation_split(sentences, validation_size, seed)
        sources = {"data": sentences.stats}
    train_labels = set(labels_from_tags(s.tags for s in train_sentences))
    labels = labels_from_tags(s.tags for s in list(train_sentences) + list(validation_sentences))
    new = [label for label in labels if label not in train_labels]
    if new and train is not None and not allow_new_labels:
        raise ValueError(
            f"{validation}: {len(new)} tags are not in the training file {train} and cannot be learnt: "
            f"{cut(', '.join(new))}; check that both files are of one corpus, or allow them (--allow-new-labels)"
        )
    if new:
        logger.warning("%d tags occur only in the validation sentences: %s", len(new), cut(", ".join(new)))
    stats = {
        "sources": sources,
        "train_sentences": len(train_sentences),
        "validation_sentences": len(validation_sentences),
        "validation_only_labels": new,
        "read_seconds": round(time.perf_counter() - start, 3),
    }
    return list(train_sentences), list(validation_sentences), labels, stats


def load_model(model, train_sentences, labels, dropout=0.1, seed=42, head=None):
    """A `BertTokenClassifier` to train.

    Args:
        model: `"tiny"` (a small BERT built from scratch, vocabulary trained on the training
            words), a hub name such as `"bert-base-cased"`, the directory of a pretrained
            encoder, or a directory saved by kerasner (its labels must cover the data's).
        train_sentences: used by `"tiny"` to train its vocabulary.
        labels: the data's tag names.
        dropout: float. Defaults to `0.1`.
        seed: int. Defaults to `42`.
        head: `"crf"` or `"softmax"`, the head put on an encoder; a saved model must have it.
            Defaults to None: a saved model's own head, else `DEFAULT_HEAD` (`"crf"`).
    """
    if model == "tiny":
        return build_tiny_model(train_sentences, labels, dropout=dropout, seed=seed, head=head or DEFAULT_HEAD)
    if (Path(model) / MODEL_FILE).is_file():
        loaded = BertTokenClassifier.from_pretrained(model)
        missing = sorted(set(labels) - set(loaded.labels))
        if missing:
            raise ValueError(f"The model in {model} has no label for {missing}; its labels are {loaded.labels}")
        if head is not None and loaded.head != head:
            raise ValueError(
                f"The model in {model} has the {loaded.head} head. Received: head={head!r}; a new head goes on an encoder"
            )
        return loaded
    loaded = BertTokenClassifier.from_pretrained(model, labels=labels, dropout=dropout, head=head or DEFAULT_HEAD)
    if loaded.tokenizer is None:
        raise ValueError(f"No tokenizer found with the model {model!r}; a fast tokenizer is needed")
    return loaded
