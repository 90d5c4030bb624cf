"""A model's predictions on `TokenFeatures`, read at word level and decoded."""

import math

import numpy as np
import tensorflow as tf
import tf_keras as keras

from kerasner.decoding import check_decode, decode_words


def predict_word_logits(model, features, batch_size=64, progress=False):
    """The logits of every word of every sentence in `features`.

    Each word is read at its prediction slot (the first sub-token, in the window that owns the
    word), which the tokenization fixed; predictions never choose positions. With `progress`, a
    Keras progress bar counts the batches.

    Returns:
        A list with one float32 array `(num_words, num_labels)` per sentence.
    """
    window_logits = [None] * len(features)
    predict = model.predict_on_batch
    if isinstance(getattr(model, "distribute_strategy", None), tf.distribute.MultiWorkerMirroredStrategy):
        # predict_on_batch would shard each batch across the workers; every worker predicts all of it.
        predict = lambda x: model(x, training=False)  # noqa: E731
    bar = keras.utils.Progbar(math.ceil(len(features) / batch_size), unit_name="batch") if progress else None
    for done, (x, _, indices) in enumerate(features.batches(batch_size, shuffle=False), 1):
        logits = np.asarray(predict(x), dtype=np.float32)  # (batch, length, num_labels)
        for row, index in enumerate(indices):
            window_logits[index] = logits[row, : features.lengths[index]]
        if bar is not None:
            bar.update(done)
    return features.word_values(window_logits)


def predict_words(model, features, batch_size=64, return_scores=False, decode="viterbi", progress=False):
    """Predicts label ids for every word of every sentence in `features`.

    Args:
        model: a model returning logits `(batch, seq_len, num_labels)`, with `labels`.
        features: `TokenFeatures`.
        batch_size: int. Defaults to `64`.
        return_scores: bool. Also return each word's probability of its label (with a CRF head,
            its marginal). Defaults to False.
        decode: `"viterbi"` (valid IOB2 sequences; with a CRF head, with its learned
            transitions) or `"argmax"`. Defaults to `"viterbi"`.
        progress: bool. Show a progress bar of the batches. Defaults to False.

    Returns:
        A list with an int array of label ids per sentence; with `return_scores`, a pair of such
        lists (ids, scores).
    """
    check_decode(decode)
    labels = getattr(model, "labels", None)
    if decode == "viterbi" and labels is None:
        raise ValueError("decode='viterbi' needs the model's `labels`; set `model.labels` or pass decode='argmax'")
    return decode_words(
        predict_word_logits(model, features, batch_size, progress), labels, decode, return_scores,
        transitions=transition_scores(model),
    )


def transition_scores(model):
    """The learned `(start, transitions, end)` scores of a model with a CRF head, else None."""
    scores = getattr(model, "transition_scores", None)
    return scores() if callable(scores) else None


def predict_tags(model, features, batch_size=64, decode="viterbi", progress=False):
    """`(gold, predicted)` tag lists per sentence, at word level, for labelled `features`."""
    id2label = dict(enumerate(model.labels))
    gold = features.word_values(features.labels)
    predicted = predict_words(model, features, batch_size, decode=decode, progress=progress)
    to_tags = lambda ids: [id2label[int(i)] for i in ids]  # noqa: E731
    return [to_tags(ids) for ids in gold], [to_tags(ids) for ids in predicted]
