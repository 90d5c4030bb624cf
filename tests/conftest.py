"""Tiny random BERT encoders and WordPiece tokenizers built in temporary folders."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
import transformers

WORDS = (
    "the a of in to and is was on for by with at from he she it they john mary smith paris london "
    "berlin france germany monday tuesday 2006 united nations army president said visited city "
    "company google minister police killed soldiers government people new york street"
).split()
LABELS = ["O", "B-per", "I-per", "B-geo", "I-geo", "B-org", "I-org", "B-tim", "I-tim"]

# Round trips through `.keras` files fail on Python 3.13, as expected.
KERAS_FILE_XFAIL = pytest.mark.xfail(
    sys.version_info >= (3, 13), strict=True, raises=tf.errors.OutOfRangeError,
    reason="tf_keras 2.21 reads a .keras file through TensorFlow's GFile, whose seek fails under Python 3.13's zipfile",
)


def write_vocab(directory):
    pieces = ["##s", "##ed", "##ing", "##er", "##a", "##o", "##n", "##e", "##i", "##t"]
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,'-")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + pieces + letters
    vocab += ["##" + letter for letter in letters]
    path = directory / "vocab.txt"
    path.write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    return path


def make_tokenizer(directory):
    return transformers.BertTokenizerFast(vocab_file=str(write_vocab(directory)), do_lower_case=True)


def make_encoder(vocab_size, seed=0, dropout=0.1):
    tf_keras.utils.set_random_seed(seed)
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
    )
    return transformers.TFBertModel(config)


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory):
    """A folder with a tiny random TFBertModel and its tokenizer, as `save_pretrained` writes them."""
    directory = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = make_tokenizer(directory)
    tokenizer.save_pretrained(directory)
    encoder = make_encoder(tokenizer.vocab_size)
    encoder(encoder.dummy_inputs)
    encoder.save_pretrained(directory)
    return directory


@pytest.fixture
def tokenizer(tiny_encoder_dir):
    return transformers.BertTokenizerFast.from_pretrained(tiny_encoder_dir)


@pytest.fixture
def labels():
    return list(LABELS)


def assert_same_loss_and_gradients(model, first, second, atol=1e-5):
    """The model's loss (`compute_loss`) and gradients on two `(x, y)` batches are equal: a batch
    packed several sentences a row against the same sentences padded a row each."""

    def loss_and_gradients(x, y):
        x, y = tf.nest.map_structure(tf.convert_to_tensor, (x, y))
        with tf.GradientTape() as tape:
            value = model.compute_loss(x, y, model(x, training=True))
        return value.numpy(), [tf.convert_to_tensor(g).numpy() for g in tape.gradient(value, model.trainable_weights)]

    (loss_a, gradients_a), (loss_b, gradients_b) = loss_and_gradients(*first), loss_and_gradients(*second)
    assert loss_a == pytest.approx(loss_b, rel=1e-5)
    for a, b in zip(gradients_a, gradients_b):
        np.testing.assert_allclose(a, b, atol=atol)


def random_batch(batch=4, seq_len=12, vocab_size=60, num_labels=len(LABELS), seed=0):
    """A batch dict and labels with -100 on padding and on every third position."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab_size, size=(batch, seq_len)).astype("int32")
    lengths = rng.integers(seq_len // 2, seq_len + 1, size=batch)
    attention = (np.arange(seq_len)[None, :] < lengths[:, None]).astype("int32")
    ids = ids * attention
    y = rng.integers(0, num_labels, size=(batch, seq_len)).astype("int32")
    y[attention == 0] = -100
    y[:, ::3] = -100
    return {"input_ids": ids, "attention_mask": attention}, y


@pytest.fixture(scope="session")
def sample_split():
    """120 training and 40 validation sentences of the embedded sample corpus."""
    import kerasner

    sentences = kerasner.read_sentences(kerasner.sample_data_path())
    return list(sentences[:120]), list(sentences[120:160])


@pytest.fixture
def sample_features(sample_split):
    """A tiny model (own WordPiece vocabulary) and the train/validation features of the sample."""
    import kerasner

    train, validation = sample_split
    labels = kerasner.labels_from_tags(s.tags for s in train + validation)
    model = kerasner.build_tiny_model(train, labels, vocab_size=300, hidden_size=32, intermediate_size=64, max_length=64)
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels, max_length=64)
    return model, preprocessor(train), preprocessor(validation)
