import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import LABELS
from kerasner import Sentence, TokenClassificationPreprocessor

L = {label: i for i, label in enumerate(LABELS)}


def test_first_subtoken_alignment(tokenizer):
    sentence = Sentence(["John", "visited", "Xyz", "."], ["B-per", "O", "B-geo", "O"])
    features = TokenClassificationPreprocessor(tokenizer, LABELS)([sentence])
    tokens = tokenizer.convert_ids_to_tokens(features.input_ids[0].tolist())
    assert tokens == ["[CLS]", "john", "visited", "x", "##y", "##z", ".", "[SEP]"]
    assert features.labels[0].tolist() == [-100, L["B-per"], L["O"], L["B-geo"], -100, -100, L["O"], -100]
    assert features.word_index[0].tolist() == [-1, 0, 1, 2, -1, -1, 3, -1]
    assert features.stats["windowed_sentences"] == 0


def test_label_all_subtokens(tokenizer):
    sentence = Sentence(["Xyz", "Smith"], ["B-per", "I-per"])
    features = TokenClassificationPreprocessor(tokenizer, LABELS, label_all_subtokens=True)([sentence])
    assert features.labels[0].tolist() == [-100, L["B-per"], L["I-per"], L["I-per"], L["I-per"], -100]
    assert features.word_index[0].tolist() == [-1, 0, -1, -1, 1, -1]


def test_unlabelled_sentences_and_word_lists(tokenizer):
    features = TokenClassificationPreprocessor(tokenizer, LABELS)([["John", "Xy"]])
    assert (features.labels[0] == -100).all()
    assert features.word_index[0].tolist() == [-1, 0, 1, -1, -1]


def test_word_without_subtokens_gets_unknown_token(tokenizer):
    features = TokenClassificationPreprocessor(tokenizer, LABELS)([Sentence(["John", "\x92", "Paris"], ["B-per", "O", "B-geo"])])
    tokens = tokenizer.convert_ids_to_tokens(features.input_ids[0].tolist())
    assert tokens == ["[CLS]", "john", "[UNK]", "paris", "[SEP]"]
    assert features.word_index[0].tolist() == [-1, 0, 1, 2, -1]
    assert features.stats["words_without_subtokens"] == 1


def test_unknown_tag(tokenizer):
    with pytest.raises(ValueError, match=r"Unknown tag 'B-xyz' in sentence 0 \(line 7\)"):
        TokenClassificationPreprocessor(tokenizer, LABELS)([Sentence(["a"], ["B-xyz"], line=7)])


def test_bad_arguments(tokenizer):
    with pytest.raises(ValueError, match="Received: stride=30"):
        TokenClassificationPreprocessor(tokenizer, LABELS, max_length=32, stride=30)
    with pytest.raises(ValueError, match="Received: max_length=3"):
        TokenClassificationPreprocessor(tokenizer, LABELS, max_length=3)


def long_sentence(num_words, seed=0):
    rng = np.random.default_rng(seed)
    vocabulary = ["the", "john", "Xyzzy", "paris", "abcdefg", "of", "Qu", "berlin"]
    words = [vocabulary[i] for i in rng.integers(0, len(vocabulary), num_words)]
    tags = [LABELS[i] for i in rng.integers(0, len(LABELS), num_words)]
    return Sentence(words, tags)


def test_600_word_sentence_is_covered_by_windows(tokenizer):
    sentence = long_sentence(600)
    preprocessor = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64, stride=16)
    features = preprocessor([Sentence(["John"], ["B-per"]), sentence])
    assert features.stats["windowed_sentences"] == 1
    assert features.stats["windows"] > 10
    assert features.lengths.max() <= 64
    counts = np.zeros(600, dtype=int)
    for window in np.flatnonzero(features.sentence_index == 1):
        slots = features.word_index[window]
        np.add.at(counts, slots[slots >= 0], 1)
        # Every first sub-token in the window is labelled, owned or not (training sees overlaps).
        assert (features.labels[window] != -100).sum() >= (slots >= 0).sum()
    assert (counts == 1).all()
    # Reading labels back through the slots gives each word its own tag.
    words = features.word_values(features.labels)
    assert words[1].tolist() == [L[t] for t in sentence.tags]
    # Consecutive windows overlap.
    starts = [features.input_ids[w][1] for w in np.flatnonzero(features.sentence_index == 1)]
    assert len(starts) == features.stats["windows"] - 1


@pytest.mark.parametrize("max_length, stride", [(8, 0), (8, 5), (16, 3), (40, 37)])
def test_windows_cover_every_word_once(tokenizer, max_length, stride):
    for seed in range(5):
        sentence = long_sentence(int(np.random.default_rng(seed).integers(1, 200)), seed)
        features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=max_length, stride=stride)([sentence])
        assert features.lengths.max() <= max_length
        assert features.word_values(features.labels)[0].tolist() == [L[t] for t in sentence.tags]


