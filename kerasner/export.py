"""A trained model as a TensorFlow SavedModel that reads raw text: word splitting, WordPiece,
windows, decoding and entity spans all run as TensorFlow ops."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_text

from kerasner import crf
from kerasner.decoding import allowed_transitions
from kerasner.tags import split_tag
from kerasner.word_splitter import SPACE_PATTERN

# BERT's pre-tokenizer: split at white space, isolate punctuation and CJK ideographs (the
# ranges of BERT's normalizer).
_PUNCTUATION = r"[!-/:-@\[-`{-~]|\p{P}"
_CJK = (
    r"[\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}\x{20000}-\x{2A6DF}\x{2A700}-\x{2CEAF}"
    r"\x{F900}-\x{FAFF}\x{2F800}-\x{2FA1F}]"
)
# What BERT's normalizer removes (`clean_text`): NUL, the replacement character, and control,
# format, private-use and surrogate code points.
_REMOVED = r"[\x{0}\x{FFFD}\p{Cc}\p{Cf}\p{Co}\p{Cs}]"
_NO_ENTITY = -1  # starts and ends of padding in the entity outputs
_FAR = np.iinfo(np.int64).max // 2  # beyond every offset: pads sorted rows for searchsorted


def wordpiece_settings(tokenizer):
    """The normalizer and WordPiece settings of a BERT fast tokenizer, to rebuild it in a graph.

    Raises:
        ValueError: the tokenizer is not BERT's (normalizer, pre-tokenizer and WordPiece model).
    """
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    normalizer, pre_tokenizer, model = spec.get("normalizer") or {}, spec.get("pre_tokenizer") or {}, spec["model"]
    kinds = (normalizer.get("type"), pre_tokenizer.get("type"), model.get("type"))
    if kinds != ("BertNormalizer", "BertPreTokenizer", "WordPiece"):
        raise ValueError(
            "Export reads text with BERT's WordPiece tokenizer (BertNormalizer, BertPreTokenizer, WordPiece). "
            f"Received: a tokenizer with normalizer, pre-tokenizer and model {kinds}"
        )
    lowercase = bool(normalizer.get("lowercase", True))
    strip_accents = normalizer.get("strip_accents")
    vocab = sorted(model["vocab"].items(), key=lambda item: item[1])
    return {
        "clean_text": bool(normalizer.get("clean_text", True)),
        "split_cjk": bool(normalizer.get("handle_chinese_chars", True)),
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "lowercase": lowercase,
        "unk_token": model["unk_token"],
        "prefix": model.get("continuing_subword_prefix", "##"),
        "max_chars": int(model.get("max_input_chars_per_word", 100)),
        "vocab": [token for token, _ in vocab],
        "ids": [int(index) for _, index in vocab],
    }


class TextToEntities(tf.Module):
    """`EntityPredictor` as TensorFlow ops: raw UTF-8 texts in, entity spans out.

    Every step runs in the graph, with the predictor's settings: the model's word splitter (as
    RE2 patterns), BERT's normalizer and WordPiece (`tensorflow_text.WordpieceTokenizer`), blocks
    of `block_words` words with their context, overlapping windows, each word read at its first
    sub-token, IOB2-constrained Viterbi decoding (`tensorflow_text.viterbi_constrained_sequence`)
    and the spans with their mean word probability. Its entities are `EntityPredictor`'s.

    Character offsets count Unicode code points, as Python's string indices do.

    Args:
        predictor: an `EntityPredictor`, whose model splits words with `"treebank"` or
            `"whitespace"` and has a BERT WordPiece tokenizer.
    """

    def __init__(self, predictor):
        super().__init__(name="kerasner")
        patterns = predictor.word_splitter.patterns
        if patterns is None:
            raise ValueError(
                "Export splits words with RE2 patterns: the model's word splitter must be 'treebank' or "
                f"'whitespace'. Received: word_splitter={predictor.word_splitter.kind!r}"
            )
        self._word_pattern, self._clitic_pattern = patterns
        model, preprocessor = predictor.model, predictor.preprocessor
        settings = wordpiece_settings(model.tokenizer)
        self._settings = {key: value for key, value in settings.items() if key not in ("vocab", "ids")}
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(settings["vocab"]), tf.constant(settings["ids"], tf.int64)
            ),
            default_value=-1,
        )
        self.wordpiece = tensorflow_text.WordpieceTokenizer(
            table,
            suffix_indicator=settings["prefix"],
            max_bytes_per_word=4 * settings["max_chars"] + 4,  # the limit is in characters, below
            token_out_type=tf.int64,
            unknown_token=settings["unk_token"],
        )
        self._unk_id = int(model.tokenizer.convert_tokens_to_ids(settings["unk_token"]))
        self._prefix_ids = [int(i) for i in preprocessor._prefix_ids]
        self._suffix_ids = [int(i) for i in preprocessor._suffix_ids]
        self._budget = preprocessor.max_length - preprocessor.num_special
        self._stride = preprocessor.stride
        self._pad_id = int(model.tokenizer.pad_token_id or 0)
        self._batch_size = int(predictor.batch_size)
        self._block_words = predictor.block_words
        self._context_words = predictor.context_words
        self._decode = predictor.decode

        labels = model.labels
        start, allowed = allowed_transitions(labels)
        self._start = tf.constant(start)
        self._allowed = tf.constant(allowed)
        self._transitions = None
        if predictor.transitions is not None:  # a CRF head: its learned scores, held to IOB2
            learned_start, learned, learned_end = (tf.constant(v, tf.float32) for v in predictor.transitions)
            self._transitions = {
                "learned": learned,
                "start": learned_start + tf.where(self._start, 0.0, crf.FORBIDDEN),
                "moves": learned + tf.where(self._allowed, 0.0, crf.FORBIDDEN),
                "end": learned_end,
            }
        tags = [split_tag(label) for label in labels]
        kinds = sorted({kind for prefix, kind in tags if prefix in ("B", "I")})
        self._opens = tf.constant([prefix in ("B", "I") for prefix, _ in tags])
        self._inside = tf.constant([prefix == "I" for prefix, _ in tags])
        self._kind = tf.constant([kinds.index(kind) if prefix in ("B", "I") else -1 for prefix, kind in tags], tf.int64)
        self._kind_names = tf.constant(kinds or [""], tf.string)
        self.labels = tf.constant(labels, tf.string)
        self.model_variables = list(model.variables)  # what the graphs read, tracked for saving
        self._classify = model.__call__  # a bound method: the model itself is not saved

    # --- Signatures ---------------------------------------------------------------------

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def entities(self, text):
        """`{starts, ends, labels, scores}` of shape `[batch, max_entities]` and `num_entities`."""
        words, char_starts, char_ends = self.split_words(text)
        pieces = self.wordpieces(words.flat_values)
        blocks = self.blocks(words.row_lengths())
        word_logits = self.word_logits(blocks, pieces)
        ids, scores = self.decode(blocks, word_logits)
        return self.spans(words.row_splits, char_starts.flat_values, char_ends.flat_values, ids, scores)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.int32, name="input_ids"),
            tf.TensorSpec([None, None], tf.int32, name="attention_mask"),
        ]
    )
    def logits(self, input_ids, attention_mask):
        """The model's logits `[batch, length, num_labels]` for token ids of any length."""
        return {"logits": self._classify({"input_ids": input_ids, "attention_mask": attention_mask}, training=False)}

    # --- Steps --------------------------------------------------------------------------

    def split_words(self, text):
        """Words `[batch, (words)]` and their start and end offsets in code points."""
        # The split stops at a NUL byte; NUL separates words, as a space does, and has its length.
        spaced = tf.strings.regex_replace(text, r"\x00", " ")
        words, starts, ends = tensorflow_text.regex_split_with_offsets(
            spaced, f"{SPACE_PATTERN}|{self._word_pattern}", self._word_pattern
        )
        if self._clitic_pattern is not None:  # "John's" -> "John", "'s"
            parts, part_starts, part_ends = tensorflow_text.regex_split_with_offsets(
                words.flat_values, self._clitic_pattern, self._clitic_pattern
            )
            word_starts = tf.expand_dims(starts.flat_values, 1)
            regroup = lambda values: words.with_flat_values(values).merge_dims(1, 2)  # noqa: E731
            words, starts, ends = regroup(parts), regroup(part_starts + word_starts), regroup(part_ends + word_starts)
        # Byte offsets -> code points: how many characters start before the byte.
        _, char_bytes = tf.strings.unicode_decode_with_offsets(text, "UTF-8", errors="replace")
        sorted_bytes = char_bytes.to_tensor(default_value=_FAR)
        to_chars = lambda offsets: tf.RaggedTensor.from_row_lengths(  # noqa: E731
            tf.RaggedTensor.from_tensor(
                tf.searchsorted(sorted_bytes, offsets.to_tensor(), side="left", out_type=tf.int64),
                lengths=offsets.row_lengths(),
            ).flat_values,
            offsets.row_lengths(),
        )
        return words, to_chars(starts), to_chars(ends)

    def wordpieces(self, words):
        """WordPiece ids `[words, (pieces)]` of a flat batch of words, as the fast tokenizer
        gives them; a word without pieces gets the unknown token."""
        settings = self._settings
        if settings["clean_text"]:
            words = tf.strings.regex_replace(words, _REMOVED, "")
        if settings["strip_accents"]:
            words = tf.strings.regex_replace(tensorflow_text.normalize_utf8(words, "NFD"), r"\p{Mn}", "")
        if settings["lowercase"]:
            # Character by character, as the fast tokenizer does: a word-final capital sigma
            # becomes σ, not the final form ς of ICU's context-aware lowercasing.
            words = tf.strings.lower(tf.strings.regex_replace(words, "Σ", "σ"), encoding="utf-8")
        isolated = f"{_PUNCTUATION}|{_CJK}" if settings["split_cjk"] else _PUNCTUATION
        tokens = tensorflow_text.regex_split(words, rf"\s+|{isolated}", isolated)  # [words, (tokens)]
        too_long = tf.strings.length(tokens.flat_values, unit="UTF8_CHAR") > settings["max_chars"]
        tokens = tokens.with_flat_values(tf.where(too_long, settings["unk_token"], tokens.flat_values))
        pieces = self.wordpiece.tokenize(tokens).merge_dims(1, 2)  # [words, (pieces)]
        empty = tf.cast(pieces.row_lengths() == 0, tf.int64)
        unknown = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(empty)], tf.constant(self._unk_id, tf.int64)), empty)
        return tf.concat([pieces, unknown], axis=1)

    def word_logits(self, blocks, pieces):
        """The logits `[words, num_labels]` of every word, read at its first sub-token in the
        window that owns it, a block of words at a time."""
        num_words = pieces.nrows()

        def read():
            piece_offsets = tf.concat([[0], tf.cumsum(pieces.row_lengths())], 0)  # over all words of the batch
            return self._run_model(self._windows(blocks, piece_offsets), pieces.flat_values, num_words)

        no_words = lambda: tf.zeros([0, int(self.labels.shape[0])])  # noqa: E731  a batch of empty texts
        return tf.cond(num_words > 0, read, no_words)

    def decode(self, blocks, word_logits):
        """Label ids `[words]` and each word's probability of its label `[words]`, a block at a
        time (a block starts where the one before ended): Viterbi or argmax; with a CRF head,
        with its learned transitions, the probabilities being its marginals."""
        if self._decode == "argmax" and self._transitions is None:
            ids = tf.argmax(word_logits, -1)
            return ids, tf.gather(tf.nn.softmax(word_logits), ids, batch_dims=1)
        ids = tf.zeros(tf.shape(word_logits)[:1], tf.int64)
        word_scores = tf.zeros(tf.shape(word_logits)[:1], tf.float32)
        texts = tf.reduce_max(tf.concat([blocks["text"], [-1]], 0)) + 1  # the last text with words, and those before
        last = tf.zeros([texts], tf.int64)  # per text, the label of its last decoded word

        def decode_rank(rank, ids, word_scores, last):
            chosen = tf.where(blocks["rank"] == rank)[:, 0]
            text_index = tf.gather(blocks["text"], chosen)
            starts, ends = tf.gather(blocks["own_start"], chosen), tf.gather(blocks["own_end"], chosen)
            positions = tf.ragged.range(starts, ends)  # word indices of the batch
            scores = tf.gather(word_logits, positions).to_tensor()  # [blocks, words, labels]
            path, probabilities = self._decode_blocks(scores, positions.row_lengths(), rank == 0, tf.gather(last, text_index))
            where = positions.flat_values[:, None]
            ids = tf.tensor_scatter_nd_update(ids, where, path)
            word_scores = tf.tensor_scatter_nd_update(word_scores, where, probabilities)
            last = tf.tensor_scatter_nd_update(last, text_index[:, None], tf.gather(ids, ends - 1))
            return rank + 1, ids, word_scores, last

        ranks = tf.reduce_max(tf.concat([blocks["rank"], [-1]], 0)) + 1
        loop = (tf.constant(0, tf.int64), ids, word_scores, last)
        _, ids, word_scores, _ = tf.while_loop(lambda rank, *_: rank < ranks, decode_rank, loop)
        return ids, word_scores

    def _decode_blocks(self, scores, lengths, first, previous):
        """The label ids and their probabilities (flat, `[words]`) of blocks of word logits
        `scores` `[blocks, words, labels]` of `lengths` words; the first word of each follows the
        label `previous` unless these are the texts' `first` blocks."""
        barrier = tf.constant(-1e30)
        if self._transitions is None:
            initial = tf.where(first, self._start[None, :], tf.gather(self._allowed, previous))
            folded = tf.concat([tf.where(initial[:, None], scores[:, :1], barrier), scores[:, 1:]], 1)
            path = tensorflow_text.viterbi_constrained_sequence(
                folded, lengths, allowed_transitions=self._allowed, use_log_space=True, use_start_and_end_states=False,
            )
            probabilities = tf.nn.softmax(scores)
        else:  # the start (or the move from `previous`) and end scores folded into the first and last words
            chain = self._transitions
            initial = tf.where(first, chain["start"][None, :], tf.gather(chain["moves"], previous))
            is_last = tf.one_hot(lengths - 1, tf.shape(scores)[1])[:, :, None]  # [blocks, words, 1]
            folded = tf.concat([scores[:, :1] + initial[:, None], scores[:, 1:]], 1) + is_last * chain["end"]
            mask = tf.sequence_mask(lengths, tf.shape(scores)[1])
            zeros = tf.zeros_like(chain["end"])
            probabilities = crf.marginals(folded, mask, tf.zeros_like(mask), chain["moves"], zeros, zeros)
            if self._decode == "argmax":
                path = tf.RaggedTensor.from_tensor(tf.argmax(probabilities, -1), lengths)
            else:
                path = tensorflow_text.viterbi_constrained_sequence(
                    folded, lengths, allowed_transitions=self._allowed, transition_weights=chain["learned"],
                    use_log_space=True, use_start_and_end_states=False,
                )
        path = tf.cast(path.flat_values, tf.int64)
        probabilities = tf.RaggedTensor.from_tensor(probabilities, lengths).flat_values  # [words, labels]
        return path, tf.gather(probabilities, path, batch_dims=1)

    def spans(self, row_splits, starts, ends, ids, scores):
        """Entity spans from word label ids: an `I-` of the open entity's type continues it."""
        opens, inside, kind = (tf.gather(table, ids) for table in (self._opens, self._inside, self._kind))
        text_of_word = tf.ragged.row_splits_to_segment_ids(row_splits, out_type=tf.int64)
        first_word = tf.concat([[True], text_of_word[1:] != text_of_word[:-1]], 0)[: tf.size(ids)]
        after = lambda values, fill: tf.concat([tf.constant([fill], values.dtype), values[:-1]], 0)  # noqa: E731
        continues = inside & after(opens, False) & (after(kind, -1) == kind) & ~first_word
        begins = tf.cast(opens & ~continues, tf.int64)
        member = tf.where(opens)[:, 0]  # the words inside entities
        entity, count = tf.gather(tf.cumsum(begins) - 1, member), tf.reduce_sum(begins)
        entity_starts = tf.math.unsorted_segment_min(tf.gather(starts, member), entity, count)
        entity_ends = tf.math.unsorted_segment_max(tf.gather(ends, member), entity, count)
        entity_scores = tf.math.unsorted_segment_mean(tf.gather(scores, member), entity, count)
        entity_kind = tf.math.unsorted_segment_max(tf.gather(kind, member), entity, count)
        entity_text = tf.math.unsorted_segment_max(tf.gather(text_of_word, member), entity, count)
        nrows = tf.size(row_splits, tf.int64) - 1
        per_text = lambda values: tf.RaggedTensor.from_value_rowids(values, entity_text, nrows)  # noqa: E731
        return {
            "starts": per_text(entity_starts).to_tensor(_NO_ENTITY),
            "ends": per_text(entity_ends).to_tensor(_NO_ENTITY),
            "labels": per_text(tf.gather(self._kind_names, entity_kind)).to_tensor(""),
            "scores": per_text(entity_scores).to_tensor(0.0),
            "num_entities": per_text(entity_starts).row_lengths(),
        }

    # --- Blocks, windows and the model ---------------------------------------------------

    def blocks(self, num_words):
        """Blocks of `block_words` words (texts of fewer are one block), as `EntityPredictor`
        reads long texts: each with `context_words` words of context on either side.

        Returns a dict of `[blocks]` tensors: `text`, `rank` (the block's place in its text),
        the word range it reads (`start`, `end`) and the range it decodes (`own_start`,
        `own_end`), as word indices of the whole batch.
        """
        size, context = self._block_words, self._context_words
        full = tf.maximum((num_words - context) // size, 0)  # blocks followed by another
        count = tf.where(num_words > 0, full + 1, 0)
        text = tf.repeat(tf.range(tf.size(num_words, tf.int64)), count)
        rank = tf.ragged.range(count).flat_values
        first_word = tf.gather(tf.concat([[0], tf.cumsum(num_words)], 0), text)
        length = tf.gather(num_words, text)
        last = rank == tf.gather(full, text)
        return {
            "text": text,
            "rank": rank,
            "start": first_word + tf.maximum(rank * size - context, 0),
            "end": first_word + tf.minimum((rank + 1) * size + context, length),
            "own_start": first_word + rank * size,
            "own_end": first_word + tf.where(last, length, (rank + 1) * size),
        }

    def _windows(self, blocks, piece_offsets):
        """Windows of whole words of each block, as `TokenClassificationPreprocessor` cuts them.

        Returns a dict: `pieces` (ragged `[windows, (length)]`, indices of the batch's pieces) and,
        for every word the windows read, `slot_window`, `slot_position` and `slot_word`.
        """
        budget, stride = self._budget, self._stride
        offsets = tf.ragged.range(blocks["start"], blocks["end"] + 1)  # word indices, one more than words
        offsets = tf.gather(piece_offsets, offsets) - tf.gather(piece_offsets, blocks["start"])[:, None]
        dense = offsets.to_tensor(default_value=_FAR)  # [blocks, words + 1], sorted in every row
        num_words = blocks["end"] - blocks["start"]
        at = lambda index: tf.gather(dense, tf.minimum(index, tf.shape(dense, tf.int64)[1] - 1)[:, None], batch_dims=1)[:, 0]  # noqa: E731
        search = lambda values, side: tf.searchsorted(dense, values[:, None], side=side, out_type=tf.int64)[:, 0]  # noqa: E731

        def cut(start, active, starts, ends, actives):
            end = tf.maximum(search(at(start) + budget, "right") - 1, start + 1)
            following = tf.maximum(search(at(end) - stride, "left"), start + 1)
            following = tf.where(at(end + 1) - at(following) > budget, end, following)
            starts, ends, actives = starts.write(starts.size(), start), ends.write(ends.size(), end), actives.write(actives.size(), active)
            active = active & (end < num_words)
            return tf.where(active, following, start), active, starts, ends, actives

        arrays = [tf.TensorArray(dtype, size=0, dynamic_size=True, element_shape=[None]) for dtype in (tf.int64, tf.int64, tf.bool)]
        first_round = cut(tf.zeros_like(num_words), num_words > 0, *arrays)  # one round even without blocks
        _, _, *arrays = tf.while_loop(lambda start, active, *_: tf.reduce_any(active), cut, first_round)
        starts, ends, actives = (tf.transpose(array.stack()) for array in arrays)  # [blocks, rounds]
        # A word belongs to the window where it lies furthest from the edge.
        count = tf.reduce_sum(tf.cast(actives, tf.int64), 1, keepdims=True)
        rounds = tf.range(tf.shape(starts, tf.int64)[1])[None, :]
        previous_end = tf.concat([tf.zeros_like(ends[:, :1]), ends[:, :-1]], 1)
        next_start = tf.concat([starts[:, 1:], tf.zeros_like(starts[:, :1])], 1)
        own_start = tf.where(rounds == 0, tf.zeros_like(starts), (previous_end + starts + 1) // 2)
        own_end = tf.where(rounds == count - 1, num_words[:, None], (ends + next_start + 1) // 2)
        # ... and is read from the block that decodes it.
        own_start = tf.maximum(own_start, (blocks["own_start"] - blocks["start"])[:, None])
        own_end = tf.minimum(own_end, (blocks["own_end"] - blocks["start"])[:, None])
        keep = actives & (own_end > own_start)
        block = tf.where(keep)[:, 0]
        start, end = tf.boolean_mask(starts, keep), tf.boolean_mask(ends, keep)
        own_start, own_end = tf.boolean_mask(own_start, keep), tf.boolean_mask(own_end, keep)
        block_offsets = tf.gather(dense, block)
        first_piece = tf.gather(block_offsets, start, batch_dims=1)
        last_piece = tf.minimum(tf.gather(block_offsets, end, batch_dims=1), first_piece + budget)  # a word longer than a window keeps its first pieces
        base = tf.gather(tf.gather(piece_offsets, blocks["start"]), block)
        pieces = tf.ragged.range(base + first_piece, base + last_piece)
        slots = tf.ragged.range(own_start, own_end)  # [windows, (words)], block word indices
        slot_offsets = tf.gather(block_offsets, slots.to_tensor(), batch_dims=1)
        slot_offsets = tf.RaggedTensor.from_tensor(slot_offsets, lengths=slots.row_lengths()).flat_values
        return {
            "pieces": pieces,
            "slot_window": slots.value_rowids(),
            "slot_position": len(self._prefix_ids) + slot_offsets - tf.gather(first_piece, slots.value_rowids()),
            "slot_word": (tf.gather(tf.gather(blocks["start"], block), slots.value_rowids()) + slots.flat_values),
        }

    def _run_model(self, windows, piece_ids, num_words):
        """Runs the model on the windows, sorted by length, `batch_size` at a time, and gathers
        each word's logits at its slot."""
        pieces = windows["pieces"]
        lengths = pieces.row_lengths()
        order = tf.cast(tf.argsort(lengths, stable=True), tf.int64)
        rank = tf.math.invert_permutation(order)
        num_windows = tf.size(lengths, tf.int64)
        batch = tf.constant(self._batch_size, tf.int64)
        slot_batch = tf.gather(rank, windows["slot_window"]) // batch
        slot_row = tf.gather(rank, windows["slot_window"]) % batch
        prefix, suffix = tf.constant(self._prefix_ids, tf.int64), tf.constant(self._suffix_ids, tf.int64)
        num_labels = int(self.labels.shape[0])
        values = tf.TensorArray(tf.float32, size=0, dynamic_size=True, infer_shape=False, element_shape=[None, num_labels])
        words = tf.TensorArray(tf.int64, size=0, dynamic_size=True, infer_shape=False, element_shape=[None])

        def run(step, values, words):
            members = tf.gather(order, tf.range(step * batch, tf.minimum((step + 1) * batch, num_windows)))
            ids = tf.gather(piece_ids, tf.gather(pieces, members))
            rows = tf.shape(ids, tf.int64)[0]
            ids = tf.concat([tf.tile(prefix[None], [rows, 1]), ids, tf.tile(suffix[None], [rows, 1])], 1)
            mask = tf.ones_like(ids, tf.int32).to_tensor()
            ids = tf.cast(ids.to_tensor(default_value=self._pad_id), tf.int32)
            logits = self._classify({"input_ids": ids, "attention_mask": mask}, training=False)
            chosen = tf.where(slot_batch == step)[:, 0]
            at = tf.stack([tf.gather(slot_row, chosen), tf.gather(windows["slot_position"], chosen)], 1)
            values = values.write(values.size(), tf.gather_nd(logits, at))
            words = words.write(words.size(), tf.gather(windows["slot_word"], chosen))
            return step + 1, values, words

        steps = (num_windows + batch - 1) // batch
        _, values, words = tf.while_loop(lambda step, *_: step < steps, run, (tf.constant(0, tf.int64), values, words))
        return tf.scatter_nd(words.concat()[:, None], values.concat(), tf.stack([num_words, num_labels]))


def export_saved_model(predictor, directory, version=None):
    """Writes `predictor` as a TF SavedModel in TF Serving's layout, `directory/<version>/`.

    The SavedModel needs only `tensorflow` and `tensorflow_text` (import it to register its ops).
    Its signatures:
    - `serving_default`: `text`, a `[batch]` string tensor of UTF-8 texts, in; out `starts`,
      `ends` (int64 code-point offsets), `labels` (string) and `scores` (float32), each
      `[batch, max_entities]` (padded with -1, "" and 0), and `num_entities` `[batch]`.
    - `logits`: `input_ids` and `attention_mask` (int32 `[batch, length]`) in, `logits` out.

    Args:
        predictor: an `EntityPredictor` (its settings are exported with it).
        directory: path of the model's serving folder.
        version: int. Defaults to one more than the highest version already in `directory` (1).

    Returns:
        The path of the version folder.

    Example:
    ```python
    path = kerasner.export_saved_model(kerasner.EntityPredictor.from_pretrained("runs/train/best"), "serving/ner")
    # in a process with only TensorFlow:
    import tensorflow as tf, tensorflow_text  # noqa: F401
    ner = tf.saved_model.load(str(path)).signatures["serving_default"]
    ner(text=tf.constant(["Thousands marched through London on Sunday."]))
    ```
    """
    directory = Path(directory)
    if version is None:
        versions = [int(p.name) for p in directory.glob("*") if p.name.isdigit()] if directory.is_dir() else []
        version = max(versions, default=0) + 1
    target = directory / str(int(version))
    if target.exists():
        raise FileExistsError(f"{target} exists; pass another version")
    module = TextToEntities(predictor)
    signatures = {
        "serving_default": module.entities.get_concrete_function(),
        "logits": module.logits.get_concrete_function(),
    }
    # Written beside and renamed: a model server never sees a half-written version, and an export
    # killed part-way leaves only the partial folder, which the next export replaces.
    partial = directory / f".{target.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    tf.saved_model.save(module, str(partial), signatures=signatures)
    os.replace(partial, target)
    return target


def export_tflite(saved_model, path):
    """Converts the `logits` signature of an exported SavedModel to a TensorFlow Lite file.

    The TFLite model takes int32 `input_ids` and `attention_mask`; resize its inputs to the
    batch's shape (`interpreter.resize_tensor_input`) before `allocate_tensors`.
    """
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=["logits"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(converter.convert())
    return path
