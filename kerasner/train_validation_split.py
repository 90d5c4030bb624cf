"""A seeded split of sentences (never of rows) into training and validation sets."""

from sklearn.model_selection import train_test_split


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
