import itertools

import numpy as np
import pytest

import kerasner
from kerasner import decode_words, viterbi_decode
from kerasner.tags import to_iob2

LABELS = ["O", "B-per", "I-per", "B-geo", "I-geo"]


def is_valid(tags):
    return to_iob2(tags, "iob2")[1] == 0  # nothing to repair: no I- after O or another type


def best_valid_by_enumeration(scores):
    paths = (p for p in itertools.product(range(len(LABELS)), repeat=len(scores)) if is_valid([LABELS[i] for i in p]))
    return max(paths, key=lambda p: sum(scores[t, i] for t, i in enumerate(p)))


def test_viterbi_finds_the_best_valid_sequence_of_every_length():
    rng = np.random.default_rng(0)
    sentences = [rng.normal(size=(n, len(LABELS))) * 2 for n in [1, 4, 2, 3, 4, 1, 3, 5, 2, 5] * 3]
    decoded = viterbi_decode(sentences, LABELS)  # sentences of one length are decoded together
    for scores, ids in zip(sentences, decoded):
        assert tuple(ids) == best_valid_by_enumeration(scores)
        assert is_valid([LABELS[i] for i in ids])
    argmax_valid = [is_valid([LABELS[i] for i in s.argmax(-1)]) for s in sentences]
    assert not all(argmax_valid)  # the case is not vacuous


def test_viterbi_keeps_a_valid_argmax_and_mends_a_broken_one():
    log = lambda rows: np.log(np.asarray(rows))  # noqa: E731
    valid = log([[0.1, 0.8, 0.05, 0.03, 0.02], [0.2, 0.1, 0.6, 0.05, 0.05], [0.7, 0.1, 0.1, 0.05, 0.05]])
    # O then I-per (0.6): B-per (0.3) wins over O (0.1); B-geo then I-per: I-geo or B-per, by score.
    after_o = log([[0.9, 0.04, 0.02, 0.02, 0.02], [0.1, 0.3, 0.58, 0.01, 0.01]])
    after_other = log([[0.05, 0.05, 0.05, 0.8, 0.05], [0.05, 0.1, 0.5, 0.05, 0.3]])
    ids = viterbi_decode([valid, after_o, after_other, np.zeros((0, 5))], LABELS)
    assert [[LABELS[i] for i in row] for row in ids] == [
        ["B-per", "I-per", "O"], ["O", "B-per"], ["B-geo", "I-geo"], []
    ]


def test_labels_without_prefixes_are_read_by_argmax():
    scores = [np.random.default_rng(1).normal(size=(6, 3))]
    assert np.array_equal(viterbi_decode(scores, ["O", "PER", "LOC"])[0], scores[0].argmax(-1))


def test_decode_words_scores_the_chosen_label():
    logits = [np.log(np.array([[0.9, 0.04, 0.02, 0.02, 0.02], [0.1, 0.3, 0.58, 0.01, 0.01]]))]
    ids, scores = decode_words(logits, LABELS, "viterbi", return_scores=True)
    assert list(ids[0]) == [0, 1] and scores[0] == pytest.approx([0.9, 0.3])
    ids, scores = decode_words(logits, LABELS, "argmax", return_scores=True)
    assert list(ids[0]) == [0, 2] and scores[0] == pytest.approx([0.9, 0.58])


def test_unknown_decode_is_a_clear_error():
    with pytest.raises(ValueError, match="decode='beam'"):
        decode_words([np.zeros((2, 5))], LABELS, "beam")
    with pytest.raises(ValueError, match="decode='beam'"):
        kerasner.EntityPredictor(object(), decode="beam")
    with pytest.raises(ValueError, match="decode='beam'"):
        kerasner.callbacks.EntityF1Callback(None, decode="beam")


def test_a_previous_label_lets_the_first_word_continue_its_entity():
    labels = ["O", "B-per", "I-per"]
    scores = [np.log([[0.1, 0.3, 0.6], [0.1, 0.2, 0.7]])]
    assert kerasner.viterbi_decode(scores, labels)[0].tolist() == [1, 2]  # I- cannot start afresh
    assert kerasner.viterbi_decode(scores, labels, previous=[1])[0].tolist() == [2, 2]  # after B-per it may
    assert kerasner.viterbi_decode(scores, labels, previous=[0])[0].tolist() == [1, 2]  # after O it may not
    assert kerasner.viterbi_decode(scores * 2, labels, previous=[None, 2])[1].tolist() == [2, 2]
