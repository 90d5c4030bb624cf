"""Sentences of words to token windows with aligned labels, using a fast tokenizer's `word_ids`."""

import bisect
import logging

import numpy as np

from kerasner.tags import validate_labels
from kerasner.token_features import TokenFeatures

logger = logging.getLogger(__name__)


class TokenClassificationPreprocessor:
    """Tokenizes labelled sentences and aligns word tags to sub-tokens.

    The first sub-token of each word carries the word's label; the other sub-tokens, special
    tokens and padding carry `ignore_index` (or, with `label_all_subtokens`, the word's label
    with B- turned into I-). A sentence longer than `max_length` tokens is split into windows of
    whole words that overlap by about `stride` sub-tokens; each word is read from exactly one
    window (the one where it lies furthest from the edge). Nothing is truncated: counts of
    windowed sentences are in `features.stats` and logged. A word the tokenizer turns into no
    sub-token at all (e.g. a lone control character) is given the unknown token, and counted.

    With `context`, a sentence that has context words (`Sentence.context`, see `add_context`)
    is read between up to `context` sub-tokens of the words before it and as many of the words
    after it, whole words only, as far as the window has room; context positions carry
    `ignore_index` and no word slot, so the labels, the loss and the predictions stay on the
    sentence (as FLERT reads documents).

    Args:
        tokenizer: a transformers *fast* tokenizer.
        labels: list of str, the model's tag names.
        max_length: int. Longest window, special tokens included. Defaults to the tokenizer's
            `model_max_length`, at most 512.
        stride: int. Sub-tokens shared by consecutive windows of a long sentence. Defaults to `32`.
        label_all_subtokens: bool. Label every sub-token instead of the first. Defaults to False.
        ignore_index: int. Label of unlabelled positions. Defaults to `-100`.
        context: int. The most sub-tokens of context on each side of a sentence. Defaults to
            `0` (none).

    Example:
    ```python
    preprocessor = kerasner.TokenClassificationPreprocessor(model.tokenizer, model.labels)
    features = preprocessor(sentences)
    model.fit(features.to_dataset(batch_size=32), epochs=3)
    ```
    """

    def __init__(
        self, tokenizer, labels, max_length=None, stride=32, label_all_subtokens=False, ignore_index=-100, context=0
    ):
        if not getattr(tokenizer, "is_fast", False):
            raise ValueError(
                "A fast tokenizer is required (it maps sub-tokens to words). Received: tokenizer of type "
                f"{type(tokenizer).__name__}; load it with AutoTokenizer.from_pretrained(..., use_fast=True)"
            )
        self.tokenizer = tokenizer
        self.labels = validate_labels(labels, ignore_index)
        self.label2id = {label: i for i, label in enumerate(self.labels)}
        if max_length is None:
            max_length = min(int(tokenizer.model_max_length), 512)
        template = tokenizer.build_inputs_with_special_tokens([-7])  # e.g. [CLS] -7 [SEP]
        self._prefix_ids = template[: template.index(-7)]
        self._suffix_ids = template[template.index(-7) + 1 :]
        self.num_special = len(template) - 1
        if int(max_length) < self.num_special + 2:
            raise ValueError(
                f"`max_length` must leave room for at least 2 sub-tokens besides {self.num_special} special "
                f"tokens. Received: max_length={max_length!r}"
            )
        self.max_length = int(max_length)
        budget = self.max_length - self.num_special
        if not 0 <= int(stride) < budget:
            raise ValueError(
                f"`stride` must be between 0 and {budget - 1} (max_length minus special tokens, minus 1). "
                f"Received: stride={stride!r}"
            )
        self.stride = int(stride)
        if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 0:
            raise ValueError(f"`context` must be an int of at least 0. Received: context={context!r}")
        self.context = int(context)
        self.label_all_subtokens = bool(label_all_subtokens)
        self.ignore_index = ignore_index
        self._continuation = {}
        for label, index in self.label2id.items():
            inside = "I-" + label[2:] if label.startswith("B-") else label
            self._continuation[index] = self.label2id.get(inside, index)

    def __call__(self, sentences, progress=False):
        """Turns `Sentence`s (or lists of words) into `TokenFeatures`; `progress` shows a bar."""
        word_lists = [list(getattr(s, "words", s)) for s in sentences]
        tag_lists = [getattr(s, "tags", None) for s in sentences]
        contexts = self._context_pieces(sentences)
        encoding = self.tokenizer(
            word_lists,
            is_split_into_words=True,
            add_special_tokens=False,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,  # no warning about sentences longer than the model: they are windowed below
        )
        unk = self.tokenizer.unk_token_id
        budget = self.max_length - self.num_special
        prefix, suffix = self._prefix_ids, self._suffix_ids
        no_label = ([self.ignore_index] * len(prefix), [self.ignore_index] * len(suffix))
        no_slot = ([-1] * len(prefix), [-1] * len(suffix))
        input_ids, labels, word_index, sentence_index = [], [], [], []
        windowed = empty_words = cut_words = context_tokens = 0
        rows = enumerate(zip(word_lists, tag_lists))
        if progress:
            from tqdm.auto import tqdm

            # disable=None: shown on a terminal, silent in logs and pipes
            rows = tqdm(rows, total=len(word_lists), desc="aligning", unit=" sentences", mininterval=1.0, disable=None)
        for number, (words, tags) in rows:
            if not words:
                raise ValueError(f"Sentence {number} has no words; every sentence needs at least one")
            pieces, owners = encoding["input_ids"][number], encoding.word_ids(number)
            if len(set(owners)) < len(words):
                pieces, owners, missing = _fill_empty_words(pieces, owners, len(words), unk)
                empty_words += missing
            piece_labels = self._piece_labels(tags, owners, number, sentences)
            first = [j == 0 or owners[j] != owners[j - 1] for j in range(len(owners))]
            windows = self._windows(owners, len(words), budget)
            windowed += len(windows) > 1
            before, after = [], []
            if contexts[number] is not None and len(windows) == 1:
                room = min(self.context, (budget - len(pieces)) // 2)
                before, after = _take_words(contexts[number][0], room, last=True), _take_words(contexts[number][1], room)
                context_tokens += len(before) + len(after)
            for start, end, own_start, own_end in windows:
                a, b = _piece_range(owners, start, end)
                if b - a > budget:  # a single word longer than a window: keep its first pieces
                    b = a + budget
                    cut_words += 1
                slots = [owners[j] if first[j] and own_start <= owners[j] < own_end else -1 for j in range(a, b)]
                around = ([self.ignore_index] * len(before), [self.ignore_index] * len(after))
                no_word = ([-1] * len(before), [-1] * len(after))
                input_ids.append(np.array(prefix + before + pieces[a:b] + after + suffix, dtype=np.int32))
                labels.append(np.array(no_label[0] + around[0] + piece_labels[a:b] + around[1] + no_label[1], dtype=np.int32))
                word_index.append(np.array(no_slot[0] + no_word[0] + slots + no_word[1] + no_slot[1], dtype=np.int32))
                sentence_index.append(number)
        stats = {
            "sentences": len(word_lists),
            "windows": len(input_ids),
            "windowed_sentences": windowed,
            "words": sum(len(words) for words in word_lists),
            "tokens": sum(len(ids) for ids in input_ids),
            "words_without_subtokens": empty_words,
            "words_cut_to_window": cut_words,
            "context_tokens": context_tokens,
        }
        if windowed:
            logger.info(
                "%d of %d sentences are longer than %d tokens and were split into overlapping windows",
                windowed, len(word_lists), self.max_length,
            )
        if empty_words:
            logger.info("%d words had no sub-token and were given the unknown token", empty_words)
        if cut_words:
            logger.warning("%d words were longer than a whole window; their first sub-tokens were kept", cut_words)
        return TokenFeatures(
            input_ids,
            labels,
            word_index,
            sentence_index,
            [len(words) for words in word_lists],
            max_length=self.max_length,
            pad_token_id=self.tokenizer.pad_token_id or 0,
            ignore_index=self.ignore_index,
            stats=stats,
        )

    def _context_pieces(self, sentences):
        """Per sentence, None or the sub-tokens of each word of its context `(before, after)`."""
        contexts = [getattr(s, "context", None) if self.context else None for s in sentences]
        sides = [list(side) for context in contexts if context is not None for side in context if side]
        if not sides:
            return [None] * len(contexts)
        encoding = self.tokenizer(
            sides, is_split_into_words=True, add_special_tokens=False, return_attention_mask=False,
            return_token_type_ids=False, verbose=False,
        )
        encoded = iter(range(len(sides)))
        out = []
        for context in contexts:
            if context is None:
                out.append(None)
                continue
            pair = []
            for side in context:
                words = [[] for _ in side]
                if side:
                    row = next(encoded)
                    for piece, owner in zip(encoding["input_ids"][row], encoding.word_ids(row)):
                        words[owner].append(piece)
                pair.append([pieces for pieces in words if pieces])
            out.append(pair)
        return out

    def _piece_labels(self, tags, owners, number, sentences):
        if tags is None:
            return [self.ignore_index] * len(owners)
        try:
            word_labels = [self.label2id[tag] for tag in tags]
        except KeyError as error:
            line = getattr(sentences[number], "line", None)
            where = f"sentence {number}" + (f" (line {line})" if line else "")
            raise ValueError(f"Unknown tag {error.args[0]!r} in {where}. Expected one of {self.labels}") from None
        out = []
        previous = None
        for owner in owners:
            label = word_labels[owner]
            if owner == previous:
                label = self._continuation[label] if self.label_all_subtokens else self.ignore_index
            out.append(label)
            previous = owner
        return out

    def _windows(self, owners, num_words, budget):
        """Word windows `(start, end, own_start, own_end)` covering every word exactly once as owner."""
        offsets = _word_offsets(owners, num_words)  # offsets[w] = first piece of word w; offsets[n] = total
        if offsets[-1] <= budget:
            return [(0, num_words, 0, num_words)]
        spans = []
        start = 0
        while True:
            end = max(bisect.bisect_right(offsets, offsets[start] + budget) - 1, start + 1)
            spans.append((start, end))
            if end >= num_words:
                break
            following = max(bisect.bisect_left(offsets, offsets[end] - self.stride), start + 1)
            if offsets[end + 1] - offsets[following] > budget:
                following = end
            start = following
        windows = []
        for k, (start, end) in enumerate(spans):
            own_start = 0 if k == 0 else (spans[k - 1][1] + start + 1) // 2
            own_end = num_words if k == len(spans) - 1 else (end + spans[k + 1][0] + 1) // 2
            windows.append((start, end, own_start, own_end))
        return windows


def _take_words(words, budget, last=False):
    """The sub-tokens of the whole words of `words` (each a list of sub-tokens) that fit
    `budget`: the first words, or with `last` the last ones, in order."""
    taken, size = [], 0
    for pieces in reversed(words) if last else words:
        if size + len(pieces) > budget:
            break
        taken.append(pieces)
        size += len(pieces)
    return [piece for pieces in (taken[::-1] if last else taken) for piece in pieces]


def _word_offsets(owners, num_words):
    offsets = [0] * (num_words + 1)
    for owner in owners:
        offsets[owner + 1] += 1
    for w in range(num_words):
        offsets[w + 1] += offsets[w]
    return offsets


def _piece_range(owners, start, end):
    """Piece positions `[a, b)` of words `[start, end)` (owners are sorted)."""
    return bisect.bisect_left(owners, start), bisect.bisect_left(owners, end)


def _fill_empty_words(pieces, owners, num_words, unk):
    """Gives every word that has no piece one unknown-token piece."""
    by_word = [[] for _ in range(num_words)]
    for piece, owner in zip(pieces, owners):
        by_word[owner].append(piece)
    new_pieces, new_owners, missing = [], [], 0
    for word, word_pieces in enumerate(by_word):
        if not word_pieces:
            word_pieces = [unk]
            missing += 1
        new_pieces.extend(word_pieces)
        new_owners.extend([word] * len(word_pieces))
    return new_pieces, new_owners, missing
