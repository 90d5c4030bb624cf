"""From word logits to label ids: valid IOB2 transitions, Viterbi or argmax decoding (numpy only)."""

import numpy as np

DECODES = ("viterbi", "argmax")


def check_decode(decode):
    """Raises a `ValueError` unless `decode` is one of `DECODES`."""
    if decode not in DECODES:
        raise ValueError(f"Unknown decode. Expected one of {set(DECODES)}. Received: decode={decode!r}")


def allowed_transitions(labels):
    """Which labels may start a sentence and which may follow which, under IOB2.

    `I-X` may only follow `B-X` or `I-X` (so it never starts a sentence); every other label
    (`O`, `B-X`, or a label without a prefix) may go anywhere.

    Returns:
        `(start, allowed)`: a bool array `(num_labels,)` and a bool matrix
        `(num_labels, num_labels)` where `allowed[i, j]` says label `j` may follow label `i`.
    """
    labels = list(labels)
    start = np.ones(len(labels), dtype=bool)
    allowed = np.ones((len(labels), len(labels)), dtype=bool)
    for j, label in enumerate(labels):
        if isinstance(label, str) and label.startswith("I-"):
            start[j] = False
            allowed[:, j] = [previous in (label, "B-" + label[2:]) for previous in labels]
    return start, allowed


def viterbi_decode(word_scores, labels, previous=None):
    """The most probable valid IOB2 label sequence of each sentence.

    The best sequence under `allowed_transitions(labels)` by the sum of the words' log-softmax
    scores: where the per-word argmax is already valid it is the answer; where it is not (an
    `I-per` after `O` or after `B-geo`), the most probable valid sequence wins instead of a
    broken entity. Logits or log-probabilities give the same answer.

    Args:
        word_scores: a list with one float array `(num_words, num_labels)` per sentence.
        labels: the label names, in the order of the scores' last axis.
        previous: None, or one label id (or None) per sentence: the label of the word just before
            the sentence, which the first word must be allowed to follow (a long text decoded a
            block at a time). Defaults to None (every sentence starts afresh).

    Returns:
        A list with one int array of label ids per sentence.

    Example:
    ```python
    labels = ["O", "B-per", "I-per"]
    scores = np.log([[0.9, 0.05, 0.05], [0.1, 0.3, 0.6]])  # argmax: O, I-per
    kerasner.viterbi_decode([scores], labels)  # [array([0, 1])]: O, B-per
    ```
    """
    start, allowed = allowed_transitions(labels)
    barrier = np.where(allowed, 0.0, -np.inf)  # (from, to)
    first = np.where(start, 0.0, -np.inf)
    previous = [None] * len(word_scores) if previous is None else previous
    initial = np.array([first if p is None else barrier[int(p)] for p in previous]).reshape(-1, len(first))
    lengths = np.array([len(scores) for scores in word_scores], dtype=np.int64)
    decoded = [None] * len(word_scores)
    for length in np.unique(lengths):  # every sentence of one length in one pass
        members = np.flatnonzero(lengths == length)
        if length == 0:
            for i in members:
                decoded[i] = np.zeros(0, dtype=np.int64)
            continue
        scores = np.stack([np.asarray(word_scores[i], dtype=np.float64) for i in members])  # (n, words, labels)
        best = scores[:, 0] + initial[members]
        back = np.zeros(scores.shape, dtype=np.int64)
        for t in range(1, length):
            candidates = best[:, :, None] + barrier  # (n, from, to)
            back[:, t] = candidates.argmax(1)
            best = candidates.max(1) + scores[:, t]
        path = np.zeros((len(members), length), dtype=np.int64)
        path[:, -1] = best.argmax(-1)
        rows = np.arange(len(members))
        for t in range(length - 1, 0, -1):
            path[:, t - 1] = back[rows, t, path[:, t]]
        for row, i in enumerate(members):
            decoded[i] = path[row]
    return decoded


def decode_words(word_logits, labels, decode="viterbi", return_scores=False, previous=None):
    """Label ids (and optionally their probabilities) from per-word logits.

    Args:
        word_logits: a list with one array `(num_words, num_labels)` per sentence.
        labels: the label names, in the order of the logits' last axis (used by `"viterbi"`).
        decode: `"viterbi"`, the most probable valid IOB2 sequence (`viterbi_decode`), or
            `"argmax"`, each word's most probable label on its own. Defaults to `"viterbi"`.
        return_scores: bool. Also return each word's softmax probability of its label.
        previous: None, or per sentence the label id of the word before it (see
            `viterbi_decode`); `"argmax"` ignores it. Defaults to None.

    Returns:
        A list with an int array of label ids per sentence; with `return_scores`, a pair of such
        lists (ids, scores).
    """
    check_decode(decode)
    if decode == "viterbi":
        ids = viterbi_decode(word_logits, labels, previous)
    else:
        ids = [np.asarray(logits).argmax(-1) for logits in word_logits]
    if not return_scores:
        return ids
    scores = []
    for logits, chosen in zip(word_logits, ids):
        shifted = np.exp(logits - logits.max(-1, keepdims=True))
        probabilities = shifted / shifted.sum(-1, keepdims=True)
        scores.append(probabilities[np.arange(len(chosen)), chosen])
    return ids, scores