def test_word_longer_than_a_window_is_cut_and_counted(tokenizer):
    sentence = Sentence(["john", "abcdefghijklmnopqrstuvwxyz", "paris"], ["B-per", "O", "B-geo"])
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=8, stride=2)([sentence])
    assert features.stats["words_cut_to_window"] == 1
    assert features.word_values(features.labels)[0].tolist() == [L["B-per"], L["O"], L["B-geo"]]


def sentences_of_lengths(lengths, seed=0):
    return [long_sentence(int(n), seed + i) for i, n in enumerate(lengths)]


def test_bucketed_batches(tokenizer):
    rng = np.random.default_rng(0)
    sentences = sentences_of_lengths(rng.integers(1, 40, 300))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    plans = [features.batch_plan(16, shuffle=True, seed=1, epoch=e) for e in range(2)]
    for plan in plans:
        assert sorted(np.concatenate(plan).tolist()) == list(range(len(features)))
        assert all(len(batch) <= 16 for batch in plan)
    assert [b.tolist() for b in plans[0]] != [b.tolist() for b in plans[1]]
    assert [b.tolist() for b in features.batch_plan(16, True, 1, 0)] == [b.tolist() for b in plans[0]]
    for x, y, indices in features.batches(16, shuffle=True):
        assert x["input_ids"].shape[1] == features.lengths[indices].max()  # padded to the longest
        np.testing.assert_array_equal(x["attention_mask"].sum(1), features.lengths[indices])
        assert (y[x["attention_mask"] == 0] == -100).all()
    for x, _, indices in features.batches(16, shuffle=True, pad_to_multiple_of=8):
        assert x["input_ids"].shape[1] % 8 == 0 or x["input_ids"].shape[1] == features.max_length
        assert x["input_ids"].shape[1] - features.lengths[indices].max() < 8
    fixed = 64 * len(features) / features.lengths.sum()
    assert features.padding_overhead(16) < features.padding_overhead(16, pad_to_multiple_of=8) < 1.25 < fixed


def test_pools_of_one_batch_draw_random_batches(tokenizer):
    sentences = sentences_of_lengths(np.random.default_rng(4).integers(1, 40, 320))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    grouped = features.batch_plan(16, shuffle=True, seed=1)
    random = features.batch_plan(16, shuffle=True, seed=1, pool_batches=1)
    assert sorted(np.concatenate(random).tolist()) == list(range(len(features)))
    # Batches are the shuffled windows in order, cut every 16 (then the batch order shuffled).
    order = np.random.default_rng([1, 0]).permutation(len(features))
    expected = sorted(sorted(order[i : i + 16].tolist()) for i in range(0, len(order), 16))
    assert sorted(sorted(batch.tolist()) for batch in random) == expected
    assert features.padding_overhead(16, pool_batches=1) > 1.3 > features.padding_overhead(16) == features.padding_overhead(16, pool_batches=16)
    assert [b.tolist() for b in grouped] != [b.tolist() for b in random]
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match=f"pool_batches={bad}"):
            features.batch_plan(16, pool_batches=bad)
        with pytest.raises(ValueError, match=f"pool_batches={bad}"):
            features.to_dataset(16, pool_batches=bad)  # before any batch is drawn


def test_to_dataset_reshuffles_every_epoch(tokenizer):
    sentences = sentences_of_lengths(np.random.default_rng(1).integers(1, 30, 100))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    dataset = features.to_dataset(batch_size=8, seed=3)
    expected = -(-len(features) // 8)
    assert dataset.cardinality().numpy() == expected
    first = [y.numpy().tolist() for _, y in dataset]
    second = [y.numpy().tolist() for _, y in dataset]
    assert len(first) == expected and first != second
    x, y = next(iter(dataset))
    assert x["input_ids"].dtype == tf.int32 and y.dtype == tf.int32
    assert sum(int(m.numpy().sum()) for m in (b[0]["attention_mask"] for b in dataset)) == features.lengths.sum()


def test_to_dataset_epoch_ends_without_waiting(tokenizer, monkeypatch):
    # With tf.data's autotuning on, the end of an epoch's iterator can wait for the autotuning
    # thread's sleep (10 ms, 20 ms, 40 ms, ...): after 0.4 s of batches, until 0.63 s. It did
    # in about a third of the epochs, so eight epochs almost surely catch it.
    features = TokenClassificationPreprocessor(tokenizer, LABELS)(sentences_of_lengths([3] * 4))
    batches = features.batches

    def slow_batches(*args, **kwargs):
        for batch in batches(*args, **kwargs):
            time.sleep(0.1)
            yield batch

    monkeypatch.setattr(features, "batches", slow_batches)
    dataset = features.to_dataset(batch_size=1)
    waits = []
    for _ in range(8):
        iterator = iter(dataset)
        assert len(list(iterator)) == 4
        start = time.perf_counter()
        del iterator
        waits.append(time.perf_counter() - start)
    assert max(waits) < 0.1, waits


def test_token_budget_batches(tokenizer):
    sentences = sentences_of_lengths(np.random.default_rng(2).integers(1, 40, 200))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    for shuffle in (False, True):
        plan = features.batch_plan(16, shuffle=shuffle, max_tokens=256)
        assert sorted(np.concatenate(plan).tolist()) == list(range(len(features)))
        for batch in plan:
            assert len(batch) * features.padded_length(int(features.lengths[batch].max())) <= 256
    sizes = [len(b) for b in features.batch_plan(16, shuffle=False, max_tokens=256)]
    assert sizes[0] > sizes[-1]  # short windows share a batch with more of their kind
    with pytest.raises(ValueError, match="Received: max_tokens=32"):
        features.batch_plan(16, max_tokens=32)
    x, y = next(iter(features.to_dataset(16, max_tokens=256)))
    assert x["input_ids"].shape[0] * x["input_ids"].shape[1] <= 256


def test_labelled_positions(tokenizer):
    sentences = sentences_of_lengths(np.random.default_rng(3).integers(1, 40, 50))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=64)(sentences)
    labelled = sum(int((y != -100).sum()) for _, y, _ in features.batches(8, shuffle=False))
    assert features.labelled_positions() == labelled
    unlabelled = TokenClassificationPreprocessor(tokenizer, LABELS)([list(s.words) for s in sentences])
    with pytest.raises(ValueError, match="no labels"):
        unlabelled.labelled_positions()


