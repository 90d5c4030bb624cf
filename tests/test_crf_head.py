"""BertTokenClassifier(head="crf"): the CRF's loss over words, its decoding, saving, XLA and mixed precision."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import transformers

import kerasner
from conftest import KERAS_FILE_XFAIL, assert_same_loss_and_gradients, make_encoder
from kerasner import BertTokenClassifier

LABELS = ["O", "B-per", "I-per", "B-geo", "I-geo"]


def crf_model(tokenizer, dropout=0.0, seed=0):
    model = BertTokenClassifier(make_encoder(tokenizer.vocab_size, seed=seed, dropout=dropout), LABELS, dropout=dropout, head="crf")
    model(model.dummy_inputs())
    model.tokenizer = tokenizer
    return model


def valid_batch(batch=4, seq_len=12, vocab_size=60, seed=0):
    """Token ids and valid IOB2 labels on every other position (the others -100, as sub-words)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(batch, seq_len)).astype("int32")
    lengths = rng.integers(seq_len // 2, seq_len + 1, size=batch)
    attention = (np.arange(seq_len)[None, :] < lengths[:, None]).astype("int32")
    y = np.full((batch, seq_len), -100, "int32")
    for row in range(batch):
        previous = 0
        for position in range(1, lengths[row] - 1, 2):
            tag = int(rng.choice([0, 1, 3] + ([previous + 1] if previous in (1, 3) else [])))
            y[row, position] = previous = tag if tag in (0, 1, 3) or previous in (1, 3) else 0
    return {"input_ids": ids * attention, "attention_mask": attention}, y


@pytest.fixture
def model(tokenizer):
    return crf_model(tokenizer)


def by_hand(model, x, y):
    """The negative log-likelihood per labelled word, from the CRF layer on each row's words."""
    logits = model(x).numpy()
    total, words = 0.0, 0
    for row in range(len(y)):
        positions = np.flatnonzero(y[row] != -100)
        likelihood = model.crf.log_likelihood(logits[row : row + 1, positions], y[row : row + 1, positions])
        total -= float(likelihood.numpy()[0])
        words += len(positions)
    return total / words


def test_loss_is_the_negative_log_likelihood_per_word_and_ignores_unlabelled_positions(model):
    x, y = valid_batch()
    model.compile()
    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(by_hand(model, x, y), rel=1e-5)
    logits = model(x)
    changed = tf.where(tf.constant(y == -100)[:, :, None], 1e3 * tf.ones_like(logits), logits)  # anything off the words
    original = model.crf.loss(logits, y).numpy()
    assert model.crf.loss(changed, y).numpy() == pytest.approx(original, rel=1e-6)
    moved = tf.where(tf.constant(y != -100)[:, :, None], logits + tf.random.normal(tf.shape(logits)), logits)
    assert abs(model.crf.loss(moved, y).numpy() - original) > 1e-3  # on the words it counts: the check can fail


def test_compile_refuses_a_loss_and_fit_learns_words_and_transitions(model):
    x, y = valid_batch(batch=8, seed=1)
    with pytest.raises(ValueError, match="own negative log-likelihood"):
        model.compile(loss="mse")
    model.compile(keras.optimizers.Adam(3e-3))
    before = model.transition_scores()
    history = model.fit(x, y, epochs=20, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.3
    assert set(history.history) == {"loss", "token_accuracy"}
    assert not np.allclose(before[1], model.transition_scores()[1])
    assert [w.name.split("/")[-1] for w in kerasner.saving.head_weights(model)][-3:] == [
        "transitions:0", "start_scores:0", "end_scores:0"
    ]


def test_packed_rows_give_the_padded_rows_loss_and_gradients(tokenizer):
    from test_token_classification_preprocessor import sentences_of_lengths

    model = crf_model(tokenizer)
    cycle = ("B-per", "I-per", "O")
    sentences = [
        kerasner.Sentence(s.words, [cycle[i % 3] for i in range(len(s.words))])
        for s in sentences_of_lengths(np.random.default_rng(7).integers(1, 15, 24))
    ]
    features = kerasner.TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    indices = np.arange(len(features))
    packed_x, packed_y, _ = features.pack(indices)
    padded_x, padded_y, _ = features.pad(indices)
    assert packed_x["input_ids"].shape[0] < len(indices)

    assert_same_loss_and_gradients(model, (packed_x, packed_y), (padded_x, padded_y))
    # Chained across the sentences of a row, the loss would differ: the check can fail.
    unsegmented = model.crf.loss(model(packed_x), packed_y).numpy()
    assert abs(unsegmented - model.compute_loss(packed_x, packed_y, model(packed_x)).numpy()) > 1e-4


def test_a_window_that_starts_inside_an_entity_is_scored_without_start_scores(model):
    logits = tf.random.normal((1, 4, len(LABELS)), seed=3)
    inside = np.array([[2, 2, 0, 1]])  # I-per first: a window cut in the middle of a name
    loss = model.crf.loss(logits, inside).numpy()
    assert np.isfinite(loss) and loss < 50
    model.crf.start_scores.assign([0.0, 5.0, -5.0, 1.0, 2.0])
    assert model.crf.loss(logits, inside).numpy() == pytest.approx(loss, rel=1e-6)  # the start takes no part
    assert model.crf.loss(logits, np.array([[1, 2, 0, 1]])).numpy() != pytest.approx(loss)


def test_predictions_decode_with_the_learned_transitions(model):
    from kerasner.decoding import viterbi_decode

    rng = np.random.default_rng(4)
    for weight in (model.crf.transitions, model.crf.start_scores, model.crf.end_scores):
        weight.assign(rng.normal(scale=3.0, size=weight.shape).astype("float32"))
    sentences = [["john", "smith", "visited", "paris", "and", "london"], ["mary", "said"], ["the", "army", "in", "berlin"]] * 4
    features = kerasner.TokenClassificationPreprocessor(model.tokenizer, LABELS, max_length=64)(sentences)
    logits = kerasner.predict_word_logits(model, features)
    with_crf = kerasner.predict_words(model, features)
    expected = viterbi_decode(logits, LABELS, transitions=model.transition_scores())
    assert all((a == b).all() for a, b in zip(with_crf, expected))
    assert any((a != b).any() for a, b in zip(with_crf, viterbi_decode(logits, LABELS)))  # the transitions count
    predictor = kerasner.EntityPredictor(model)
    tags, scores = predictor.predict_words(sentences[:3], return_scores=True)
    assert tags == [[LABELS[i] for i in ids] for ids in with_crf[:3]]
    assert all(0.0 < s <= 1.0 for row in scores for s in row)


def fitted_input(model):
    """A batch, after one epoch of training on it."""
    x, y = valid_batch()
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    return x


def assert_same_crf_model(restored, model, x):
    assert restored.head == "crf" and restored.labels == model.labels
    for a, b in zip(restored.transition_scores(), model.transition_scores()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@KERAS_FILE_XFAIL
def test_keras_file_round_trip_keeps_the_transitions(model, tmp_path):
    x = fitted_input(model)
    model.save(tmp_path / "model.keras")
    assert_same_crf_model(keras.models.load_model(tmp_path / "model.keras"), model, x)


def test_folder_round_trip_keeps_the_transitions_and_stays_a_transformers_model(model, tmp_path):
    x = fitted_input(model)
    model.save_pretrained(tmp_path / "saved")
    assert_same_crf_model(BertTokenClassifier.from_pretrained(tmp_path / "saved"), model, x)
    assert "Its head is a linear-chain CRF" in (tmp_path / "saved" / "README.md").read_text()  # the model card says so
    # transformers reads the emission scores (without the transitions).
    hub = transformers.TFAutoModelForTokenClassification.from_pretrained(tmp_path / "saved")
    np.testing.assert_allclose(hub(x).logits.numpy(), model.predict(x, verbose=0), atol=1e-4)


def test_a_step_under_xla_equals_the_eager_step(tokenizer):
    x, y = valid_batch(seed=5)
    results = []
    for jit in (False, True):
        model = crf_model(tokenizer, seed=1)
        model.compile(keras.optimizers.SGD(0.1), jit_compile=jit)
        logs = model.train_on_batch(x, y, return_dict=True)
        results.append((logs["loss"], model.transition_scores()[1]))
    assert results[1][0] == pytest.approx(results[0][0], rel=1e-4)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-5)


@pytest.mark.parametrize("precision", ["bfloat16", "float16"])
def test_mixed_precision_keeps_the_crf_in_float32(tokenizer, precision):
    kerasner.set_mixed_precision(precision)
    try:
        model = crf_model(tokenizer)
        model.compile(keras.optimizers.Adam(1e-3))
        x, y = valid_batch(seed=6)
        logs = model.train_on_batch(x, y, return_dict=True)
        assert np.isfinite(logs["loss"])
        assert model.crf.transitions.dtype == tf.float32 and model(x).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_an_unknown_head_is_refused(tokenizer):
    with pytest.raises(ValueError, match="Unknown head"):
        BertTokenClassifier(make_encoder(tokenizer.vocab_size), LABELS, head="lstm")
