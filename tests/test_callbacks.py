import json

import numpy as np
import pytest
import tf_keras as keras
from seqeval.metrics import f1_score

import kerasner
from conftest import LABELS
from kerasner import Sentence, TokenClassificationPreprocessor
from kerasner.callbacks import BestModelCheckpoint, EntityF1Callback


class TableModel:
    """Predicts a fixed label for each token id (one-hot logits); stands in for a network."""

    def __init__(self, table, labels):
        self.table = table
        self.labels = labels

    def predict_on_batch(self, x):
        ids = np.asarray(x["input_ids"])
        return np.eye(len(self.labels), dtype="float32")[self.table[ids]] * 5.0


def test_entity_f1_equals_seqeval_at_word_level_with_subwords_and_windows(tokenizer):
    rng = np.random.default_rng(0)
    words = ["john", "Xyz", "paris", "of", "Qwer", "berlin", "the", "smith"]
    sentences = []
    for n in [3, 5, 9, 120]:  # the last one needs windows at max_length=16
        picked = [words[i] for i in rng.integers(0, len(words), n)]
        sentences.append(Sentence(picked, [LABELS[i] for i in rng.integers(0, len(LABELS), n)]))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=16, stride=4)(sentences)
    assert features.stats["windowed_sentences"] == 1
    # Token id -> label: continuation pieces ("##..."), [CLS], [SEP] and [PAD] predict B-per, which
    # must never count; first pieces predict a label from a fixed table.
    vocab = tokenizer.get_vocab()
    table = np.full(len(vocab), LABELS.index("B-per"))
    for token, index in vocab.items():
        if not token.startswith("##") and not token.startswith("["):
            table[index] = index % len(LABELS)
    model = TableModel(table, LABELS)
    expected = [
        [LABELS[table[tokenizer.convert_tokens_to_ids(tokenizer.tokenize(w)[0])]] for w in s.words] for s in sentences
    ]
    gold = [list(s.tags) for s in sentences]
    callback = EntityF1Callback(features, batch_size=3, verbose=0, decode="argmax")
    scores = callback.score(model)
    assert scores["f1"] == pytest.approx(f1_score(gold, expected))
    assert 0 < scores["f1"] < 1
    # The default reads the same word logits as the most probable valid IOB2 sequence.
    word_logits = [np.eye(len(LABELS))[[LABELS.index(tag) for tag in tags]] * 5.0 for tags in expected]
    decoded = [[LABELS[i] for i in ids] for ids in kerasner.viterbi_decode(word_logits, LABELS)]
    assert decoded != expected  # the table's tags hold I- after O or another type
    assert EntityF1Callback(features, batch_size=3, verbose=0).score(model)["f1"] == pytest.approx(f1_score(gold, decoded))


def test_callbacks_in_any_order_record_stop_and_keep_the_best(sample_features, tmp_path):
    model, train, validation = sample_features
    model.compile(keras.optimizers.Adam(0.0))  # nothing learns: F1 never improves after epoch 1
    history = model.fit(
        train.to_dataset(16),
        epochs=6,
        verbose=0,
        callbacks=[
            keras.callbacks.ModelCheckpoint(
                str(tmp_path / "ckpt.weights.h5"), monitor="val_entity_f1", mode="max", save_best_only=True,
                save_weights_only=True,
            ),
            keras.callbacks.EarlyStopping(monitor="val_entity_f1", mode="max", patience=1, restore_best_weights=True),
            BestModelCheckpoint(tmp_path / "best", verbose=0),
            EntityF1Callback(validation, verbose=0),  # listed last: fit runs it first
        ],
    )
    assert len(history.history["val_entity_f1"]) == 2  # stopped early
    assert {"val_entity_precision", "val_entity_recall", "val_entity_f1_per"} <= set(history.history)
    assert (tmp_path / "ckpt.weights.h5").is_file()
    state = json.loads((tmp_path / "best" / "checkpoint.json").read_text())
    assert state["epoch"] == 1 and state["monitor"] == "val_entity_f1"
    restored = kerasner.BertTokenClassifier.from_pretrained(tmp_path / "best")
    x, _, _ = next(validation.batches(8))
    np.testing.assert_allclose(restored.predict_on_batch(x), model.predict_on_batch(x), atol=1e-5)


def test_best_checkpoint_saves_only_improvements_and_survives_a_crash(sample_features, tmp_path):
    model, _, _ = sample_features
    model(model.dummy_inputs())
    callback = BestModelCheckpoint(tmp_path / "best", verbose=0)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_end(0, {"val_entity_f1": 0.5})
    callback.on_epoch_end(1, {"val_entity_f1": 0.4})
    assert json.loads((tmp_path / "best" / "checkpoint.json").read_text())["epoch"] == 1
    # A crash between the two renames: only best.old is left; the next run puts it back.
    (tmp_path / "best").rename(tmp_path / "best.old")
    again = BestModelCheckpoint(tmp_path / "best", verbose=0)
    again.set_model(model)
    again.on_train_begin()
    assert again.best == 0.5 and (tmp_path / "best" / "kerasner.json").is_file()
    again.on_epoch_end(2, {"val_entity_f1": 0.45})
    assert json.loads((tmp_path / "best" / "checkpoint.json").read_text())["epoch"] == 1
    # A crash while writing leaves only a temporary folder; "best" is untouched.
    (tmp_path / "best.tmp").mkdir()
    again.on_epoch_end(3, {"val_entity_f1": 0.9})
    assert not (tmp_path / "best.tmp").exists()
    assert json.loads((tmp_path / "best" / "checkpoint.json").read_text())["value"] == 0.9


def test_entity_f1_needs_labels(tokenizer):
    features = TokenClassificationPreprocessor(tokenizer, LABELS)([["john"]])
    with pytest.raises(ValueError, match="needs labelled features"):
        EntityF1Callback(features)
