import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

import kerasner
from kerasner import entity_scores

CASES = [
    ([["B-per", "I-per", "O", "B-geo"]], [["B-per", "I-per", "O", "O"]]),
    ([["B-per", "I-per", "O", "B-geo"]], [["B-per", "O", "O", "B-geo"]]),
    ([["O", "B-org", "I-org"], ["B-tim", "O"]], [["O", "I-org", "I-org"], ["B-tim", "O"]]),  # I- after O
    ([["B-geo", "B-geo", "O"]], [["B-geo", "I-geo", "O"]]),
    ([["O", "O"]], [["B-per", "O"]]),
]


@pytest.mark.parametrize("true, predicted", CASES)
@pytest.mark.parametrize("mode", ["default", "strict"])
def test_matches_seqeval(true, predicted, mode):
    options = {"mode": "strict", "scheme": IOB2} if mode == "strict" else {}
    scores = entity_scores(true, predicted, mode=mode)
    assert scores["f1"] == pytest.approx(f1_score(true, predicted, zero_division=0, **options))
    assert scores["precision"] == pytest.approx(precision_score(true, predicted, zero_division=0, **options))
    assert scores["recall"] == pytest.approx(recall_score(true, predicted, zero_division=0, **options))


def test_per_type_and_strict_difference():
    true, predicted = CASES[2]
    default = entity_scores(true, predicted)
    strict = entity_scores(true, predicted, mode="strict")
    assert default["per_type"]["org"]["f1"] == 1.0
    assert strict["per_type"]["org"]["f1"] == 0.0
    assert default["per_type"]["tim"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: mode='lenient'"):
        entity_scores([["O"]], [["O"]], mode="lenient")
    with pytest.raises(ValueError, match="same lengths"):
        entity_scores([["O", "O"]], [["O"]])


def test_span_scores_count_exact_spans_only():
    true = [[(0, 4, "per"), (9, 15, "geo")], []]
    predicted = [[(0, 4, "per"), (9, 14, "geo")], [(0, 3, "org")]]
    scores = kerasner.span_scores(true, predicted)
    assert (scores["precision"], scores["recall"], scores["support"]) == (pytest.approx(1 / 3), 0.5, 2)
    assert scores["f1"] == pytest.approx(0.4)
    assert scores["per_type"]["per"]["f1"] == 1.0 and scores["per_type"]["geo"]["f1"] == 0.0
    assert scores["per_type"]["org"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert kerasner.span_scores([[]], [[]])["f1"] == 0.0
    with pytest.raises(ValueError, match="one collection per text"):
        kerasner.span_scores([[]], [])


def test_span_scores_agree_with_seqeval_on_the_same_entities():
    tags = [["B-per", "I-per", "O", "B-geo"], ["O", "B-org"]]
    predicted = [["B-per", "O", "O", "B-geo"], ["O", "B-org"]]
    words = [[(0, 1), (2, 3), (4, 5), (6, 7)], [(0, 1), (2, 3)]]

    def spans(sentences):
        from kerasner.entity_predictor import decode_entities

        return [
            [(e["start"], e["end"], e["label"]) for e in decode_entities("a b c d", [("", a, b) for a, b in w], t, [1.0] * len(t))]
            for w, t in zip(words, sentences)
        ]

    by_spans, by_tags = kerasner.span_scores(spans(tags), spans(predicted)), kerasner.entity_scores(tags, predicted)
    for key in ("precision", "recall", "f1", "support"):
        assert by_spans[key] == pytest.approx(by_tags[key])
    assert by_spans["per_type"] == by_tags["per_type"]
