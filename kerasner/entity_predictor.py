"""Raw text in, entity spans with character offsets out."""

import itertools

import numpy as np

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.decoding import check_decode, decode_words
from kerasner.prediction import predict_word_logits, transition_scores
from kerasner.sentences import Sentence, add_context
from kerasner.tags import _EntitySpans, decode_entities  # noqa: F401 (decode_entities: kerasner.entity_predictor's API)
from kerasner.token_classification_preprocessor import TokenClassificationPreprocessor
from kerasner.word_splitter import WordSplitter


class EntityPredictor:
    """Finds entities in raw text with a trained `BertTokenClassifier`.

    Text is split into words by the model's word splitter (`model.word_splitter`, saved with the
    model: by default the word boundaries of the labelled corpora, see `WordSplitter`), so that
    every word is read at the first sub-token of a word like those the model was trained on.
    Long texts are split into overlapping windows, and texts are batched by length. Each text's
    tags are its most probable valid IOB2 sequence (`decode="viterbi"`, with the learned
    transitions of a CRF head); with `decode="argmax"` they are read leniently (an `I-` after
    `O` or another type starts an entity).

    A text of more than `block_words` words is read a block of words at a time, each block
    with `context_words` words of the text on either side, so its memory does not grow with its
    length (`iter_entities` yields its entities as they are found).

    A model trained with document context (`model.context` sub-tokens on each side) reads a
    text between the words of its neighbours: `predict_document` takes a document's sentences
    in order, and `predict(texts, context=...)` the text before and after each text.

    Args:
        model: a `BertTokenClassifier` with a `tokenizer`.
        batch_size: int. Windows per prediction batch. Defaults to `32`.
        max_length: int. Longest window. Defaults to the model's maximum (at most 512).
        stride: int. Sub-tokens shared by consecutive windows. Defaults to `32`, or a quarter of
            the window for windows shorter than 128.
        decode: `"viterbi"` or `"argmax"` (see `predict_words`). Defaults to `"viterbi"`.
        word_splitter: a `WordSplitter`, or the name of one, to use instead of the model's.
            Defaults to None (the model's).
        block_words: int. Longest text read in one piece. Defaults to `4096`.
        context_words: int. Words of context on each side of a block. Defaults to `64`.

    Example:
    ```python
    predictor = kerasner.EntityPredictor.from_pretrained("runs/train/best")
    predictor("Thousands marched through Hyde Park in London on Sunday.")
    # [{"text": "Hyde Park", "label": "geo", "start": 26, "end": 35, "score": 0.98}, ...]
    ```
    """

    def __init__(
        self,
        model,
        batch_size=32,
        max_length=None,
        stride=None,
        decode="viterbi",
        word_splitter=None,
        block_words=4096,
        context_words=64,
    ):
        check_decode(decode)
        if model.tokenizer is None:
            raise ValueError("The model has no tokenizer; set `model.tokenizer` or load a saved model folder")
        if not (int(block_words) > 0 and int(context_words) >= 0):
            raise ValueError(
                "`block_words` must be positive and `context_words` at least 0. "
                f"Received: block_words={block_words!r}, context_words={context_words!r}"
            )
        self.model = model
        self.batch_size = batch_size
        self.decode = decode
        self.block_words = int(block_words)
        self.context_words = int(context_words)
        max_length = model.max_input_length(max_length)
        stride = min(32, max_length // 4) if stride is None else stride
        self.preprocessor = TokenClassificationPreprocessor(
            model.tokenizer, model.labels, max_length=max_length, stride=stride, context=getattr(model, "context", 0)
        )
        if word_splitter is None:
            word_splitter = getattr(model, "word_splitter", "treebank")
        if isinstance(word_splitter, str):
            word_splitter = WordSplitter(word_splitter, tokenizer=model.tokenizer)
        self.word_splitter = word_splitter
        self.transitions = transition_scores(model)  # a CRF head's, read once

    @classmethod
    def from_pretrained(cls, directory, **kwargs):
        """Loads a model folder written by `save_pretrained` (or `BestModelCheckpoint`)."""
        return cls(BertTokenClassifier.from_pretrained(directory), **kwargs)

    def split_words(self, text):
        """`[(word, start, end)]` with `text[start:end] == word`, split by `word_splitter`."""
        return self.word_splitter(text)

    def __call__(self, texts):
        """Entities of one text (a list of dicts) or of each of a list of texts (a list of lists)."""
        if isinstance(texts, str):
            return self.predict([texts])[0]
        return self.predict(list(texts))

    def predict(self, texts, context=None):
        """A list of entity lists, one per text: dicts with `text`, `label`, `start`, `end`, `score`.

        Args:
            texts: a list of str.
            context: None, or per text a pair `(before, after)` of the document's text just
                before and just after it, which a model trained with context reads around it
                (up to `model.context` sub-tokens of each). Defaults to None.
        """
        contexts = None
        if context is not None and self.preprocessor.context:
            words = self.preprocessor.context  # every word is one or more sub-tokens
            split = lambda text: [w for w, _, _ in self.word_splitter(text or "")]  # noqa: E731
            contexts = [(split(before)[-words:], split(after)[:words]) for before, after in context]
        return self._predict(texts, contexts)

    def predict_document(self, texts):
        """Entities of each of a document's consecutive sentences (or paragraphs), each read with
        its neighbours as context (see `predict`); a list of entity lists, one per text."""
        split = [self.word_splitter(text) for text in texts]
        if not self.preprocessor.context:
            return self._predict(list(texts), None, split)
        sentences = [Sentence(tuple(w for w, _, _ in words)) for words in split]
        return self._predict(list(texts), [s.context for s in add_context(sentences, self.preprocessor.context)], split)

    def _predict(self, texts, contexts, split=None):
        """Entities of `texts`, each read between its `contexts` words if given; `split` holds
        the texts' words when they are already split."""
        results = [None] * len(texts)
        words = {}
        for index, text in enumerate(texts):
            if split is None:
                first = list(itertools.islice(self.word_splitter.iter_words(text), self.block_words + 1))
            else:
                first = split[index]
            if len(first) > self.block_words:
                results[index] = list(self.iter_entities(text))
            elif first:
                words[index] = first
            else:
                results[index] = []
        if words:
            around = None if contexts is None else [contexts[i] for i in words]
            ids, scores = self._tag_ids([[w for w, _, _ in words[i]] for i in words], around)
            for index, text_ids, text_scores in zip(words, ids, scores):
                tags = [self.model.labels[int(i)] for i in text_ids]
                results[index] = decode_entities(texts[index], words[index], tags, text_scores)
        return results

    def iter_entities(self, text):
        """Yields the entities of `text` in order, reading it a block of words at a time."""
        entities = _EntitySpans(text)
        previous = None  # label id of the last word of the block before
        for block, own_start, own_end in _blocks(self.word_splitter.iter_words(text), self.block_words, self.context_words):
            logits = predict_word_logits(self.model, self.preprocessor([[w for w, _, _ in block]]), self.batch_size)
            ids, scores = decode_words(
                [logits[0][own_start:own_end]], self.model.labels, self.decode, return_scores=True, previous=[previous],
                transitions=self.transitions,
            )
            for (_, start, end), label_id, score in zip(block[own_start:own_end], ids[0], scores[0]):
                yield from entities.add(start, end, self.model.labels[int(label_id)], score)
            previous = int(ids[0][-1])
        yield from entities.finish()

    def predict_words(self, word_lists, return_scores=False):
        """Tags of sentences that are already split into words, one tag per word.

        Args:
            word_lists: a list of lists of words (str).
            return_scores: bool. Also return each word's probability of its tag. Defaults to False.

        Returns:
            A list of tag lists; with `return_scores`, a pair (tags, scores).
        """
        word_lists = [list(words) for words in word_lists]
        tags = [[] for _ in word_lists]
        scores = [np.zeros(0, dtype=np.float32) for _ in word_lists]
        filled = [i for i, words in enumerate(word_lists) if words]
        if filled:
            ids, filled_scores = self._tag_ids([word_lists[i] for i in filled])
            for index, text_ids, text_scores in zip(filled, ids, filled_scores):
                tags[index] = [self.model.labels[int(i)] for i in text_ids]
                scores[index] = text_scores
        return (tags, scores) if return_scores else tags

    def _tag_ids(self, word_lists, contexts=None):
        if contexts is not None:
            word_lists = [Sentence(tuple(words), context=context) for words, context in zip(word_lists, contexts)]
        logits = predict_word_logits(self.model, self.preprocessor(word_lists), self.batch_size)
        return decode_words(logits, self.model.labels, self.decode, return_scores=True, transitions=self.transitions)


def _blocks(words, size, context):
    """`(block, own_start, own_end)`: consecutive runs of `size` words of the iterator `words`,
    each with up to `context` words before and after it."""
    buffer, own_start = [], 0
    for word in words:
        buffer.append(word)
        if len(buffer) == own_start + size + context:
            yield buffer, own_start, own_start + size
            buffer = buffer[own_start + size - context :]
            own_start = context
    if len(buffer) > own_start:
        yield buffer, own_start, len(buffer)
