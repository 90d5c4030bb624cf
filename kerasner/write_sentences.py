"""Writes sentences as JSON lines, the format `read_sentences` reads back unchanged."""

import json
from pathlib import Path


def write_sentences(sentences, path):
    """Writes `{"tokens": [...], "tags": [...]}` per line to `path`; returns the path.

    Example:
    ```python
    kerasner.write_sentences(validation, "runs/train/validation.jsonl")
    ```
    """
    path = Path(path)
    with path.open("w", encoding="utf-8") as handle:
        for sentence in sentences:
            handle.write(json.dumps({"tokens": list(sentence.words), "tags": list(sentence.tags)}, ensure_ascii=False) + "\n")
    return path
