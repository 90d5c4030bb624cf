import pytest

from kerasner import Sentence, train_validation_split


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
