"""Raw text in, entity spans with character offsets out."""

import re

import numpy as np

from kerasner.bert_token_classifier import BertTokenClassifier
from kerasner.predict_words import predict_words
from kerasner.tag_scheme import split_tag
from kerasner.token_classification_preprocessor import TokenClassificationPreprocessor
from kerasner.viterbi_decode import check_decode

_FALLBACK_WORDS = re.compile(r"\w+|[^\w\s]")


class EntityPredictor:
    """Finds entities in raw text with a trained `BertTokenClassifier`.

    Text is split into words by the tokenizer's own pre-tokenizer (whitespace and punctuation,
    with character offsets into the original string), words are labelled at their first
    sub-token, long texts are split into overlapping windows, and texts are batched by length.
    Each text's tags are its most probable valid IOB2 sequence (`decode="viterbi"`); with
    `decode="argmax"` they are read leniently (an `I-` after `O` or another type starts an entity).

    Args:
        model: a `BertTokenClassifier` with a `tokenizer`.
        batch_size: int. Windows per prediction batch. Defaults to `32`.
        max_length: int. Longest window. Defaults to the model's maximum (at most 512).
        stride: int. Sub-tokens shared by consecutive windows. Defaults to `32`.
        decode: `"viterbi"` or `"argmax"` (see `predict_words`). Defaults to `"viterbi"`.

    Example:
    ```python
    predictor = kerasner.EntityPredictor.from_pretrained("runs/train/best")
    predictor("Thousands marched through Hyde Park in London on Sunday.")
    # [{"text": "Hyde Park", "label": "geo", "start": 26, "end": 35, "score": 0.98}, ...]
    ```
    """

    def __init__(self, model, batch_size=32, max_length=None, stride=32, decode="viterbi"):
        check_decode(decode)
        if model.tokenizer is None:
            raise ValueError("The model has no tokenizer; set `model.tokenizer` or load a saved model folder")
        from kerasner.run_setup import max_model_length

        self.model = model
        self.batch_size = batch_size
        self.decode = decode
        self.preprocessor = TokenClassificationPreprocessor(
            model.tokenizer, model.labels, max_length=max_model_length(model, max_length), stride=stride
        )
        pre_tokenizer = getattr(getattr(model.tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)
        self._pre_tokenize = pre_tokenizer.pre_tokenize_str if pre_tokenizer is not None else None

    @classmethod
    def from_pretrained(cls, directory, **kwargs):
        """Loads a model folder written by `save_pretrained` (or `BestModelCheckpoint`)."""
        return cls(BertTokenClassifier.from_pretrained(directory), **kwargs)

    def split_words(self, text):
        """`[(word, start, end)]` with `text[start:end] == word`."""
        if self._pre_tokenize is not None:
            pieces = self._pre_tokenize(text)
            return [(text[start:end], start, end) for _, (start, end) in pieces if end > start]
        return [(m.group(), m.start(), m.end()) for m in _FALLBACK_WORDS.finditer(text)]

    def __call__(self, texts):
        """Entities of one text (a list of dicts) or of each of a list of texts (a list of lists)."""
        if isinstance(texts, str):
            return self.predict([texts])[0]
        return self.predict(list(texts))

    def predict(self, texts):
        """A list of entity lists, one per text: dicts with `text`, `label`, `start`, `end`, `score`."""
        words = [self.split_words(text) for text in texts]
        filled = [i for i, text_words in enumerate(words) if text_words]
        results = [[] for _ in texts]
        if not filled:
            return results
        features = self.preprocessor([[w for w, _, _ in words[i]] for i in filled])
        ids, scores = predict_words(self.model, features, self.batch_size, return_scores=True, decode=self.decode)
        for index, text_ids, text_scores in zip(filled, ids, scores):
            tags = [self.model.labels[int(i)] for i in text_ids]
            results[index] = decode_entities(texts[index], words[index], tags, text_scores)
        return results


def decode_entities(text, words, tags, scores):
    """Turns word tags into entity spans; `words` are `(word, start, end)` triples."""
    entities, current = [], None
    for (_, start, end), tag, score in zip(words, tags, scores):
        prefix, kind = split_tag(tag)
        if prefix == "I" and current is not None and current["label"] == kind:
            current["end"] = end
            current["scores"].append(float(score))
            continue
        if current is not None:
            entities.append(current)
            current = None
        if prefix in ("B", "I"):
            current = {"label": kind, "start": start, "end": end, "scores": [float(score)]}
    if current is not None:
        entities.append(current)
    return [
        {
            "text": text[e["start"] : e["end"]],
            "label": e["label"],
            "start": e["start"],
            "end": e["end"],
            "score": round(float(np.mean(e["scores"])), 4),
        }
        for e in entities
    ]
