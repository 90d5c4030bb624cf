"""Document context: documents in the readers, context words, context sub-tokens around a sentence, and
the predictor reading a document's sentences with their neighbours."""

import json

import numpy as np
import pytest

import kerasner
from conftest import LABELS
from kerasner import Sentence, TokenClassificationPreprocessor, add_context, read_sentences

CONLL = """-DOCSTART- O

john B-per
said O

mary B-per

-DOCSTART- O

paris B-geo
"""


def test_readers_keep_documents_and_json_lines_keep_context(tmp_path):
    conll = tmp_path / "docs.conll"
    conll.write_text(CONLL)
    sentences = read_sentences(conll)
    assert [s.document for s in sentences] == [1, 1, 2]
    jsonl = tmp_path / "docs.jsonl"
    kerasner.write_sentences(add_context(sentences, 3), jsonl)
    again = read_sentences(jsonl)
    assert [s.document for s in again] == [1, 1, 2]
    assert [s.context for s in again] == [((), ("mary",)), (("john", "said"), ()), ((), ())]
    lines = jsonl.read_text().splitlines()
    lines[0] = lines[0].replace('"context": [[], ["mary"]]', '"context": ["mary"]')
    jsonl.write_text("\n".join(lines) + "\n")
    with pytest.raises(kerasner.DataFormatError, match=r"docs.jsonl, line 1: 'context' must be two lists of words"):
        read_sentences(jsonl)


def test_context_stays_in_its_document_and_takes_the_nearest_words():
    sentences = [
        Sentence(("a", "b"), document="x"), Sentence(("c",), document="x"), Sentence(("d", "e", "f"), document="x"),
        Sentence(("g",), document="y"),
    ]
    with_context = add_context(sentences, 2)
    assert [s.context for s in with_context] == [
        ((), ("c", "d")), (("a", "b"), ("d", "e")), (("b", "c"), ()), ((), ()),
    ]
    assert [s.words for s in with_context] == [s.words for s in sentences]
    assert all(s.context is None for s in add_context(sentences, 0))
    with pytest.raises(ValueError, match="at least 0"):
        add_context(sentences, -1)


def test_context_sub_tokens_surround_the_sentence_without_labels_or_slots(tokenizer):
    sentence = Sentence(("john", "visited", "paris"), ("B-per", "O", "B-geo"), context=(("the", "army", "said"), ("on", "monday")))
    plain = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)([sentence])
    around = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64, context=2)([sentence])
    ids = lambda words: tokenizer(list(words), is_split_into_words=True, add_special_tokens=False)["input_ids"]  # noqa: E731
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert around.input_ids[0].tolist() == [cls] + ids(["army", "said"]) + ids(sentence.words) + ids(["on", "monday"]) + [sep]
    assert around.labels[0].tolist() == [-100] * 3 + plain.labels[0][1:-1].tolist() + [-100] * 3
    assert (around.word_index[0][:3] == -1).all() and (around.word_index[0][-3:] == -1).all()
    assert around.word_values(around.labels)[0].tolist() == plain.word_values(plain.labels)[0].tolist()
    assert around.stats["context_tokens"] == 4
    # Whole words only, within the window's room; a preprocessor without context reads none.
    assert TokenClassificationPreprocessor(tokenizer, LABELS, max_length=8, stride=2, context=8)([sentence]).lengths.tolist() == [7]
    assert plain.stats["context_tokens"] == 0 and plain.lengths.tolist() == [5]
    with pytest.raises(ValueError, match="context"):
        TokenClassificationPreprocessor(tokenizer, LABELS, context=-2)


@pytest.fixture
def context_model(tiny_encoder_dir):
    model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=LABELS)
    model.context = 6
    return model


def test_the_predictor_reads_a_document_s_sentences_with_their_neighbours(context_model, tmp_path):
    texts = ["John Smith visited Paris.", "He met Mary in London on Monday.", "The army said it."]
    predictor = kerasner.EntityPredictor(context_model, batch_size=2)
    document = predictor.predict_document(texts)
    explicit = predictor.predict(texts, context=[("", " ".join(texts[1:])), (texts[0], texts[2]), (" ".join(texts[:2]), "")])
    assert document == explicit
    # The model reads the context: the words' logits change with it.
    alone = kerasner.predict_word_logits(context_model, predictor.preprocessor([Sentence(("mary", "said"))]))
    read = kerasner.predict_word_logits(
        context_model, predictor.preprocessor([Sentence(("mary", "said"), context=(("the", "army"), ("in", "paris")))])
    )
    assert np.abs(alone[0] - read[0]).max() > 1e-4
    # A saved model keeps its context; a model without context ignores the neighbours.
    context_model.save_pretrained(tmp_path / "saved")
    assert kerasner.BertTokenClassifier.from_pretrained(tmp_path / "saved").context == 6
    assert "predict_document" in (tmp_path / "saved" / "README.md").read_text()
    context_model.context = 0
    plain = kerasner.EntityPredictor(context_model, batch_size=2)
    assert plain.predict_document(texts) == plain.predict(texts)
    with pytest.raises(ValueError, match="context"):
        context_model.context = -1


def test_predict_document_lines_one_output_line_each(context_model, tmp_path, capsys):
    from kerasner.commands import predict

    context_model.save_pretrained(tmp_path / "model")
    texts = ["John Smith visited Paris.", "He met Mary in London.", "", "The army said it.", ""]
    (tmp_path / "doc.txt").write_text("\n".join(texts) + "\n")
    assert predict.main(["--model", str(tmp_path / "model"), "--input", str(tmp_path / "doc.txt"), "--document"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == texts
    predictor = kerasner.EntityPredictor.from_pretrained(tmp_path / "model")
    expected = predictor.predict_document(texts[:2]) + [[]] + predictor.predict_document(texts[3:4]) + [[]]
    assert [line["entities"] for line in lines] == expected
