import pytest

from kerasner import detect_scheme, labels_from_tags, to_iob2
from kerasner.tags import is_valid_tag


@pytest.mark.parametrize(
    "scheme, tags, expected, repaired",
    [
        ("iob2", ["B-a", "I-a", "O", "B-b"], ["B-a", "I-a", "O", "B-b"], 0),
        ("iob2", ["O", "I-a", "I-a", "I-b"], ["O", "B-a", "I-a", "B-b"], 2),
        ("iob1", ["I-a", "I-a", "B-a", "O", "I-b"], ["B-a", "I-a", "B-a", "O", "B-b"], 0),
        ("iobes", ["B-a", "I-a", "E-a", "S-b", "S-b", "O"], ["B-a", "I-a", "I-a", "B-b", "B-b", "O"], 0),
        ("bilou", ["U-a", "B-b", "L-b", "O", "U-a"], ["B-a", "B-b", "I-b", "O", "B-a"], 0),
        ("iobes", ["S-a", "I-a"], ["B-a", "B-a"], 1),
    ],
)
def test_to_iob2(scheme, tags, expected, repaired):
    assert to_iob2(tags, scheme) == (expected, repaired)


def test_to_iob2_rejects_foreign_prefix_and_scheme():
    with pytest.raises(ValueError, match="does not belong to the iob2 scheme"):
        to_iob2(["S-a"], "iob2")
    with pytest.raises(ValueError, match="Received: scheme='bio'"):
        to_iob2(["O"], "bio")


def test_detect_scheme():
    assert detect_scheme([["B-a", "I-a", "O"]]) == "iob2"
    assert detect_scheme([["I-a", "I-a", "B-a", "O", "I-b"]]) == "iob1"
    assert detect_scheme([["O", "S-a"], ["B-a", "E-a"]]) == "iobes"
    assert detect_scheme([["U-a"]]) == "bilou"
    assert detect_scheme([["O", "I-a"], ["B-a", "O"]]) == "iob2"  # B- after O: IOB2 with an error


def test_tag_shapes():
    assert all(is_valid_tag(t) for t in ["O", "B-per", "I-creative-work", "S-x", "U-x"])
    assert not any(is_valid_tag(t) for t in ["X-PER", "B-", "b-per", "", "O-per", "BPER"])


def test_labels_from_tags():
    assert labels_from_tags([["O", "B-per", "I-per"], ["B-geo", "O"]]) == ["O", "B-geo", "I-geo", "B-per", "I-per"]
