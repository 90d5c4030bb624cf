"""EntityPredictor: the saved word splitter, offsets for every tokenizer family, CJK, long texts."""

import json

import numpy as np
import pytest
import transformers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

import kerasner
from conftest import WORDS, make_encoder, make_tokenizer

TEXT = "Mr. Smith met the U.S.-led group in  Zurich, Paris\tand New York."
WORD_SPANS = [(w, a, b) for w, a, b in kerasner.WordSplitter()(TEXT)]


def forced_model(tokenizer, tags_by_word=None, word_splitter="treebank", bias=None):
    """A tiny model whose head ignores the encoder: every word gets the same scores (`bias`)."""
    labels = ["O", "B-per", "I-per"]
    encoder = make_encoder(len(tokenizer), seed=1)
    model = kerasner.BertTokenClassifier(encoder, labels=labels, word_splitter=word_splitter)
    model(model.dummy_inputs())
    kernel, _ = model.classifier.get_weights()
    model.classifier.set_weights([np.zeros_like(kernel), np.asarray(bias if bias is not None else [0.0, 5.0, 0.0], np.float32)])
    model.tokenizer = tokenizer
    return model


def roberta_tokenizer():
    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator([TEXT, " ".join(WORDS)] * 5, trainer)
    return transformers.RobertaTokenizerFast(tokenizer_object=backend, add_prefix_space=True, model_max_length=64)


def metaspace_tokenizer():
    backend = Tokenizer(models.Unigram())
    backend.normalizer = normalizers.NFKC()
    backend.pre_tokenizer = pre_tokenizers.Metaspace()
    backend.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=200, special_tokens=["<pad>", "<unk>", "<s>", "</s>"], unk_token="<unk>")
    backend.train_from_iterator([TEXT, " ".join(WORDS)] * 5, trainer)
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", model_max_length=64
    )


@pytest.fixture(params=["bert-uncased", "bert-cased", "roberta", "metaspace"])
def family_tokenizer(request, tmp_path):
    if request.param == "roberta":
        return roberta_tokenizer()
    if request.param == "metaspace":
        return metaspace_tokenizer()
    tokenizer = make_tokenizer(tmp_path)
    return tokenizer if request.param == "bert-uncased" else transformers.BertTokenizerFast(
        vocab_file=str(tmp_path / "vocab.txt"), do_lower_case=False
    )


def test_every_word_is_an_entity_with_its_exact_offsets(family_tokenizer):
    predictor = kerasner.EntityPredictor(forced_model(family_tokenizer))
    entities = predictor(TEXT)
    assert [(e["text"], e["start"], e["end"]) for e in entities] == WORD_SPANS
    assert ("Zurich", 37, 43) in WORD_SPANS  # two spaces before it; the span starts at the Z


def test_pretokenizer_offsets_leave_out_the_space_before_a_word(family_tokenizer):
    predictor = kerasner.EntityPredictor(forced_model(family_tokenizer, word_splitter="pretokenizer"))
    entities = predictor(TEXT)
    assert all(e["text"] == e["text"].strip() == TEXT[e["start"] : e["end"]] for e in entities)
    assert 37 in [e["start"] for e in entities] and 36 not in [e["start"] for e in entities]  # at the Z of Zurich


def test_the_word_splitter_is_saved_with_the_model(tmp_path):
    model = forced_model(make_tokenizer(tmp_path), word_splitter="whitespace")
    model.save_pretrained(tmp_path / "saved")
    restored = kerasner.EntityPredictor.from_pretrained(tmp_path / "saved")
    assert restored.word_splitter.kind == "whitespace"
    assert restored.split_words(TEXT) == kerasner.WordSplitter("whitespace")(TEXT)
    assert restored(TEXT) == kerasner.EntityPredictor(model)(TEXT)
    # A folder saved before the splitter was part of the model reads text the treebank way.
    manifest = json.loads((tmp_path / "saved" / "kerasner.json").read_text())
    del manifest["config"]["word_splitter"]
    (tmp_path / "saved" / "kerasner.json").write_text(json.dumps(manifest))
    assert kerasner.EntityPredictor.from_pretrained(tmp_path / "saved").word_splitter.kind == "treebank"
    with pytest.raises(ValueError, match="Unknown word splitter"):
        kerasner.BertTokenClassifier(make_encoder(60), labels=["O"], word_splitter="nltk")
    with pytest.raises(ValueError, match="Received: word_splitter='spacy'"):
        model.word_splitter = "spacy"


