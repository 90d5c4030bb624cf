"""The exported graph reads text as `EntityPredictor` does: words, WordPiece, windows, blocks, Viterbi, spans."""

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import kerasner
from kerasner.export import TextToEntities, wordpiece_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from benchmark import fuzz_texts  # noqa: E402  (the texts of `benchmark.py serving --fuzz`)


def graph_entities(module, texts):
    out = {key: value.numpy() for key, value in module.entities(tf.constant(texts)).items()}
    found = []
    for row in range(len(texts)):
        n = int(out["num_entities"][row])
        found.append(
            [
                (int(out["starts"][row, j]), int(out["ends"][row, j]), out["labels"][row, j].decode(), float(out["scores"][row, j]))
                for j in range(n)
            ]
        )
    return found


def assert_same_entities(predictor, module, texts):
    for got, want in zip(graph_entities(module, texts), predictor(texts)):
        assert [g[:3] for g in got] == [(e["start"], e["end"], e["label"]) for e in want]
        assert np.allclose([g[3] for g in got], [e["score"] for e in want], atol=1e-4)


@pytest.fixture(scope="module", params=["uncased", "cased"])
def decisive_model(request, tiny_encoder_dir, sample_split):
    """A random model whose head is scaled up, so that its tags are far from ties, with an uncased
    (lowercase, strip accents) or a cased tokenizer."""
    if request.param == "uncased":
        model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=["O", "B-per", "I-per", "B-geo", "I-geo"])
    else:
        train, _ = sample_split
        labels = kerasner.labels_from_tags(s.tags for s in train)
        model = kerasner.build_tiny_model(train, labels, vocab_size=300, hidden_size=32, intermediate_size=64, max_length=64)
    model(model.dummy_inputs())
    kernel, bias = model.classifier.weights
    kernel.assign(kernel * 40.0)
    bias.assign(np.linspace(1.0, -1.0, bias.shape[0]).astype("float32"))  # O first: entities, not only entities
    return model


def test_wordpieces_equal_the_fast_tokenizer_s(decisive_model):
    predictor = kerasner.EntityPredictor(decisive_model)
    module = TextToEntities(predictor)
    words = [w for text in fuzz_texts(40, seed=1) for w, _, _ in predictor.split_words(text)] + ["\xad", "ΣΟΣ"]
    tokenizer = decisive_model.tokenizer
    encoding = tokenizer(words, is_split_into_words=True, add_special_tokens=False)
    expected = [[] for _ in words]
    for piece, owner in zip(encoding["input_ids"], encoding.word_ids()):
        expected[owner].append(piece)
    expected = [pieces or [tokenizer.unk_token_id] for pieces in expected]  # as the preprocessor fills them
    assert module.wordpieces(tf.constant(words)).to_list() == expected


def test_words_and_offsets_equal_the_word_splitter_s(decisive_model):
    predictor = kerasner.EntityPredictor(decisive_model)
    module = TextToEntities(predictor)
    texts = fuzz_texts(40, seed=2)
    words, starts, ends = module.split_words(tf.constant(texts))
    for text, w, s, e in zip(texts, words.to_list(), starts.to_list(), ends.to_list()):
        assert list(zip([x.decode() for x in w], s, e)) == predictor.split_words(text)
        assert all(text[a:b] == x.decode() for x, a, b in zip(w, s, e))  # code points, as Python indices


@pytest.mark.parametrize("decode", ["viterbi", "argmax"])
def test_entities_equal_the_predictor_s_with_windows_and_blocks(decisive_model, decode):
    # Short windows and blocks: long texts take several windows, several blocks, and words
    # longer than a window; Viterbi carries each block's last tag into the next.
    predictor = kerasner.EntityPredictor(
        decisive_model, max_length=12, stride=3, block_words=30, context_words=4, batch_size=5, decode=decode
    )
    module = TextToEntities(predictor)
    texts = fuzz_texts(48, seed=3, longest=90)
    found = graph_entities(module, texts)
    assert sum(map(len, found)) > 50  # the test sees entities, and blocks of them
    assert_same_entities(predictor, module, texts)


@pytest.fixture(scope="module")
def crf_model(tiny_encoder_dir):
    """A decisive random model with a CRF head whose learned transitions are far from 0."""
    model = kerasner.BertTokenClassifier.from_pretrained(
        tiny_encoder_dir, labels=["O", "B-per", "I-per", "B-geo", "I-geo"], head="crf"
    )
    model(model.dummy_inputs())
    kernel, bias = model.classifier.weights
    kernel.assign(kernel * 40.0)
    bias.assign(np.linspace(1.0, -1.0, bias.shape[0]).astype("float32"))
    rng = np.random.default_rng(0)
    for weight in (model.crf.transitions, model.crf.start_scores, model.crf.end_scores):
        weight.assign(rng.normal(scale=4.0, size=weight.shape).astype("float32"))
    return model


@pytest.mark.parametrize("decode", ["viterbi", "argmax"])
def test_a_crf_head_s_entities_and_marginals_equal_the_predictor_s(crf_model, decode, tmp_path):
    predictor = kerasner.EntityPredictor(
        crf_model, max_length=12, stride=3, block_words=30, context_words=4, batch_size=5, decode=decode
    )
    texts = fuzz_texts(48, seed=5, longest=90)
    path = kerasner.export_saved_model(predictor, tmp_path / "ner")
    module = tf.saved_model.load(str(path))
    found = graph_entities(module, texts)
    assert sum(map(len, found)) > 50
    assert_same_entities(predictor, module, texts)
    # Without its transitions the model finds other entities: the export reads them.
    plain = kerasner.EntityPredictor(crf_model, max_length=12, stride=3, block_words=30, context_words=4, decode=decode)
    plain.transitions = None
    assert [[(e["start"], e["end"], e["label"]) for e in row] for row in plain(texts)] != [[g[:3] for g in row] for row in found]


def test_one_text_gives_the_entities_it_gives_in_a_batch(decisive_model):
    module = TextToEntities(kerasner.EntityPredictor(decisive_model, max_length=16, stride=4))
    texts = fuzz_texts(6, seed=4)
    alone = [graph_entities(module, [text])[0] for text in texts]
    together = graph_entities(module, texts)
    assert [[e[:3] for e in a] for a in alone] == [[e[:3] for e in t] for t in together]


def test_export_needs_a_regular_expression_splitter_and_wordpiece(decisive_model, tmp_path):
    with pytest.raises(ValueError, match="word splitter must be 'treebank' or 'whitespace'"):
        TextToEntities(kerasner.EntityPredictor(decisive_model, word_splitter="pretokenizer"))
    from test_entity_predictor import roberta_tokenizer

    with pytest.raises(ValueError, match="BERT's WordPiece tokenizer"):
        wordpiece_settings(roberta_tokenizer())
