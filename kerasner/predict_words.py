"""Model predictions read back at word level."""

import numpy as np
import tensorflow as tf


def predict_words(model, features, batch_size=64, return_scores=False):
    """Predicts label ids for every word of every sentence in `features`.

    Each word is read at its prediction slot (the first sub-token, in the window that owns the
    word), which the tokenization fixed; predictions never choose positions.

    Args:
        model: a model returning logits `(batch, seq_len, num_labels)`.
        features: `TokenFeatures`.
        batch_size: int. Defaults to `64`.
        return_scores: bool. Also return each word's softmax probability of its label.
            Defaults to False.

    Returns:
        A list with an int array of label ids per sentence; with `return_scores`, a pair of such
        lists (ids, scores).
    """
    window_ids = [None] * len(features)
    window_scores = [None] * len(features) if return_scores else None
    predict = model.predict_on_batch
    if isinstance(getattr(model, "distribute_strategy", None), tf.distribute.MultiWorkerMirroredStrategy):
        # predict_on_batch would shard each batch across the workers; every worker predicts all of it.
        predict = lambda x: model(x, training=False)  # noqa: E731
    for x, _, indices in features.batches(batch_size, shuffle=False):
        logits = np.asarray(predict(x), dtype=np.float32)  # (batch, length, num_labels)
        ids = logits.argmax(-1)
        if return_scores:
            shifted = np.exp(logits - logits.max(-1, keepdims=True))
            probabilities = (shifted / shifted.sum(-1, keepdims=True)).max(-1)
        for row, index in enumerate(indices):
            size = features.lengths[index]
            window_ids[index] = ids[row, :size]
            if return_scores:
                window_scores[index] = probabilities[row, :size]
    word_ids = features.word_values(window_ids)
    if return_scores:
        return word_ids, features.word_values(window_scores)
    return word_ids


def predict_tags(model, features, batch_size=64):
    """`(gold, predicted)` tag lists per sentence, at word level, for labelled `features`."""
    id2label = dict(enumerate(model.labels))
    gold = features.word_values(features.labels)
    predicted = predict_words(model, features, batch_size)
    to_tags = lambda ids: [id2label[int(i)] for i in ids]  # noqa: E731
    return [to_tags(ids) for ids in gold], [to_tags(ids) for ids in predicted]