def test_a_long_text_read_in_blocks_keeps_an_entity_that_crosses_them(tmp_path):
    # Every word scores I-per highest and B-per next: the whole text is one person, B- then I-.
    model = forced_model(make_tokenizer(tmp_path), bias=[0.0, 2.0, 5.0])
    text = " ".join(["paris"] * 1000)
    whole = kerasner.EntityPredictor(model)(text)
    blocked = kerasner.EntityPredictor(model, block_words=64, context_words=8)
    assert whole == blocked(text) == list(blocked.iter_entities(text))
    assert [(e["start"], e["end"]) for e in whole] == [(0, len(text))]


def test_blocks_give_the_entities_of_the_whole_text(tmp_path):
    model = forced_model(make_tokenizer(tmp_path), bias=[0.0, 5.0, 0.0])
    text = " ".join(["paris london."] * 400)
    whole = kerasner.EntityPredictor(model)(text)
    blocks = kerasner.EntityPredictor(model, block_words=100, context_words=10)(text)
    assert len(whole) == 1200 and blocks == whole


def test_predict_words_gives_one_tag_per_given_word(tmp_path):
    predictor = kerasner.EntityPredictor(forced_model(make_tokenizer(tmp_path)))
    tags, scores = predictor.predict_words([["U.S.", "troops"], [], ["paris"]], return_scores=True)
    assert tags == [["B-per", "B-per"], [], ["B-per"]]
    assert [len(s) for s in scores] == [2, 0, 1] and all(0 < p <= 1 for p in scores[0])


def test_cjk_text_end_to_end(tmp_path):
    people, cities = ["张伟", "李娜", "王芳"], ["北京", "上海", "广州"]
    sentences = [
        kerasner.Sentence(list(person + "住在" + city + "。"), ["B-per", "I-per", "O", "O", "B-geo", "I-geo", "O"])
        for person in people for city in cities
    ] * 4
    labels = kerasner.labels_from_tags(s.tags for s in sentences)
    model = kerasner.build_tiny_model(sentences, labels, vocab_size=100, hidden_size=32, intermediate_size=64, max_length=64)
    features = kerasner.TokenClassificationPreprocessor(model.tokenizer, labels)(sentences)
    kerasner.train_token_classifier(model, features, features, tmp_path / "run", epochs=25, batch_size=8, learning_rate=3e-3, verbose=0)
    predictor = kerasner.EntityPredictor.from_pretrained(tmp_path / "run" / "best")
    entities = predictor("李娜住在北京。")
    assert [(e["text"], e["label"], e["start"], e["end"]) for e in entities] == [("李娜", "per", 0, 2), ("北京", "geo", 4, 6)]


def test_raw_text_scores_match_word_scores_when_the_splits_agree(tmp_path):
    from kerasner.commands.run_report import evaluate_features, evaluate_raw_text

    model = forced_model(make_tokenizer(tmp_path), bias=[0.0, 5.0, 0.0])
    sentences = [
        kerasner.Sentence(["Mr.", "Smith", "went", "to", "the", "U.S.", "."], ["B-per", "I-per", "O", "O", "O", "B-per", "O"]),
        kerasner.Sentence(["paris", ",", "london"], ["B-per", "O", "B-per"]),
    ]
    raw = evaluate_raw_text(kerasner.EntityPredictor(model), sentences)
    words = evaluate_features(model, kerasner.TokenClassificationPreprocessor(model.tokenizer, model.labels)(sentences))
    assert raw["split_as_labelled"] == 2 and raw["sentences"] == 2
    for key in ("precision", "recall", "f1", "support"):
        assert raw["entity"][key] == pytest.approx(words["entity"][key])
    # Split the pretokenizer's way, "U.S." and "Mr." become several words and their spans are lost.
    pieces = evaluate_raw_text(kerasner.EntityPredictor(model, word_splitter="pretokenizer"), sentences)
    assert pieces["split_as_labelled"] == 1 and pieces["entity"]["f1"] < raw["entity"]["f1"]
