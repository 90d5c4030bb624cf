"""The small labelled corpus shipped inside kerasner (written by scripts/make_sample_data.py)."""

from importlib import resources
from pathlib import Path


def sample_data_path():
    """Path of the embedded sample corpus: 400 original sentences, CoNLL, IOB2 tags per/geo/org/tim."""
    return Path(str(resources.files("kerasner") / "data" / "sample.conll"))
