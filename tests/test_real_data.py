"""Checks on the real corpora; run with `make test-slow` and KERASNER_DATA_DIR / KERASNER_MODEL_DIR set."""

import os
from pathlib import Path

import pytest
import transformers

import kerasner

pytestmark = pytest.mark.slow


def data_dir():
    path = os.environ.get("KERASNER_DATA_DIR")
    if not path or not Path(path, "gmb", "ner_dataset.csv").is_file():
        pytest.skip("set KERASNER_DATA_DIR to a folder with gmb/ner_dataset.csv and wnut17/")
    return Path(path)


def model_dir():
    path = os.environ.get("KERASNER_MODEL_DIR")
    if not path or not Path(path, "config.json").is_file():
        pytest.skip("set KERASNER_MODEL_DIR to a pretrained BERT folder (config.json, tf_model.h5, tokenizer)")
    return Path(path)


def test_gmb_counts():
    sentences = kerasner.read_sentences(data_dir() / "gmb" / "ner_dataset.csv")
    assert len(sentences) == 47_959
    assert sum(len(s) for s in sentences) == 1_048_575
    assert len({tag for s in sentences for tag in s.tags}) == 17
    assert sum(word == "None" for s in sentences for word in s.words) == 10
    assert max(len(s) for s in sentences) == 104
    train, validation = kerasner.train_validation_split(sentences, 0.2, seed=42)
    assert (len(train), len(validation)) == (38_367, 9_592)


def test_wnut17_counts():
    train = kerasner.read_sentences(data_dir() / "wnut17" / "wnut17train.conll")
    dev = kerasner.read_sentences(data_dir() / "wnut17" / "emerging.dev.conll")
    assert (len(train), sum(map(len, train))) == (3_394, 62_730)
    assert (len(dev), sum(map(len, dev))) == (1_009, 15_733)
    assert len(kerasner.labels_from_tags(s.tags for s in train)) == 13


def test_gmb_tokenized_padding_overhead():
    sentences = kerasner.read_sentences(data_dir() / "gmb" / "ner_dataset.csv")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir())
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    features = kerasner.TokenClassificationPreprocessor(tokenizer, labels, max_length=128)(sentences)
    # One GMB sentence is longer than 128 sub-tokens: windowed here, truncated by pad-to-128 recipes.
    assert features.stats["windowed_sentences"] == 1
    assert [len(words) for words in features.word_values(features.labels)] == [len(s) for s in sentences]
    assert features.padding_overhead(batch_size=32) < 1.25
    assert 128 * len(features) / features.lengths.sum() > 4.5


def test_the_treebank_splitter_reproduces_the_corpus_words():
    splitter = kerasner.WordSplitter()

    def share_split_as_labelled(sentences):
        same = 0
        for sentence in sentences:
            text, offsets = kerasner.detokenize(sentence.words)
            same += [(start, end) for _, start, end in splitter(text)] == offsets
        return same / len(sentences)

    assert share_split_as_labelled(kerasner.read_sentences(data_dir() / "gmb" / "ner_dataset.csv")) > 0.997
    # WNUT-17 keeps "I'm" and "don't" whole and splits "!!" in dev: fewer sentences, but its entities, agree.
    assert share_split_as_labelled(kerasner.read_sentences(data_dir() / "wnut17" / "emerging.dev.conll")) > 0.78


@pytest.mark.parametrize("format", ["conll", "jsonl", "hf-jsonl", "labelstudio", "doccano", "brat"])
def test_gmb_validation_goes_through_every_format_with_the_same_entities(format, tmp_path):
    from kerasner.span_formats import sentence_spans

    sentences = kerasner.read_sentences(data_dir() / "gmb" / "ner_dataset.csv")
    validation = kerasner.train_validation_split(sentences, 0.2, seed=42)[1]
    path = tmp_path / ("out" if format == "brat" else "out.data")
    kerasner.write_sentences(validation, path, format=format)
    back = kerasner.read_sentences(path, format=format)

    def entities(items):
        return [(text, [(text[start:end], label) for start, end, label in spans]) for text, spans in map(sentence_spans, items)]

    assert len(back) == 9_592 and entities(back) == entities(validation)  # a round-trip difference of 0
    same_words = sum(a.words == b.words and a.tags == b.tags for a, b in zip(validation, back))
    moved = back.stats.get("misaligned_spans", [])
    if format in ("conll", "jsonl", "hf-jsonl"):
        assert same_words == 9_592
    else:  # the treebank splitter splits 16 of the texts otherwise; two spans split a word there
        assert same_words == 9_576 and [m["text"] for m in moved] == ["World War I", "Wertheim Schroder & Co"]
