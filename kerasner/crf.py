"""A linear-chain conditional random field over a sentence's words, as a tf-keras layer."""

import tensorflow as tf
import tf_keras as keras

from kerasner.decoding import allowed_transitions
from kerasner.tags import validate_labels

# The score of a transition IOB2 forbids. Finite, so that the forward algorithm's log-sum-exp and
# its gradients stay finite; exp(-1e4) is 0 in float32.
FORBIDDEN = -1e4


@keras.saving.register_keras_serializable(package="kerasner")
class LinearChainCRF(keras.layers.Layer):
    """Learned transition scores between labels, with valid IOB2 sequences only.

    A sequence's score is the sum of its words' emission scores (a token classifier's logits), of
    the transitions between consecutive labels, and of a start and an end score. Transitions that
    IOB2 forbids (`I-X` after anything but `B-X` or `I-X`, or at the start) score `FORBIDDEN`
    whatever is learnt, so that no valid sequence loses probability to them and decoding never
    chooses them. The layer holds the scores; its methods compute, for emissions
    `(batch, words, num_labels)` and a mask `(batch, words)` of the real words (a prefix of each row):

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

    def call(self, emissions, mask=None):
        """The most probable label sequence of each row (see `decode`)."""
        return self.decode(emissions, mask)

    def _scores(self, emissions, mask):
        """Emissions as float32 `(batch, words, labels)`, the mask as bool `(batch, words)`, and
        the transition, start and end scores with IOB2's barriers."""
        if not self.built:
            self.build()
        emissions = tf.cast(emissions, tf.float32)
        if mask is None:
            mask = tf.ones(tf.shape(emissions)[:2], tf.bool)
        mask = tf.cast(mask, tf.bool)
        transitions = tf.convert_to_tensor(self.transitions) + self._barrier
        start = tf.convert_to_tensor(self.start_scores) + self._start_barrier
        return emissions, mask, transitions, start, tf.convert_to_tensor(self.end_scores)

    def log_partition(self, emissions, mask=None):
        """The log of the sum over every label sequence of exp(score), per row `(batch,)`.

        A row without words gives 0.
        """
        emissions, mask, transitions, start, end = self._scores(emissions, mask)
        alpha = start[tf.newaxis] + emissions[:, 0]  # (batch, labels)

        def step(alpha, inputs):
            scores, real = inputs  # (batch, labels), (batch,)
            nxt = tf.reduce_logsumexp(alpha[:, :, tf.newaxis] + transitions[tf.newaxis], axis=1) + scores
            return tf.where(real[:, tf.newaxis], nxt, alpha)

        alpha = tf.foldl(
            step,
            (tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:])),
            initializer=alpha,
        )
        total = tf.reduce_logsumexp(alpha + end[tf.newaxis], axis=1)
        return tf.where(tf.reduce_any(mask, axis=1), total, 0.0)

    def sequence_score(self, emissions, labels, mask=None):
        """The score of `labels` `(batch, words)` in each row `(batch,)`; masked positions
        (which may hold any value, such as -100) take no part."""
        emissions, mask, transitions, start, end = self._scores(emissions, mask)
        real = tf.cast(mask, tf.float32)
        labels = tf.where(mask, tf.cast(labels, tf.int32), 0)
        emitted = tf.reduce_sum(tf.gather(emissions, labels, axis=2, batch_dims=2) * real, axis=1)
        pairs = tf.stack([labels[:, :-1], labels[:, 1:]], axis=-1)  # (batch, words - 1, 2)
        moved = tf.reduce_sum(tf.gather_nd(transitions, pairs) * real[:, 1:], axis=1)
        length = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        last = tf.gather(labels, tf.maximum(length - 1, 0), axis=1, batch_dims=1)
        ends = (tf.gather(start, labels[:, 0]) + tf.gather(end, last)) * tf.cast(length > 0, tf.float32)
        return emitted + moved + ends

    def log_likelihood(self, emissions, labels, mask=None):
        """Each row's log-probability of `labels` `(batch,)`: its score minus the log partition."""
        return self.sequence_score(emissions, labels, mask) - self.log_partition(emissions, mask)

    def marginals(self, emissions, mask=None):
        """Each word's probability of each label `(batch, words, labels)`, 0 at masked positions:
        the gradient of the log partition with respect to the emissions."""
        emissions = tf.cast(emissions, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(emissions)
            total = tf.reduce_sum(self.log_partition(emissions, mask))
        return tape.gradient(total, emissions)

    def decode(self, emissions, mask=None):
        """The most probable valid label sequence of each row `(batch, words)`, int32; 0 past a
        row's last word."""
        emissions, mask, transitions, start, end = self._scores(emissions, mask)
        num_labels = self.num_labels
        delta = start[tf.newaxis] + emissions[:, 0]

        def forward(carry, inputs):
            delta, _ = carry
            scores, real = inputs
            candidates = delta[:, :, tf.newaxis] + transitions[tf.newaxis]  # (batch, from, to)
            best = tf.argmax(candidates, axis=1, output_type=tf.int32)  # (batch, to)
            keep = tf.broadcast_to(tf.range(num_labels), tf.shape(best))  # past the end, a label stays
            nxt = tf.reduce_max(candidates, axis=1) + scores
            return tf.where(real[:, tf.newaxis], nxt, delta), tf.where(real[:, tf.newaxis], best, keep)

        batch = tf.shape(emissions)[0]
        deltas, pointers = tf.scan(
            forward,
            (tf.transpose(emissions[:, 1:], [1, 0, 2]), tf.transpose(mask[:, 1:])),
            initializer=(delta, tf.zeros((batch, num_labels), tf.int32)),
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
