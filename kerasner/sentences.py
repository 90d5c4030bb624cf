"""Labelled sentences: a sentence's words and tags, lists of them, their split, the sample corpus."""

import dataclasses
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

    Example:
    ```python
    kerasner.Sentence(("John", "lives", "in", "Paris"), ("B-per", "O", "O", "B-geo"))
    ```
    """

    words: tuple
    tags: tuple = None
    line: int = None

    def __post_init__(self):
        object.__setattr__(self, "words", tuple(self.words))
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
