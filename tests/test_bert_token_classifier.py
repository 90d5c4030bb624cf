import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
import transformers

from conftest import KERAS_FILE_XFAIL, assert_same_loss_and_gradients, make_encoder, random_batch
from kerasner import BertTokenClassifier, MaskedSparseCategoricalCrossentropy


@pytest.fixture
def model(tiny_encoder_dir, labels):
    keras.utils.set_random_seed(0)
    return BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=labels)


def test_logits_shape_and_labels(model, labels):
    x, _ = random_batch()
    logits = model(x)
    assert logits.shape == (4, 12, len(labels))
    assert logits.dtype == tf.float32
    assert model.labels == labels
    assert model.id2label[1] == "B-per" and model.label2id["B-per"] == 1
    assert isinstance(model.tokenizer, transformers.PreTrainedTokenizerFast)


def test_attention_mask_defaults_from_padding(model):
    x, _ = random_batch()
    np.testing.assert_allclose(model(x["input_ids"]).numpy(), model(x).numpy(), atol=1e-5)


def test_pooler_is_frozen(model):
    x, _ = random_batch()
    model(x)
    assert not any("pooler" in weight.name for weight in model.trainable_weights)


def test_fit_lowers_the_loss(model):
    x, y = random_batch(batch=8, seed=1)
    model.compile(keras.optimizers.Adam(1e-3))
    before = model.evaluate(x, y, verbose=0, return_dict=True)
    history = model.fit(x, y, epochs=15, batch_size=8, verbose=0)
    after = model.evaluate(x, y, verbose=0, return_dict=True)
    assert np.isfinite(history.history["loss"]).all()
    assert after["loss"] < before["loss"] - 0.2
    assert set(after) == {"loss", "token_accuracy"}


def test_compiled_loss_and_accuracy_use_only_labelled_positions(model):
    x, y = random_batch(seed=2)
    model.compile()
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    logits = model(x).numpy()
    mask = y != -100
    expected_loss = MaskedSparseCategoricalCrossentropy()(y, logits).numpy()
    expected_accuracy = (logits.argmax(-1)[mask] == y[mask]).mean()
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-4)
    assert result["token_accuracy"] == pytest.approx(expected_accuracy, rel=1e-5)


def test_get_config_json_round_trip(model, labels):
    model(random_batch()[0])
    config = json.loads(json.dumps(model.get_config()))
    restored = BertTokenClassifier.from_config(config)
    assert restored.get_config() == model.get_config()
    assert restored.labels == labels


@KERAS_FILE_XFAIL
def test_keras_file_round_trip(model, tmp_path):
    x, y = random_batch()
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored) is BertTokenClassifier
    assert restored.labels == model.labels
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert restored.tokenizer.get_vocab() == model.tokenizer.get_vocab()


def test_directory_round_trip(model, tmp_path):
    x, y = random_batch()
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_pretrained(tmp_path / "saved")
    restored = BertTokenClassifier.from_pretrained(tmp_path / "saved")
    assert type(restored) is BertTokenClassifier
    assert restored.labels == model.labels
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)
    assert restored.tokenizer.get_vocab() == model.tokenizer.get_vocab()
    # The folder is also a plain transformers encoder folder.
    assert isinstance(transformers.TFAutoModel.from_pretrained(tmp_path / "saved"), transformers.TFBertModel)


def test_directory_round_trip_of_a_model_built_from_a_config(tmp_path, labels):
    model = BertTokenClassifier(make_encoder(60, seed=4), labels=labels)
    x, y = random_batch()
    model.compile()
    model.fit(x, y, epochs=1, verbose=0)
    model.save_pretrained(tmp_path / "saved")
    restored = BertTokenClassifier.from_pretrained(tmp_path / "saved")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


class CRFLikeHead(BertTokenClassifier):
    """A research subclass: a two-layer head instead of one dense layer."""

    def __init__(self, *args, hidden_units=16, **kwargs):
        super().__init__(*args, **kwargs)
        self.hidden_units = hidden_units
        self.hidden = keras.layers.Dense(hidden_units, activation="gelu", name="hidden")

    def classify(self, hidden, training=False):
        return super().classify(self.hidden(hidden), training=training)

    def get_config(self):
        return {**super().get_config(), "hidden_units": self.hidden_units}


def test_subclass_with_other_head_trains_and_saves(tiny_encoder_dir, labels, tmp_path):
    model = CRFLikeHead.from_pretrained(tiny_encoder_dir, labels=labels)
    x, y = random_batch(batch=8, seed=3)
    model.compile(keras.optimizers.Adam(1e-3))
    history = model.fit(x, y, epochs=10, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save_pretrained(tmp_path / "sub")
    restored = CRFLikeHead.from_pretrained(tmp_path / "sub")
    assert type(restored) is CRFLikeHead and restored.hidden_units == 16
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-5)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([], r"at least one tag name\. Received: labels=\[\]"),
        (["O", "B-per", "O"], r"Received duplicates \['O'\]"),
        ("O B-per", "must be a list"),
        (["O", ""], "non-empty string"),
    ],
)
def test_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        BertTokenClassifier(make_encoder(50), labels=labels)


