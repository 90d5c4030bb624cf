"""From word logits to label ids: valid IOB2 transitions, learned CRF transitions, Viterbi, marginals
or argmax decoding (numpy only)."""

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


def chain_scores(labels, transitions=None):
    """The scores a label sequence adds to its words' scores, with IOB2's barriers.

    Args:
        labels: the label names.
        transitions: None, or a linear-chain CRF's learned `(start, transitions, end)` scores,
            arrays `(num_labels,)`, `(num_labels, num_labels)` and `(num_labels,)` (see
            `BertTokenClassifier.transition_scores`). Defaults to None: every valid sequence
            adds 0.

    Returns:
        `(start, moves, end)`: float64 arrays of the same shapes, `-inf` where IOB2 forbids.
    """
    allowed_start, allowed = allowed_transitions(labels)
    start = np.where(allowed_start, 0.0, -np.inf)
    moves = np.where(allowed, 0.0, -np.inf)  # (from, to)
    end = np.zeros(len(start))
    if transitions is not None:
        learned = [np.asarray(values, dtype=np.float64) for values in transitions]
        start, moves, end = start + learned[0], moves + learned[1], end + learned[2]
    return start, moves, end


def _initial_scores(start, moves, count, previous):
    """Per sentence, the scores of its first word's labels: `start`, or after the label `previous`."""
    previous = [None] * count if previous is None else previous
    return np.array([start if p is None else moves[int(p)] for p in previous]).reshape(count, len(start))


def _by_length(word_scores, solve):
    """`solve(members, scores)` on every group of sentences of one length, `scores` stacked
    `(n, words, labels)`; the results, one array per sentence, back in order."""
    lengths = np.array([len(scores) for scores in word_scores], dtype=np.int64)
    results = [None] * len(word_scores)
    for length in np.unique(lengths):
        members = np.flatnonzero(lengths == length)
        if length == 0:
            for i in members:
                results[i] = np.zeros((0,) + np.shape(word_scores[i])[1:], dtype=np.float64)
            continue
        scores = np.stack([np.asarray(word_scores[i], dtype=np.float64) for i in members])
        for i, result in zip(members, solve(members, scores)):
            results[i] = result
    return results


def viterbi_decode(word_scores, labels, previous=None, transitions=None):
    """The most probable valid IOB2 label sequence of each sentence.

    The best sequence under `allowed_transitions(labels)` by the sum of the words' log-softmax
    scores: where the per-word argmax is already valid it is the answer; where it is not (an
    `I-per` after `O` or after `B-geo`), the most probable valid sequence wins instead of a
    broken entity. Logits or log-probabilities give the same answer. With a CRF's learned
    `transitions`, a sequence's score also counts its start, transition and end scores.

    Args:
        word_scores: a list with one float array `(num_words, num_labels)` per sentence.
        labels: the label names, in the order of the scores' last axis.
        previous: None, or one label id (or None) per sentence: the label of the word just before
            the sentence, which the first word must be allowed to follow (a long text decoded a
            block at a time). Defaults to None (every sentence starts afresh).
        transitions: None, or `(start, transitions, end)` learned scores (see `chain_scores`).
            Defaults to None.

    Returns:
        A list with one int array of label ids per sentence.

    Example:
    ```python
    labels = ["O", "B-per", "I-per"]
    scores = np.log([[0.9, 0.05, 0.05], [0.1, 0.3, 0.6]])  # argmax: O, I-per
    kerasner.viterbi_decode([scores], labels)  # [array([0, 1])]: O, B-per
    ```
    """
    start, moves, end = chain_scores(labels, transitions)
    initial = _initial_scores(start, moves, len(word_scores), previous)

    def solve(members, scores):  # (n, words, labels)
        best = scores[:, 0] + initial[members]
        back = np.zeros(scores.shape, dtype=np.int64)
        for t in range(1, scores.shape[1]):
            candidates = best[:, :, None] + moves  # (n, from, to)
            back[:, t] = candidates.argmax(1)
            best = candidates.max(1) + scores[:, t]
        path = np.zeros(scores.shape[:2], dtype=np.int64)
        path[:, -1] = (best + end).argmax(-1)
        rows = np.arange(len(members))
        for t in range(scores.shape[1] - 1, 0, -1):
            path[:, t - 1] = back[rows, t, path[:, t]]
        return path

    return [path.astype(np.int64) for path in _by_length(word_scores, solve)]


