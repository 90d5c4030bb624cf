"""A labelled sentence: words and one tag per word."""

import dataclasses


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
