import kerasner
from kerasner import Sentence


def test_vocabulary_is_deterministic_and_covers_every_seen_character():
    sentences = [Sentence(["Anna", "met", "Bob", "in", "Oslo", "."], ["B-per", "O", "B-per", "O", "B-geo", "O"])] * 3
    sentences += [Sentence(["Bob", "left", "Oslo"], ["B-per", "O", "B-geo"])]
    first = kerasner.train_wordpiece_tokenizer(sentences, vocab_size=40)
    second = kerasner.train_wordpiece_tokenizer(list(reversed(sentences)), vocab_size=40)
    assert first.get_vocab() == second.get_vocab()
    vocabulary = first.get_vocab()
    assert all(t in vocabulary for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    assert all(c in vocabulary and "##" + c in vocabulary for c in "AnameBobiOslo.")
    # Most frequent words first, ties alphabetical: Bob and Oslo (4) before Anna, in, met, "." (3).
    words = [t for t, _ in sorted(vocabulary.items(), key=lambda item: item[1]) if len(t) > 1 and not t.startswith(("##", "["))]
    assert words[:2] == ["Bob", "Oslo"]
    assert first.tokenize("Bobslet") == ["Bob", "##s", "##l", "##e", "##t"]
    assert first.tokenize("Bobsled") == ["[UNK]"]  # "d" was never seen


def test_tiny_model_has_its_tokenizer(sample_split):
    train, _ = sample_split
    labels = kerasner.labels_from_tags(s.tags for s in train)
    model = kerasner.build_tiny_model(train, labels, vocab_size=500, hidden_size=32, intermediate_size=64, max_length=64)
    assert model.tokenizer.vocab_size == model.encoder.config.vocab_size
    assert model.tokenizer.model_max_length == 64 == model.encoder.config.max_position_embeddings
