"""A list of sentences that remembers what reading them found."""


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