def chain_marginals(word_scores, labels, transitions=None, previous=None):
    """Each word's probability of each label under a linear-chain CRF (forward-backward).

    A sequence's probability is proportional to the exponential of its score, as in
    `viterbi_decode`; sequences IOB2 forbids have probability 0.

    Args:
        word_scores: a list with one float array `(num_words, num_labels)` per sentence.
        labels: the label names.
        transitions: None, or `(start, transitions, end)` learned scores (see `chain_scores`).
        previous: None, or per sentence the label id of the word before it (see `viterbi_decode`).

    Returns:
        A list with one float array `(num_words, num_labels)` per sentence; each row sums to 1.
    """
    start, moves, end = chain_scores(labels, transitions)
    initial = _initial_scores(start, moves, len(word_scores), previous)

    def solve(members, scores):  # (n, words, labels)
        length = scores.shape[1]
        alpha = np.zeros(scores.shape)
        beta = np.zeros(scores.shape)
        alpha[:, 0] = initial[members] + scores[:, 0]
        for t in range(1, length):
            alpha[:, t] = np.logaddexp.reduce(alpha[:, t - 1, :, None] + moves, axis=1) + scores[:, t]
        beta[:, -1] = end
        for t in range(length - 2, -1, -1):
            beta[:, t] = np.logaddexp.reduce(moves + (scores[:, t + 1] + beta[:, t + 1])[:, None, :], axis=2)
        log_z = np.logaddexp.reduce(alpha[:, -1] + end, axis=1)  # (n,)
        return np.exp(alpha + beta - log_z[:, None, None])

    return _by_length(word_scores, solve)


def decode_words(word_logits, labels, decode="viterbi", return_scores=False, previous=None, transitions=None):
    """Label ids (and optionally their probabilities) from per-word logits.

    With a CRF's learned `transitions`, the logits are its emission scores: Viterbi counts the
    transitions, and a word's probabilities are its marginals (`chain_marginals`), which
    `"argmax"` also reads.

    Args:
        word_logits: a list with one array `(num_words, num_labels)` per sentence.
        labels: the label names, in the order of the logits' last axis (used by `"viterbi"`).
        decode: `"viterbi"`, the most probable valid IOB2 sequence (`viterbi_decode`), or
            `"argmax"`, each word's most probable label on its own. Defaults to `"viterbi"`.
        return_scores: bool. Also return each word's probability of its label (its softmax, or
            with `transitions` its marginal).
        previous: None, or per sentence the label id of the word before it (see
            `viterbi_decode`); `"argmax"` without `transitions` ignores it. Defaults to None.
        transitions: None, or a CRF's `(start, transitions, end)` scores. Defaults to None.

    Returns:
        A list with an int array of label ids per sentence; with `return_scores`, a pair of such
        lists (ids, scores).
    """
    check_decode(decode)
    probabilities = None
    if transitions is not None and (return_scores or decode == "argmax"):
        probabilities = chain_marginals(word_logits, labels, transitions, previous)
    elif return_scores:
        probabilities = [softmax(logits) for logits in word_logits]
    if decode == "viterbi":
        ids = viterbi_decode(word_logits, labels, previous, transitions)
    else:
        ids = [np.asarray(values).argmax(-1) for values in probabilities or word_logits]
    if not return_scores:
        return ids
    return ids, [values[np.arange(len(chosen)), chosen] for values, chosen in zip(probabilities, ids)]


def softmax(logits):
    """The softmax over the last axis, in the logits' dtype."""
    logits = np.asarray(logits)
    shifted = np.exp(logits - logits.max(-1, keepdims=True))
    return shifted / shifted.sum(-1, keepdims=True)
