"""A linear-chain conditional random field over a sentence's words, as a tf-keras layer."""

import tensorflow as tf
import tf_keras as keras

from kerasner.decoding import allowed_transitions
from kerasner.tags import validate_labels

# The score of a transition IOB2 forbids. Finite, so that the forward algorithm's log-sum-exp and
# its gradients stay finite; exp(-1e4) is 0 in float32.
FORBIDDEN = -1e4


def word_sequences(values, labels, ignore_index=-100, segment_ids=None):
    """A batch's labelled positions (each word's first sub-token) moved to the front of their rows.

    The CRF runs over words, not sub-tokens. Shapes stay those of the batch, so that the step
    compiles under XLA.

    Args:
        values: `(batch, seq_len, ...)`, such as the logits.
        labels: `(batch, seq_len)`; `ignore_index` where there is no word.
        ignore_index: int. Defaults to `-100`.
        segment_ids: `(batch, seq_len)` of packed rows (`TokenFeatures.pack`), or None.

    Returns:
        `(words, word_labels, mask, starts)`: the values and labels of the words, in order, at the
        front of each row (`ignore_index` after them); the mask of the words; and where a word
        begins another packed sentence of its row.
    """
    labelled = tf.not_equal(labels, ignore_index)
    positions = tf.range(tf.shape(labels)[1])[tf.newaxis]
    order = tf.argsort(tf.where(labelled, positions, positions + tf.shape(labels)[1]), axis=1, stable=True)
    front = lambda tensor: tf.gather(tensor, order, axis=1, batch_dims=1)  # noqa: E731
    mask = front(labelled)
    word_labels = tf.where(mask, front(labels), tf.cast(ignore_index, labels.dtype))
    if segment_ids is None:
        starts = tf.zeros_like(mask)
    else:
        segments = front(segment_ids)
        changed = tf.not_equal(segments[:, 1:], segments[:, :-1])
        starts = tf.logical_and(tf.pad(changed, [[0, 0], [1, 0]]), mask)
    return front(values), word_labels, mask, starts


def _time_major(emissions, mask, starts):
    """The words after the first, time-major, for the loops over positions."""
    return tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:]), tf.transpose(starts[:, 1:])


def log_partition(emissions, mask, starts, transitions, start, end):
    """The forward algorithm in log space: per row `(batch,)`, the log of the sum of exp(score)
    over every label sequence, each sentence of a packed row a chain of its own; 0 for a row
    without words.

    Args:
        emissions: float32 `(batch, words, labels)`.
        mask: bool `(batch, words)`, the real words (a prefix of each row).
        starts: bool `(batch, words)`, true where a word begins another sentence of its row.
        transitions: `(labels, labels)` scores of each move, from row to column.
        start, end: `(labels,)` scores of a sentence's first and last label.
    """
    alpha = start[tf.newaxis] + emissions[:, 0]  # (batch, labels)

    def step(alpha, inputs):
        scores, real, begins = inputs  # (batch, labels), (batch,), (batch,)
        chained = tf.reduce_logsumexp(alpha[:, :, tf.newaxis] + transitions[tf.newaxis], axis=1)
        fresh = tf.reduce_logsumexp(alpha + end[tf.newaxis], axis=1, keepdims=True) + start[tf.newaxis]
        nxt = tf.where(begins[:, tf.newaxis], fresh, chained) + scores
        return tf.where(real[:, tf.newaxis], nxt, alpha)

    alpha = tf.foldl(step, _time_major(emissions, mask, starts), initializer=alpha)
    total = tf.reduce_logsumexp(alpha + end[tf.newaxis], axis=1)
    return tf.where(tf.reduce_any(mask, axis=1), total, 0.0)


