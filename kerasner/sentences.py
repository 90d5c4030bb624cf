"""Labelled sentences: a sentence's words and tags, its document and context, lists of them, their
split, the sample corpus."""

import dataclasses
import math
from collections import Counter
from importlib import resources
from pathlib import Path

from sklearn.model_selection import train_test_split

@dataclasses.dataclass(frozen=True)
class Sentence:
    """Words of one sentence with their tags (`tags` is None for unlabelled text).

    Args:
        words: tuple of str.
        tags: tuple of str with one tag per word, or None.
        line: 1-based line of the first word in its file, for error messages. Defaults to None.
        document: the id of the sentence's document in its file (see `read_sentences`), or
            None. Defaults to None.
        context: None, or `(before, after)`: tuples of the words of the document just before
            and just after the sentence, which a model trained with context reads around it
            (`add_context`). Defaults to None.
        text: the text the words were split from (a record of an annotation tool's export), or
            None. Defaults to None.
        offsets: with `text`, each word's `(start, end)` in it. Defaults to None.

    Example:
    ```python
    kerasner.Sentence(("John", "lives", "in", "Paris"), ("B-per", "O", "O", "B-geo"))
    ```
    """

    words: tuple
    tags: tuple = None
    line: int = None
    document: object = None
    context: tuple = None
    text: str = None
    offsets: tuple = None

    def __post_init__(self):
        object.__setattr__(self, "words", tuple(self.words))
        if self.offsets is not None:
            object.__setattr__(self, "offsets", tuple((int(start), int(end)) for start, end in self.offsets))
            if len(self.offsets) != len(self.words):
                raise ValueError(f"A sentence needs one offset per word. Received {len(self.words)} words and {len(self.offsets)} offsets")
        if self.context is not None:
            before, after = self.context
            object.__setattr__(self, "context", (tuple(before), tuple(after)))
        if self.tags is not None:
            object.__setattr__(self, "tags", tuple(self.tags))
            if len(self.tags) != len(self.words):
                raise ValueError(
                    f"A sentence needs one tag per word. Received {len(self.words)} words and "
                    f"{len(self.tags)} tags (line {self.line})"
                )

    def __len__(self):
        return len(self.words)


class SentenceList(list):
    """A `list` of `Sentence` with `stats`: file, format, encoding, counts, tag conversions.

    Example:
    ```python
    sentences = kerasner.read_sentences("ner_dataset.csv")
    sentences.stats["words"], sentences[0].words
    ```
    """

    def __init__(self, sentences=(), stats=None):
        super().__init__(sentences)
        self.stats = dict(stats or {})


def add_context(sentences, words):
    """The sentences, each with up to `words` words of its document before and after it.

    Sentences belong to one document while their `document` ids are equal; they follow each
    other in the list's order (a file's). Context never crosses into another document. Add it
    before splitting, so that a sentence keeps its neighbours' words whichever side they go to
    (their tags are never read).

    Args:
        sentences: a list of `Sentence`, in document order.
        words: int. The most words of context on each side; at least the sub-tokens of context
            a model reads (every word has one or more). 0 gives the sentences without context.

    Returns:
        A `SentenceList` of the sentences with `context` set, with the input's `stats`.

    Example:
    ```python
    sentences = kerasner.add_context(kerasner.read_sentences("train.conll"), words=64)
    sentences[1].context  # (the words before, the words after)
    ```
    """
    words = int(words)
    if words < 0:
        raise ValueError(f"`words` must be at least 0. Received: words={words!r}")
    stats = getattr(sentences, "stats", None)
    sentences = list(sentences)
    out = []
    for index, sentence in enumerate(sentences):
        context = None
        if words:
            context = (_neighbours(sentences, index, -1, words), _neighbours(sentences, index, 1, words))
        out.append(dataclasses.replace(sentence, context=context))
    return SentenceList(out, stats)


def _neighbours(sentences, index, step, words):
    """Up to `words` words of the sentences after `index` (step 1) or before it (step -1), in
    the same document, in text order."""
    found, document = [], sentences[index].document
    position = index + step
    while 0 <= position < len(sentences) and len(found) < words and sentences[position].document == document:
        neighbour = sentences[position].words
        found = list(neighbour) + found if step < 0 else found + list(neighbour)
        position += step
    return tuple(found[-words:] if step < 0 else found[:words])


def oversample(sentences, min_entities):
    """The sentences, with those that hold an entity of a rare type repeated.

    A type with fewer than `min_entities` entities in `sentences` is rare. Each sentence holding
    a rare type is taken `ceil(min_entities / count)` times, for the rarest type it holds, so
    that every type is seen about `min_entities` times an epoch, in whole sentences. Give it the
    training sentences only: validation scores the corpus as it is.

    Args:
        sentences: a list of labelled `Sentence`, in IOB2 (as `read_sentences` gives them).
        min_entities: int. The entity count below which a type is repeated; 0 repeats nothing.

    Returns:
        A `SentenceList` with the repeats after each original sentence, and the input's `stats`
        plus `stats["oversampled"]`: for each repeated type its entities before and after and its
        repeats, and the added sentences.

    Example:
    ```python
    train = kerasner.oversample(train, min_entities=1000)
    train.stats["oversampled"]  # {"types": {"nat": {"entities": 151, "repeats": 7, ...}}, "added_sentences": ...}
    ```
    """
    min_entities = int(min_entities)
    if min_entities < 0:
        raise ValueError(f"`min_entities` must be at least 0. Received: min_entities={min_entities!r}")
    stats = dict(getattr(sentences, "stats", None) or {})
    sentences = list(sentences)
    types = [Counter(tag[2:] for tag in sentence.tags or () if tag.startswith("B-")) for sentence in sentences]
    counts = sum(types, Counter())
    repeats = {name: math.ceil(min_entities / count) for name, count in counts.items() if count < min_entities}
    out, after = [], Counter()
    for sentence, held in zip(sentences, types):
        times = max((repeats.get(name, 1) for name in held), default=1)
        out.extend([sentence] * times)
        after.update({name: count * times for name, count in held.items()})
    stats["oversampled"] = {
        "min_entities": min_entities,
        "types": {
            name: {"entities": counts[name], "repeats": repeats[name], "entities_after": after[name]}
            for name in sorted(repeats)
        },
        "added_sentences": len(out) - len(sentences),
    }
    return SentenceList(out, stats)


def train_validation_split(sentences, validation_size=0.2, seed=42):
    """Splits sentences into `(train, validation)` lists with scikit-learn's `train_test_split`.

    Whole sentences go to one side; the same seed gives the same split.

    Args:
        sentences: a list of sentences.
        validation_size: float in (0, 1) (a share) or int (a count). Defaults to `0.2`.
        seed: int. Defaults to `42`.

    Example:
    ```python
    train, validation = kerasner.train_validation_split(sentences, validation_size=0.2, seed=42)
    ```
    """
    if len(sentences) < 2:
        raise ValueError(f"Need at least 2 sentences to split. Received: {len(sentences)} sentences")
    train, validation = train_test_split(list(sentences), test_size=validation_size, random_state=seed)
    return train, validation


def sample_data_path():
    """Path of the embedded sample corpus: 400 original sentences, CoNLL, IOB2 tags per/geo/org/tim."""
    return Path(str(resources.files("kerasner") / "data" / "sample.conll"))