def test_ignore_index_colliding_with_a_label():
    with pytest.raises(ValueError, match=r"would hide the label 'I-per'\. Received: ignore_index=2"):
        BertTokenClassifier(make_encoder(50), labels=["O", "B-per", "I-per"], ignore_index=2)


def test_bad_dropout_and_encoder():
    with pytest.raises(ValueError, match="Received: dropout=1.5"):
        BertTokenClassifier(make_encoder(50), labels=["O"], dropout=1.5)
    with pytest.raises(ValueError, match="Received: encoder of type Dense"):
        BertTokenClassifier(keras.layers.Dense(3), labels=["O"])


def test_directory_that_is_not_a_kerasner_model(tiny_encoder_dir, tmp_path):
    with pytest.raises(ValueError, match="is not a kerasner model directory"):
        BertTokenClassifier.from_pretrained(tiny_encoder_dir)
    (tmp_path / "kerasner.json").write_text("{not json")
    with pytest.raises(ValueError, match="kerasner.json is not a valid kerasner model file"):
        BertTokenClassifier.from_pretrained(tmp_path)


def test_saved_model_with_other_labels(model, tmp_path):
    model.save_pretrained(tmp_path / "saved")
    with pytest.raises(ValueError, match="has labels"):
        BertTokenClassifier.from_pretrained(tmp_path / "saved", labels=["O", "B-x"])


def test_word_lookup_reads_the_table_densely_with_the_encoders_result(model):
    # ResourceGather on the table would put it in copy-on-read mode: three 47 MB copies a step
    # for a BERT vocabulary. encode() gathers from a dense read; results must not change.
    x, y = random_batch(seed=3)
    table = model.encoder.get_input_embeddings().weight
    own_lookup = {"input_ids": x["input_ids"], "attention_mask": x["attention_mask"]}
    loss_fn = MaskedSparseCategoricalCrossentropy()
    with tf.GradientTape(persistent=True) as tape:
        ours = model(x)
        theirs = model.classify(model.encoder(own_lookup).last_hidden_state)
        ours_loss, theirs_loss = loss_fn(y, ours), loss_fn(y, theirs)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    ours_grad, theirs_grad = tape.gradient(ours_loss, table), tape.gradient(theirs_loss, table)
    assert isinstance(ours_grad, tf.IndexedSlices)  # LazyAdamW updates only these rows
    np.testing.assert_allclose(tf.convert_to_tensor(ours_grad).numpy(), tf.convert_to_tensor(theirs_grad).numpy(), atol=1e-7)

    graph = tf.function(lambda inputs: model(inputs, training=True)).get_concrete_function(x).graph
    table_handles = {tensor.ref() for tensor, variable in zip(graph.internal_captures, graph.external_captures)
                     if variable is table.handle}
    assert table_handles
    assert not [op for op in graph.get_operations()
                if op.type == "ResourceGather" and op.inputs[0].ref() in table_handles]

    too_big = dict(x, input_ids=tf.fill(tf.shape(x["input_ids"]), table.shape[0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="vocabulary size"):
        model(too_big)


def test_packed_rows_give_the_same_logits_loss_and_gradients_as_padded_rows(tokenizer, labels):
    from kerasner import TokenClassificationPreprocessor
    from kerasner.token_features import pack_rows
    from test_token_classification_preprocessor import sentences_of_lengths

    model = BertTokenClassifier(make_encoder(tokenizer.vocab_size, dropout=0.0), labels, dropout=0.0)
    features = TokenClassificationPreprocessor(tokenizer, labels, max_length=64)(
        sentences_of_lengths(np.random.default_rng(7).integers(1, 15, 24))
    )
    indices = np.arange(len(features))
    packed_x, packed_y, _ = features.pack(indices)
    padded_x, padded_y, _ = features.pad(indices)
    assert packed_x["input_ids"].shape[0] < len(indices)
    packed, padded = model(packed_x).numpy(), model(padded_x).numpy()
    rows, _ = pack_rows(features.lengths, features.max_length)
    for row, members in enumerate(rows):
        start = 0
        for member in members:
            size = features.lengths[member]
            np.testing.assert_allclose(packed[row, start : start + size], padded[member, :size], atol=1e-5)
            start += size
    # Mixed up, the segments would attend to each other: the check can fail.
    crossed = dict(packed_x, segment_ids=np.minimum(packed_x["segment_ids"], 1))
    assert np.abs(model.encode(crossed).numpy() - model.encode(packed_x).numpy()).max() > 1e-3
    model.compile()  # the masked cross-entropy
    assert_same_loss_and_gradients(model, (packed_x, packed_y), (padded_x, padded_y))


def test_packed_rows_need_a_bert_encoder(labels):
    config = transformers.RobertaConfig(
        vocab_size=60, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
    )
    model = BertTokenClassifier(transformers.TFRobertaModel(config), labels)
    assert not model.can_pack
    x = {name: np.ones((1, 4), "int32") for name in ("input_ids", "attention_mask", "segment_ids", "position_ids")}
    with pytest.raises(ValueError, match="model_type 'roberta'"):
        model(x)
