import pytest

from kerasner import Sentence, oversample, train_validation_split


def test_split_is_by_sentence_and_seeded():
    sentences = [Sentence([f"w{i}", "x"], ["O", "O"]) for i in range(50)]
    train, validation = train_validation_split(sentences, validation_size=0.2, seed=42)
    assert len(train) == 40 and len(validation) == 10
    assert sorted(s.words for s in train + validation) == sorted(s.words for s in sentences)
    again = train_validation_split(sentences, validation_size=0.2, seed=42)
    assert again == (train, validation)
    assert train_validation_split(sentences, seed=1)[1] != validation


def test_split_needs_two_sentences():
    with pytest.raises(ValueError, match="Received: 1 sentences"):
        train_validation_split([Sentence(["a"], ["O"])])


def test_oversample_repeats_the_sentences_of_rare_types():
    common = [Sentence(("Paris",), ("B-geo",)) for _ in range(10)]
    rare = Sentence(("the", "Nile", "flood"), ("O", "B-nat", "I-nat"))
    both = Sentence(("Ebola", "in", "Paris", "and", "Ebola"), ("B-nat", "O", "B-geo", "O", "B-eve"))
    plain = Sentence(("nothing",), ("O",))
    out = oversample([*common, rare, both, plain], min_entities=5)
    # nat has 2 entities (5 / 2 -> 3 repeats) and eve 1 (5 repeats); a sentence follows its rarest type.
    assert list(out) == [*common, rare, rare, rare, *[both] * 5, plain]
    assert out.stats["oversampled"] == {
        "min_entities": 5,
        "types": {
            "eve": {"entities": 1, "repeats": 5, "entities_after": 5},
            "nat": {"entities": 2, "repeats": 3, "entities_after": 8},
        },
        "added_sentences": 6,
    }
    assert list(oversample(out, 0)) == list(out) and oversample(out, 0).stats["oversampled"]["types"] == {}
    with pytest.raises(ValueError, match="min_entities=-1"):
        oversample(out, -1)