def test_pack_rows_places_every_item_once_in_the_fewest_positions():
    from kerasner.token_features import pack_rows

    lengths = np.random.default_rng(5).integers(3, 60, 32)
    rows, length = pack_rows(lengths)
    assert sorted(item for row in rows for item in row) == list(range(32))
    assert all(lengths[row].sum() <= length for row in rows)
    assert lengths.max() <= length <= 2 * lengths.max()
    assert len(rows) * length < 32 * lengths.max()  # fewer positions than one window a row
    assert pack_rows([7]) == ([[0]], 7)
    assert pack_rows([4, 4, 4]) == ([[0], [1], [2]], 4)  # 12 positions, none padded
    # Rows of 5 (the longest) or 6 take 3 rows; rows of 7 fit 4 + 3 in one: 14 positions.
    assert pack_rows([5, 4, 3]) == ([[0], [1, 2]], 7)


def test_packed_batches_hold_every_window_in_its_own_segment(tokenizer):
    sentences = sentences_of_lengths(np.random.default_rng(6).integers(1, 40, 200))
    features = TokenClassificationPreprocessor(tokenizer, LABELS, max_length=128)(sentences)
    seen = []
    for x, y, indices in features.batches(16, shuffle=True, seed=2, pool_batches=1, pack=True):
        assert set(x) == {"input_ids", "attention_mask", "segment_ids", "position_ids"}
        assert x["input_ids"].shape[0] < len(indices)  # several windows a row
        assert x["input_ids"].shape[1] <= features.max_length
        np.testing.assert_array_equal(x["attention_mask"], (x["segment_ids"] > 0).astype("int32"))
        assert (y[x["segment_ids"] == 0] == -100).all() and (x["input_ids"][x["segment_ids"] == 0] == 0).all()
        for row in range(x["input_ids"].shape[0]):
            for segment in range(1, x["segment_ids"][row].max() + 1):
                where = np.flatnonzero(x["segment_ids"][row] == segment)
                assert (np.diff(where) == 1).all()  # contiguous
                np.testing.assert_array_equal(x["position_ids"][row, where], np.arange(len(where)))
                window = [i for i in indices if features.lengths[i] == len(where)
                          and np.array_equal(features.input_ids[i], x["input_ids"][row, where])]
                assert window, "a segment that is no window of the batch"
                np.testing.assert_array_equal(y[row, where], features.labels[window[0]])
                seen.append(len(where))
    assert sorted(seen) == sorted(features.lengths.tolist())
    random, packed = features.padding_overhead(16, pool_batches=1), features.padding_overhead(16, pool_batches=1, pack=True)
    assert packed < features.padding_overhead(16) < random
    x, y = next(iter(features.to_dataset(16, pool_batches=1, pack=True)))
    assert set(x) == {"input_ids", "attention_mask", "segment_ids", "position_ids"} and x["segment_ids"].dtype == tf.int32


def test_a_sentence_longer_than_the_model_draws_no_tokenizer_warning(tokenizer, labels, caplog):
    import logging

    tokenizer.model_max_length = 16
    with caplog.at_level(logging.WARNING):
        features = TokenClassificationPreprocessor(tokenizer, labels, max_length=16, stride=4)([["paris"] * 40])
    assert features.stats["windowed_sentences"] == 1
    assert "Token indices sequence length" not in caplog.text
