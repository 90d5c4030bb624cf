"""Tokenized windows of sentences, their length-bucketed batches and the way back to words."""

import itertools
import math

import numpy as np
import tensorflow as tf

from kerasner.runtime import restore_malloc_thresholds

# Batches per shuffling pool. Sorting by length inside bigger pools pads less but makes batches
# less alike the whole data set, which slows learning.
POOL_BATCHES = 16

# Batches are padded to their longest window. On a CPU, rounding lengths up to a multiple of 8
# only adds positions (GMB batches of 32: padding 1.08x -> 1.21x, 1.12x slower); pass
# `pad_to_multiple_of=8` for GPU tensor cores under float16.
PAD_TO_MULTIPLE_OF = 1


class TokenFeatures:
    """Token windows made by `TokenClassificationPreprocessor`, ready to batch.

    Each window holds `input_ids` (with special tokens), `labels` (`ignore_index` on special
    tokens and on sub-word continuations unless every sub-token is labelled) and `word_index`:
    for every position, the index of the word of its sentence whose prediction is read there,
    or -1. Every word of every sentence has exactly one such slot, also when a long sentence is
    split into overlapping windows.

    Args:
        input_ids, labels, word_index: lists of int32 arrays, one per window.
        sentence_index: int array, the sentence of each window.
        num_words: int array, the word count of each sentence.
        max_length: the longest a window may be.
        pad_token_id: id used for padding. Defaults to `0`.
        ignore_index: label of unlabelled positions. Defaults to `-100`.
        stats: dict of counts from the preprocessor. Defaults to `{}`.
    """

    def __init__(
        self,
        input_ids,
        labels,
        word_index,
        sentence_index,
        num_words,
        max_length,
        pad_token_id=0,
        ignore_index=-100,
        stats=None,
    ):
        self.input_ids = input_ids
        self.labels = labels
        self.word_index = word_index
        self.sentence_index = np.asarray(sentence_index, dtype=np.int64)
        self.num_words = np.asarray(num_words, dtype=np.int64)
        self.max_length = int(max_length)
        self.pad_token_id = int(pad_token_id)
        self.ignore_index = int(ignore_index)
        self.lengths = np.array([len(ids) for ids in input_ids], dtype=np.int64)
        self.stats = dict(stats or {})

    def __len__(self):
        return len(self.input_ids)

    # --- Batching -----------------------------------------------------------------------

    def batch_plan(self, batch_size=32, shuffle=True, seed=0, epoch=0, pool_batches=POOL_BATCHES, max_tokens=None):
        """Window indices of each batch, grouped by length.

        With `shuffle`, windows are shuffled, sorted by length inside pools of `pool_batches`
        batches, cut into batches, and the batches shuffled: batches differ every epoch yet
        hold windows of similar length. `pool_batches=1` draws batches at random (no grouping),
        as the transformers example does: more padding, batches more like the data as a whole.
        Without `shuffle`, windows are sorted by length.

        With `max_tokens`, a batch takes windows while its padded size (windows x padded length)
        stays within `max_tokens`, so batches of short sentences hold more of them; `batch_size`
        then only sizes the shuffling pools.
        """
        _check_batching(batch_size, pool_batches)
        if max_tokens is not None and max_tokens < self.max_length:
            raise ValueError(
                f"`max_tokens` must hold at least one window of max_length {self.max_length}. Received: max_tokens={max_tokens!r}"
            )
        if not shuffle:
            return self._cut(np.argsort(self.lengths, kind="stable"), batch_size, max_tokens)
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(len(self))
        pool = batch_size * pool_batches
        plan = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            plan.extend(self._cut(chunk[np.argsort(self.lengths[chunk], kind="stable")], batch_size, max_tokens))
        return [plan[i] for i in rng.permutation(len(plan))]

    def labelled_positions(self):
        """Number of labelled positions over all windows. Divided by the steps of an epoch, it
        is the constant of `BertTokenClassifier.compile(labelled_positions_per_step=...)`."""
        rows = () if self.labels is None else self.labels
        labelled = sum(int(np.count_nonzero(np.asarray(row) != self.ignore_index)) for row in rows)
        if labelled == 0:
            raise ValueError("These features have no labels (made from words without tags)")
        return labelled

    def _cut(self, ordered, batch_size, max_tokens):
        """Cuts windows sorted by length into batches of `batch_size`, or by the token budget."""
        if max_tokens is None:
            return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
        batches, start = [], 0
        for end in range(1, len(ordered) + 1):
            longest = self.padded_length(int(self.lengths[ordered[end - 1]]))
            if end - start > 1 and (end - start) * longest > max_tokens:
                batches.append(ordered[start : end - 1])
                start = end - 1
        batches.append(ordered[start:])
        return batches

    def padded_length(self, longest, pad_to_multiple_of=PAD_TO_MULTIPLE_OF):
        """`longest` rounded up to a multiple of `pad_to_multiple_of`, never above `max_length`
        (unless `longest` is)."""
        rounded = int(math.ceil(longest / pad_to_multiple_of) * pad_to_multiple_of)
        return max(longest, min(rounded, self.max_length))

    def pad(self, indices, pad_to_multiple_of=PAD_TO_MULTIPLE_OF):
        """Pads the windows `indices` into arrays `(x, y, word_index)` of shape (batch, length)."""
        length = self.padded_length(int(self.lengths[indices].max()), pad_to_multiple_of)
        ids = np.full((len(indices), length), self.pad_token_id, dtype=np.int32)
        labels = np.full((len(indices), length), self.ignore_index, dtype=np.int32)
        words = np.full((len(indices), length), -1, dtype=np.int32)
        mask = np.zeros((len(indices), length), dtype=np.int32)
        for row, index in enumerate(indices):
            size = self.lengths[index]
            ids[row, :size] = self.input_ids[index]
            labels[row, :size] = self.labels[index]
            words[row, :size] = self.word_index[index]
            mask[row, :size] = 1
        return {"input_ids": ids, "attention_mask": mask}, labels, words

    def pack(self, indices):
        """Packs the windows `indices` into few rows `(x, y, word_index)`, several windows a row.

        Windows go into rows first-fit by decreasing length; the row length is the one, between
        the longest window and twice it (at most `max_length`, so a row is no longer than the
        longest window allowed), that gives the fewest positions. Besides `input_ids` and
        `attention_mask` (1 on every window position), `x` holds `segment_ids` (1, 2, ... for the
        windows of a row, 0 on padding) and `position_ids` (restarting at 0 with every window):
        `BertTokenClassifier` lets each position attend to its own window only, so a packed
        window gets the same outputs as a padded one, with few padded positions whatever the
        windows' lengths.
        """
        lengths = self.lengths[indices]
        rows, length = pack_rows(lengths, self.max_length)
        ids = np.full((len(rows), length), self.pad_token_id, dtype=np.int32)
        labels = np.full((len(rows), length), self.ignore_index, dtype=np.int32)
        words = np.full((len(rows), length), -1, dtype=np.int32)
        mask = np.zeros((len(rows), length), dtype=np.int32)
        segments = np.zeros((len(rows), length), dtype=np.int32)
        positions = np.zeros((len(rows), length), dtype=np.int32)
        for row, members in enumerate(rows):
            start = 0
            for segment, member in enumerate(members, start=1):
                index, end = indices[member], start + lengths[member]
                ids[row, start:end] = self.input_ids[index]
                labels[row, start:end] = self.labels[index]
                words[row, start:end] = self.word_index[index]
                mask[row, start:end] = 1
                segments[row, start:end] = segment
                positions[row, start:end] = np.arange(end - start)
                start = end
        x = {"input_ids": ids, "attention_mask": mask, "segment_ids": segments, "position_ids": positions}
        return x, labels, words

    def batches(
        self, batch_size=32, shuffle=False, seed=0, epoch=0, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, max_tokens=None,
        pool_batches=POOL_BATCHES, pack=False,
    ):
        """Yields `(x, y, indices)` numpy batches following `batch_plan`; with `pack`, each
        batch's windows are packed into rows (`pack`) instead of padded one a row."""
        for indices in self.batch_plan(batch_size, shuffle, seed, epoch, pool_batches, max_tokens):
            x, y, _ = self.pack(indices) if pack else self.pad(indices, pad_to_multiple_of)
            yield x, y, indices

    def to_dataset(
        self, batch_size=32, shuffle=True, seed=0, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, max_tokens=None,
        pool_batches=POOL_BATCHES, pack=False, initial_epoch=0,
    ):
        """A `tf.data.Dataset` of `({"input_ids", "attention_mask"}, labels)` int32 batches.

        Batches group windows of similar length and are padded to their longest window, rounded up
        to a multiple of `pad_to_multiple_of` (default 1: not rounded); with `shuffle`, every pass over the dataset (every epoch) draws new
        batches from `seed` and the epoch number, counted from `initial_epoch` (the epoch
        a resumed `fit` starts at). With `max_tokens`, batches are cut by a budget of
        padded positions instead of a count of windows (see `batch_plan`); their number can then
        vary a little from epoch to epoch, and the dataset's cardinality is unknown. With `pack`,
        each batch's windows are packed several to a row (see `pack`; `x` also holds
        `segment_ids` and `position_ids`). tf.data's autotuning is off (nothing here is tunable,
        and it would make each epoch's end wait for its thread); a pipeline you build on this one
        can turn it back on with `with_options`.

        Example:
        ```python
        model.fit(features.to_dataset(32), epochs=3)
        ```
        """
        _check_batching(batch_size, pool_batches)  # here, not first inside the tf.data pipeline
        restore_malloc_thresholds()  # from_generator would make every large tensor a fresh mmap
        epochs = itertools.count(initial_epoch)

        def generate():
            epoch = next(epochs)
            for x, y, _ in self.batches(batch_size, shuffle, seed, epoch, pad_to_multiple_of, max_tokens, pool_batches, pack):
                yield x, y

        spec = tf.TensorSpec((None, None), tf.int32)
        keys = ("input_ids", "attention_mask") + (("segment_ids", "position_ids") if pack else ())
        dataset = tf.data.Dataset.from_generator(generate, output_signature=(dict.fromkeys(keys, spec), spec))
        if max_tokens is None:
            num_batches = math.ceil(len(self) / batch_size)  # every pool but the last is whole batches
            dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
        # Several workers each generate the same seeded batches and keep their share of them.
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        # Nothing here is tunable (a fixed prefetch), and tf.data's autotuning thread would make the
        # end of every epoch's iterator wait for its current sleep: 10 ms doubling up to 60 s.
        options.autotune.enabled = False
        return dataset.with_options(options).prefetch(2)

    def padding_overhead(
        self, batch_size=32, pad_to_multiple_of=PAD_TO_MULTIPLE_OF, seed=0, pool_batches=POOL_BATCHES, max_tokens=None, pack=False
    ):
        """Padded positions over real (non-pad) positions for one shuffled epoch of batches."""
        padded = 0
        for indices in self.batch_plan(batch_size, True, seed, 0, pool_batches, max_tokens):
            if pack:
                rows, length = pack_rows(self.lengths[indices], self.max_length)
                padded += len(rows) * length
            else:
                padded += len(indices) * self.padded_length(int(self.lengths[indices].max()), pad_to_multiple_of)
        return padded / int(self.lengths.sum())

    # --- Back to words ------------------------------------------------------------------

    def word_values(self, window_values):
        """Gathers one value per word from per-position values of each window.

        Args:
            window_values: a list with, for each window, an array whose first axis runs over the
                window's positions (e.g. predicted label ids, or logits). Padding beyond a
                window's length is ignored.

        Returns:
            A list with one array per sentence, of length `num_words[sentence]`.
        """
        first = np.asarray(window_values[0])
        out = [np.zeros((n,) + first.shape[1:], dtype=first.dtype) for n in self.num_words]
        for window, values in enumerate(window_values):
            slots = np.flatnonzero(self.word_index[window] >= 0)
            out[self.sentence_index[window]][self.word_index[window][slots]] = np.asarray(values)[slots]
        return out


def pack_rows(lengths, max_length=None):
    """Packs items of `lengths` into rows: returns `(rows, row_length)`, `rows` a list of lists of
    item positions.

    Items go first-fit by decreasing length into rows of one length, chosen between the longest
    item and twice it, but not above `max_length` (unless the longest item is), to give the
    fewest positions (rows x length; the shorter length on a tie).
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    longest, total = int(lengths.max()), int(lengths.sum())
    limit = 2 * longest if max_length is None else max(longest, min(2 * longest, int(max_length)))
    best = None
    for length in range(longest, limit + 1):
        if best is not None and -(-total // length) * length >= len(best[0]) * best[1]:
            continue  # even rows filled to the brim would not give fewer positions
        rows, free = [], []
        for item in order:
            size = int(lengths[item])
            for row, room in enumerate(free):
                if size <= room:
                    rows[row].append(int(item))
                    free[row] -= size
                    break
            else:
                rows.append([int(item)])
                free.append(length - size)
        if best is None or len(rows) * length < len(best[0]) * best[1]:
            best = (rows, length)
    return best


def _check_batching(batch_size, pool_batches):
    for name, value in (("batch_size", batch_size), ("pool_batches", pool_batches)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
