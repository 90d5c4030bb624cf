"""The labelled positions of a token-classification batch, and the cross-entropy over them."""

import tensorflow as tf
import tf_keras as keras


def labelled_mask(labels, ignore_index=-100, sample_weight=None):
    """A float32 mask of the positions of `labels` (batch, seq_len) that carry a label.

    Positions labelled `ignore_index` (sub-word continuations, special tokens, padding) are 0,
    the others 1, times `sample_weight` if given (one weight per sequence, or per position).
    """
    mask = tf.cast(tf.not_equal(labels, ignore_index), tf.float32)  # (batch, seq_len)
    if sample_weight is not None:
        weight = tf.cast(sample_weight, tf.float32)
        if weight.shape.rank == 1:  # one weight per sequence
            weight = weight[:, tf.newaxis]
        mask = mask * weight
    return mask


@keras.saving.register_keras_serializable(package="kerasner")
class MaskedSparseCategoricalCrossentropy(keras.losses.Loss):
    """Mean sparse cross-entropy from logits, ignoring positions labelled `ignore_index`.

    Sub-word continuations, special tokens and padding carry the label `ignore_index`; they
    take no part in the loss, in the mean's denominator, or in the gradients. The result is
    `sum(ce * mask) / max(sum(mask), 1)`, so a batch with no labelled position gives 0.
    Labels are clipped to 0 before the cross-entropy, so the op is safe under XLA. An optional
    `sample_weight` (per sequence or per position) multiplies the mask.

    A 0/1 `sample_weight` on the stock loss is not the same thing: its mean still divides by
    every position, so the loss shrinks with the amount of padding.

    Args:
        ignore_index: int. Label id of positions to ignore. Defaults to `-100`.
        name: str. Defaults to `"masked_sparse_categorical_crossentropy"`.

    Example:
    ```python
    loss = kerasner.MaskedSparseCategoricalCrossentropy()
    loss(tf.constant([[1, -100]]), tf.random.normal((1, 2, 3)))
    ```
    """

    def __init__(self, ignore_index=-100, name="masked_sparse_categorical_crossentropy", **kwargs):
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise ValueError(f"`ignore_index` must be an int. Received: ignore_index={ignore_index!r}")
        super().__init__(name=name, **kwargs)
        self.ignore_index = ignore_index

    def __call__(self, y_true, y_pred, sample_weight=None):
        with tf.name_scope(self.name):
            return self.call(y_true, y_pred, sample_weight)

    def call(self, y_true, y_pred, sample_weight=None):
        logits = tf.cast(y_pred, tf.float32)  # (batch, seq_len, num_labels)
        labels = tf.cast(y_true, tf.int32)  # (batch, seq_len)
        if labels.shape.rank == logits.shape.rank:  # (batch, seq_len, 1) labels
            labels = tf.squeeze(labels, axis=-1)
        mask = labelled_mask(labels, self.ignore_index, sample_weight)  # (batch, seq_len)
        per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.maximum(labels, 0), logits=logits
        )  # (batch, seq_len)
        return tf.reduce_sum(per_token * mask) / tf.maximum(tf.reduce_sum(mask), 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config["ignore_index"] = self.ignore_index
        return config
