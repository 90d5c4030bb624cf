import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2

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
