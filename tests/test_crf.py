"""LinearChainCRF against brute force over every label sequence."""

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kerasner
from kerasner.decoding import allowed_transitions

LABELS = ["O", "B-per", "I-per", "B-geo", "I-geo"]


def valid(sequence):
    start, allowed = allowed_transitions(LABELS)
    return start[sequence[0]] and all(allowed[a, b] for a, b in zip(sequence, sequence[1:]))


def brute_force(crf, emissions, length):
    """`{sequence: score}` over every valid sequence of `length` words of one row."""
    transitions, start, end = (w.numpy() for w in (crf.transitions, crf.start_scores, crf.end_scores))
    scores = {}
    for sequence in itertools.product(range(len(LABELS)), repeat=length):
        if valid(sequence):
            score = start[sequence[0]] + end[sequence[-1]] + sum(emissions[t, y] for t, y in enumerate(sequence))
            scores[sequence] = score + sum(transitions[a, b] for a, b in zip(sequence, sequence[1:]))
    return scores


@pytest.fixture
def crf():
    layer = kerasner.LinearChainCRF(LABELS)
    layer.build()
    rng = np.random.default_rng(0)
    for weight in (layer.transitions, layer.start_scores, layer.end_scores):
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    return layer


def batch(lengths=(4, 2, 1, 3), words=4, seed=1):
    rng = np.random.default_rng(seed)
    emissions = rng.normal(scale=2.0, size=(len(lengths), words, len(LABELS))).astype("float32")
    mask = np.arange(words)[None, :] < np.array(lengths)[:, None]
    return emissions, mask


def test_partition_likelihood_decode_and_marginals_equal_brute_force(crf):
    emissions, mask = batch()
    log_z = crf.log_partition(emissions, mask).numpy()
    best = crf.decode(emissions, mask).numpy()
    marginals = crf.marginals(emissions, mask).numpy()
    for row, length in enumerate(mask.sum(1)):
        scores = brute_force(crf, emissions[row], length)
        values = np.array(list(scores.values()))
        expected = np.log(np.exp(values - values.max()).sum()) + values.max()
        np.testing.assert_allclose(log_z[row], expected, rtol=1e-5)
        winner = max(scores, key=scores.get)
        assert tuple(best[row, :length]) == winner and not best[row, length:].any()
        gold = np.array(list(winner) + [-100] * (mask.shape[1] - length))[None]
        likelihood = crf.log_likelihood(emissions[row : row + 1], gold, mask[row : row + 1]).numpy()[0]
        np.testing.assert_allclose(likelihood, scores[winner] - expected, rtol=1e-5, atol=1e-5)
        probabilities = np.zeros((length, len(LABELS)))
        for sequence, score in scores.items():
            probabilities[np.arange(length), sequence] += np.exp(score - expected)
        np.testing.assert_allclose(marginals[row, :length], probabilities, atol=1e-5)
        assert not marginals[row, length:].any()


def test_forbidden_transitions_are_never_decoded_whatever_is_learnt(crf):
    crf.transitions.assign(np.full((5, 5), 50.0, "float32"))  # learnt scores cannot lift the barrier
    emissions, mask = batch(lengths=(4, 4, 4, 4), seed=2)
    emissions[:, :, 2] += 30.0  # I-per would win every word on its own
    for row in crf.decode(emissions, mask).numpy():
        assert valid(tuple(row)) and row[0] != 2