def marginals(emissions, mask, starts, transitions, start, end):
    """Each word's probability of each label `(batch, words, labels)`, 0 at masked positions:
    the gradient of `log_partition` with respect to the emissions (forward-backward)."""
    emissions = tf.cast(emissions, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(emissions)
        total = tf.reduce_sum(log_partition(emissions, mask, starts, transitions, start, end))
    return tape.gradient(total, emissions)


@keras.saving.register_keras_serializable(package="kerasner")
class LinearChainCRF(keras.layers.Layer):
    """Learned transition scores between labels, with valid IOB2 sequences only.

    A sequence's score is the sum of its words' emission scores (a token classifier's logits), of
    the transitions between consecutive labels, and of a start and an end score. Transitions that
    IOB2 forbids (`I-X` after anything but `B-X` or `I-X`, or at the start) score `FORBIDDEN`
    whatever is learnt, so that no valid sequence loses probability to them and decoding never
    chooses them. The layer holds the scores; its methods compute, for emissions
    `(batch, words, num_labels)` and a mask `(batch, words)` of the real words (a prefix of each row),
    and optionally `starts` `(batch, words)`, true where a word begins another sentence of the row
    (a packed row holds several: each is then its own chain, with its start and end scores):

    - `log_likelihood(emissions, labels, mask)`: each sentence's log-probability of `labels`
      (the forward algorithm in log space); its negative mean is the training loss;
    - `decode(emissions, mask)`: the most probable sequence (Viterbi), 0 past each sentence's end;
    - `marginals(emissions, mask)`: each word's probability of each label (forward-backward).

    Args:
        labels: list of str. Tag names; label id `i` is `labels[i]`.
        **kwargs: passed to `tf_keras.layers.Layer` (e.g. `name`).

    Example:
    ```python
    crf = kerasner.LinearChainCRF(["O", "B-per", "I-per"])
    loss = -tf.reduce_mean(crf.log_likelihood(logits, labels, mask))
    best = crf.decode(logits, mask)
    ```
    """

    def __init__(self, labels, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the sums of scores need float32 under any policy
        super().__init__(**kwargs)
        self.labels = validate_labels(labels)
        start, allowed = allowed_transitions(self.labels)
        self._start_barrier = tf.constant([0.0 if ok else FORBIDDEN for ok in start], tf.float32)
        self._barrier = tf.constant([[0.0 if ok else FORBIDDEN for ok in row] for row in allowed], tf.float32)

    @property
    def num_labels(self):
        return len(self.labels)

    def build(self, input_shape=None):
        zeros = keras.initializers.Zeros()
        self.transitions = self.add_weight(name="transitions", shape=(self.num_labels, self.num_labels), initializer=zeros)
        self.start_scores = self.add_weight(name="start_scores", shape=(self.num_labels,), initializer=zeros)
        self.end_scores = self.add_weight(name="end_scores", shape=(self.num_labels,), initializer=zeros)
        super().build(input_shape)

    def call(self, emissions, mask=None, starts=None):
        """The most probable label sequence of each row (see `decode`)."""
        return self.decode(emissions, mask, starts)

    def _scores(self, emissions, mask, starts):
        """Emissions as float32 `(batch, words, labels)`, the mask and the starts as bool
        `(batch, words)`, and the transition, start and end scores with IOB2's barriers."""
        if not self.built:
            self.build()
        emissions = tf.cast(emissions, tf.float32)
        mask = tf.ones(tf.shape(emissions)[:2], tf.bool) if mask is None else tf.cast(mask, tf.bool)
        starts = tf.zeros_like(mask) if starts is None else tf.cast(starts, tf.bool)
        transitions = tf.convert_to_tensor(self.transitions) + self._barrier
        start = tf.convert_to_tensor(self.start_scores) + self._start_barrier
        return emissions, mask, starts, transitions, start, tf.convert_to_tensor(self.end_scores)

    def log_partition(self, emissions, mask=None, starts=None):
        """The log of the sum over every label sequence of exp(score), per row `(batch,)`: with
        several sentences in a row, the sum of their log partitions. A row without words gives 0.
        """
        return log_partition(*self._scores(emissions, mask, starts))

    def sequence_score(self, emissions, labels, mask=None, starts=None):
        """The score of `labels` `(batch, words)` in each row `(batch,)`; masked positions
        (which may hold any value, such as -100) take no part."""
        emissions, mask, starts, transitions, start, end = self._scores(emissions, mask, starts)
        real = tf.cast(mask, tf.float32)
        labels = tf.where(mask, tf.cast(labels, tf.int32), 0)
        emitted = tf.reduce_sum(tf.gather(emissions, labels, axis=2, batch_dims=2) * real, axis=1)
        before, after = labels[:, :-1], labels[:, 1:]
        chained = tf.gather_nd(transitions, tf.stack([before, after], axis=-1))  # (batch, words - 1)
        fresh = tf.gather(end, before) + tf.gather(start, after)  # the end of a sentence, the start of the next
        moved = tf.reduce_sum(tf.where(starts[:, 1:], fresh, chained) * real[:, 1:], axis=1)
        length = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        last = tf.gather(labels, tf.maximum(length - 1, 0), axis=1, batch_dims=1)
        ends = (tf.gather(start, labels[:, 0]) + tf.gather(end, last)) * tf.cast(length > 0, tf.float32)
        return emitted + moved + ends

    def log_likelihood(self, emissions, labels, mask=None, starts=None):
        """Each row's log-probability of `labels` `(batch,)`: its score minus the log partition."""
        return self.sequence_score(emissions, labels, mask, starts) - self.log_partition(emissions, mask, starts)

    def loss(self, logits, labels, ignore_index=-100, segment_ids=None, sample_weight=None):
        """The negative log-likelihood per labelled word of a token-classification batch.

        The chains run over each sentence's words, read at their labelled positions (see
        `word_sequences`); each packed sentence is its own chain. The sum of the sentences'
        negative log-likelihoods is divided by the number of labelled words, as the masked
        cross-entropy is, so that the per-position weighting of `BertTokenClassifier.train_step`
        holds.

        Args:
            logits: `(batch, seq_len, num_labels)` emission scores.
            labels: `(batch, seq_len)`; `ignore_index` where there is no word.
            ignore_index: int. Defaults to `-100`.
            segment_ids: `(batch, seq_len)` of packed rows, or None.
            sample_weight: None, or one weight per row `(batch,)`.

        Returns:
            A float32 scalar; 0 for a batch without a labelled word.
        """
        labels = tf.cast(labels, tf.int32)
        if labels.shape.rank == logits.shape.rank:  # (batch, seq_len, 1) labels
            labels = tf.squeeze(labels, axis=-1)
        emissions, word_labels, mask, starts = word_sequences(logits, labels, ignore_index, segment_ids)
        emissions = self._open_starts(tf.cast(emissions, tf.float32), word_labels, mask, starts)
        negative = -self.log_likelihood(emissions, word_labels, mask, starts)  # (batch,)
        words = tf.reduce_sum(tf.cast(mask, tf.float32), axis=1)  # (batch,)
        if sample_weight is not None:
            weight = tf.cast(sample_weight, tf.float32)
            if weight.shape.rank != 1:
                raise ValueError(
                    "The CRF loss takes one sample weight per row (a sentence's words are scored together). "
                    f"Received: sample_weight of shape {weight.shape}"
                )
            negative, words = negative * weight, words * weight
        return tf.reduce_sum(negative) / tf.maximum(tf.reduce_sum(words), 1.0)

    def _open_starts(self, emissions, labels, mask, starts):
        """Emissions in which a chain whose gold labels begin inside an entity (`I-X`: a window
        of a long sentence that starts in the middle of one) may start with any label.

        The start scores, with IOB2's barrier, are taken off its first word's emissions: the
        forward algorithm and the sequence score add them back, so such a chain counts neither.
        """
        first = tf.logical_or(starts, tf.sequence_mask(1, tf.shape(mask)[1])[tf.newaxis])
        inside = tf.gather(self._start_barrier < 0, tf.maximum(labels, 0))
        open_start = tf.logical_and(tf.logical_and(first, mask), inside)  # (batch, words)
        start = tf.convert_to_tensor(self.start_scores) + self._start_barrier
        return emissions - tf.where(open_start[:, :, tf.newaxis], start, 0.0)

    def marginals(self, emissions, mask=None, starts=None):
        """Each word's probability of each label `(batch, words, labels)`, 0 at masked positions:
        the gradient of the log partition with respect to the emissions."""
        return marginals(*self._scores(emissions, mask, starts))

    def decode(self, emissions, mask=None, starts=None):
        """The most probable valid label sequence of each row `(batch, words)`, int32; 0 past a
        row's last word."""
        emissions, mask, starts, transitions, start, end = self._scores(emissions, mask, starts)
        num_labels = self.num_labels
        delta = start[tf.newaxis] + emissions[:, 0]
        restart = end[:, tf.newaxis] + start[tf.newaxis]  # (from, to): one sentence ends, the next starts

        def forward(carry, inputs):
            delta, _ = carry
            scores, real, begins = inputs
            moves = tf.where(begins[:, tf.newaxis, tf.newaxis], restart[tf.newaxis], transitions[tf.newaxis])
            candidates = delta[:, :, tf.newaxis] + moves  # (batch, from, to)
            best = tf.argmax(candidates, axis=1, output_type=tf.int32)  # (batch, to)
            keep = tf.broadcast_to(tf.range(num_labels), tf.shape(best))  # past the end, a label stays
            nxt = tf.reduce_max(candidates, axis=1) + scores
            return tf.where(real[:, tf.newaxis], nxt, delta), tf.where(real[:, tf.newaxis], best, keep)

        batch = tf.shape(emissions)[0]
        deltas, pointers = tf.scan(
            forward, _time_major(emissions, mask, starts), initializer=(delta, tf.zeros((batch, num_labels), tf.int32))
        )  # pointers: (words - 1, batch, labels)
        final = tf.concat([delta[tf.newaxis], deltas], axis=0)[-1]
        last = tf.argmax(final + end[tf.newaxis], axis=1, output_type=tf.int32)  # (batch,)

        def backward(label, pointer):
            return tf.gather(pointer, label, axis=1, batch_dims=1)

        earlier = tf.scan(backward, pointers, initializer=last, reverse=True)  # (words - 1, batch)
        path = tf.transpose(tf.concat([earlier, last[tf.newaxis]], axis=0))  # (batch, words)
        return tf.where(mask, path, 0)

    def get_config(self):
        config = super().get_config()
        config["labels"] = self.labels
        return config