def test_masked_positions_change_nothing(crf):
    emissions, mask = batch()
    labels = np.where(mask, np.random.default_rng(3).integers(0, 5, mask.shape), -100)
    changed = emissions.copy()
    changed[~mask] = 1e3  # any value where there is no word
    for a, b in ((crf.log_likelihood(emissions, labels, mask), crf.log_likelihood(changed, labels, mask)),
                 (crf.decode(emissions, mask), crf.decode(changed, mask))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_a_row_without_words_scores_zero_and_one_word_rows_work(crf):
    emissions, mask = batch(lengths=(0, 1), words=1)
    np.testing.assert_array_equal(crf.log_likelihood(emissions, np.zeros((2, 1)), mask).numpy()[0], 0.0)
    assert crf.decode(emissions, mask).numpy().tolist()[0] == [0]
    assert crf.decode(emissions, mask).numpy()[1, 0] == np.argmax(
        emissions[1, 0] + crf.start_scores.numpy() + crf.end_scores.numpy() + [0, 0, -1e4, 0, -1e4]
    )


def test_learns_transitions_under_xla_and_saves_its_config(crf, tmp_path):
    emissions, mask = batch(lengths=(4, 4, 3, 2))
    labels = np.where(mask, [[1, 2, 0, 3]] * 4, -100)

    @tf.function(jit_compile=True)
    def step(emissions):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(crf.log_likelihood(emissions, labels, mask))
        gradients = tape.gradient(loss, crf.trainable_weights)
        optimizer.apply_gradients(zip(gradients, crf.trainable_weights))
        return loss, crf.decode(emissions, mask)

    optimizer = keras.optimizers.Adam(0.1)
    eager = -tf.reduce_mean(crf.log_likelihood(emissions, labels, mask)).numpy()
    first, _ = step(tf.constant(emissions))
    np.testing.assert_allclose(first.numpy(), eager, rtol=1e-5)
    for _ in range(50):
        loss, decoded = step(tf.constant(emissions))
    assert loss < first and np.isfinite(loss.numpy())
    np.testing.assert_array_equal(np.where(mask, decoded.numpy(), -100), labels)  # the gold paths are learnt
    copy = kerasner.LinearChainCRF.from_config(crf.get_config())
    assert copy.labels == LABELS and copy.dtype == "float32"


def test_mixed_precision_emissions_are_scored_in_float32(crf):
    emissions, mask = batch()
    half = crf.log_partition(tf.cast(emissions, tf.bfloat16), mask)
    assert half.dtype == tf.float32
    np.testing.assert_allclose(
        half.numpy(), crf.log_partition(tf.cast(tf.cast(emissions, tf.bfloat16), tf.float32), mask).numpy(), rtol=1e-6
    )


def test_sentences_packed_in_a_row_are_separate_chains(crf):
    emissions, _ = batch(lengths=(5,), words=5, seed=4)
    labels = np.array([[1, 2, 0, 3, 4]])
    starts = np.array([[False, False, True, False, False]])  # words 0-1 and 2-4 are two sentences
    first, second = emissions[:, :2], emissions[:, 2:]
    np.testing.assert_allclose(
        crf.log_partition(emissions, starts=starts).numpy(),
        crf.log_partition(first).numpy() + crf.log_partition(second).numpy(), rtol=1e-5,
    )
    np.testing.assert_allclose(
        crf.log_likelihood(emissions, labels, starts=starts).numpy(),
        crf.log_likelihood(first, labels[:, :2]).numpy() + crf.log_likelihood(second, labels[:, 2:]).numpy(), rtol=1e-5,
    )
    np.testing.assert_array_equal(
        crf.decode(emissions, starts=starts).numpy(),
        np.concatenate([crf.decode(first).numpy(), crf.decode(second).numpy()], axis=1),
    )
    np.testing.assert_allclose(
        crf.marginals(emissions, starts=starts).numpy(),
        np.concatenate([crf.marginals(first).numpy(), crf.marginals(second).numpy()], axis=1), atol=1e-6,
    )


def test_word_sequences_of_a_packed_batch_are_the_sentences_chains(crf):
    from kerasner.crf import word_sequences

    # Row 0 packs two sentences (segments 1 and 2) with sub-word continuations (-100); row 1 is one
    # window of a long sentence, then padding.
    labels = np.array([[-100, 1, -100, 2, -100, 0, -100, 3, 4, -100], [-100, 0, 1, -100, 2, -100, -100, -100, -100, -100]])
    segments = np.array([[1, 1, 1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 1, 1, 1, 1, 0, 0, 0, 0]])
    logits = np.random.default_rng(5).normal(size=(2, 10, 5)).astype("float32")
    words, word_labels, mask, starts = (t.numpy() for t in word_sequences(logits, labels, segment_ids=segments))
    np.testing.assert_array_equal(word_labels[0, :5], [1, 2, 0, 3, 4])
    np.testing.assert_array_equal(words[0, :5], logits[0, [1, 3, 5, 7, 8]])
    assert mask.sum(1).tolist() == [5, 3] and (word_labels[~mask] == -100).all()
    assert np.flatnonzero(starts[0]).tolist() == [3] and not starts[1].any()  # word 3 starts segment 2
    # The packed row's likelihood is its two sentences' likelihoods.
    packed = crf.log_likelihood(words, word_labels, mask, starts).numpy()[0]
    alone = crf.log_likelihood(logits[:1, [1, 3, 5]], [[1, 2, 0]]) + crf.log_likelihood(logits[:1, [7, 8]], [[3, 4]])
    np.testing.assert_allclose(packed, alone.numpy()[0], rtol=1e-5)
    compiled = tf.function(word_sequences, jit_compile=True)(tf.constant(logits), tf.constant(labels), -100, tf.constant(segments))
    np.testing.assert_array_equal(compiled[1].numpy(), word_labels)


@pytest.mark.parametrize("previous", [None, 1, 0])
def test_numpy_decoding_with_transitions_equals_the_layer(crf, previous):
    from kerasner.decoding import chain_marginals, decode_words, viterbi_decode

    emissions, mask = batch(lengths=(4, 2, 1, 3), seed=6)
    transitions = tuple(w.numpy() for w in (crf.start_scores, crf.transitions, crf.end_scores))
    sentences = [emissions[row, :length] for row, length in enumerate(mask.sum(1))]
    decoded = viterbi_decode(sentences, LABELS, previous=[previous] * 4, transitions=transitions)
    marginals = chain_marginals(sentences, LABELS, transitions, previous=[previous] * 4)
    if previous is None:
        expected_paths, expected_marginals = crf.decode(emissions, mask).numpy(), crf.marginals(emissions, mask).numpy()
    else:  # the first word follows `previous`: as a chain that starts one word earlier, from `previous`
        first = np.full((4, 1, len(LABELS)), -1e4, "float32")
        first[:, 0, previous] = 0.0
        longer, longer_mask = np.concatenate([first, emissions], 1), np.concatenate([np.ones((4, 1), bool), mask], 1)
        expected_paths = crf.decode(longer, longer_mask).numpy()[:, 1:]
        expected_marginals = crf.marginals(longer, longer_mask).numpy()[:, 1:]
    for row, length in enumerate(mask.sum(1)):
        np.testing.assert_array_equal(decoded[row], expected_paths[row, :length])
        np.testing.assert_allclose(marginals[row], expected_marginals[row, :length], atol=1e-5)
    ids, scores = decode_words(sentences, LABELS, return_scores=True, transitions=transitions, previous=[previous] * 4)
    assert all((a == b).all() for a, b in zip(ids, decoded))
    for row, chosen in enumerate(ids):
        np.testing.assert_allclose(scores[row], marginals[row][np.arange(len(chosen)), chosen])
    argmax = decode_words(sentences, LABELS, decode="argmax", transitions=transitions, previous=[previous] * 4)
    assert all((a == m.argmax(-1)).all() for a, m in zip(argmax, marginals))
