"""Tag schemes: check tag shapes, detect the scheme, convert to IOB2, build the label list."""

import re

import numpy as np

SCHEMES = ("iob2", "iob1", "iobes", "bilou")
_TAG = re.compile(r"^(O|[BIESLU]-\S.*)$")
# How each scheme's prefixes map onto IOB2 prefixes (IOB1's "I" is resolved by position).
_PREFIX_TO_IOB2 = {
    "iob2": {"B": "B", "I": "I"},
    "iob1": {"B": "B", "I": "I"},
    "iobes": {"B": "B", "I": "I", "E": "I", "S": "B"},
    "bilou": {"B": "B", "I": "I", "L": "I", "U": "B"},
}


def is_valid_tag(tag):
    """True for `O` and for `P-type` tags whose prefix P is one of B, I, E, S, L, U."""
    return isinstance(tag, str) and _TAG.match(tag) is not None


def split_tag(tag):
    """`"B-geo"` -> `("B", "geo")`; `"O"` -> `("O", None)`."""
    if tag == "O":
        return "O", None
    return tag[0], tag[2:]


def detect_scheme(tag_sequences):
    """Guesses the scheme of tag sequences: `"iobes"`, `"bilou"`, `"iob1"` or `"iob2"`.

    E-/S- prefixes mean IOBES; L-/U- mean BILOU. A file where some entity starts with I- and
    every B- directly follows a chunk of its own type is IOB1. Anything else is IOB2 (where
    an I- after O is then a repairable error).
    """
    prefixes = set()
    chunk_starts_with_i = False
    b_only_after_same_type = True
    for tags in tag_sequences:
        previous = "O"
        for tag in tags:
            prefix, kind = split_tag(tag)
            prefixes.add(prefix)
            prev_prefix, prev_kind = split_tag(previous)
            if prefix == "I" and (prev_prefix == "O" or prev_kind != kind):
                chunk_starts_with_i = True
            if prefix == "B" and (prev_prefix == "O" or prev_kind != kind):
                b_only_after_same_type = False
            previous = tag
    if prefixes & {"E", "S"}:
        return "iobes"
    if prefixes & {"L", "U"}:
        return "bilou"
    if chunk_starts_with_i and b_only_after_same_type:
        return "iob1"
    return "iob2"


def to_iob2(tags, scheme):
    """Converts one tag sequence to IOB2.

    Returns:
        `(iob2_tags, repaired)`: the converted tags and how many tags had to be repaired
        (an I- that follows O or another type in IOB2/IOBES/BILOU input, which becomes B-).
        IOB1's chunk-initial I- is the scheme itself, not a repair.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"Unknown tag scheme. Expected one of {SCHEMES}. Received: scheme={scheme!r}")
    mapping = _PREFIX_TO_IOB2[scheme]
    converted, repaired = [], 0
    previous_kind = None  # type of the chunk the previous tag belongs to, None after O
    for tag in tags:
        prefix, kind = split_tag(tag)
        if prefix == "O":
            converted.append("O")
            previous_kind = None
            continue
        if prefix not in mapping:
            raise ValueError(f"Tag {tag!r} does not belong to the {scheme} scheme")
        new_prefix = mapping[prefix]
        if new_prefix == "I" and previous_kind != kind:
            new_prefix = "B"
            repaired += scheme != "iob1"
        converted.append(f"{new_prefix}-{kind}")
        # IOBES/BILOU close a chunk at E-/S-/L-/U-; a following I- would start a new one.
        previous_kind = None if prefix in "ESLU" else kind
    return converted, repaired


def labels_from_tags(tag_sequences):
    """The label list for IOB2 tags: `O` first, then `B-`/`I-` of each type, types sorted.

    Both prefixes of every type are listed even when one never occurs, so the model can
    predict any valid sequence.
    """
    kinds = sorted({split_tag(tag)[1] for tags in tag_sequences for tag in tags if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in kinds for prefix in "BI"]


def validate_labels(labels, ignore_index=-100):
    """Returns `labels` as a list of unique, non-empty strings; raises ValueError otherwise."""
    if isinstance(labels, str) or not hasattr(labels, "__iter__"):
        raise ValueError(f"`labels` must be a list of tag names such as ['O', 'B-per']. Received: labels={labels!r}")
    labels = list(labels)
    if not labels:
        raise ValueError("`labels` must hold at least one tag name. Received: labels=[]")
    bad = [label for label in labels if not isinstance(label, str) or not label]
    if bad:
        raise ValueError(f"Every label must be a non-empty string. Received: {bad[0]!r} in labels={labels!r}")
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    if duplicated:
        raise ValueError(f"Labels must be unique. Received duplicates {duplicated} in labels={labels!r}")
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
        raise ValueError(f"`ignore_index` must be an int. Received: ignore_index={ignore_index!r}")
    if 0 <= ignore_index < len(labels):
        raise ValueError(
            f"`ignore_index` must not be a label id (0..{len(labels) - 1}); it would hide the label "
            f"{labels[ignore_index]!r}. Received: ignore_index={ignore_index}"
        )
    return labels


class _EntitySpans:
    """Word tags in, entity spans out, one word at a time (an I- of the open entity's type
    continues it; any other B- or I- starts a new entity)."""

    def __init__(self, text):
        self.text = text
        self.current = None

    def add(self, start, end, tag, score):
        prefix, kind = split_tag(tag)
        if prefix == "I" and self.current is not None and self.current["label"] == kind:
            self.current["end"] = end
            self.current["scores"].append(float(score))
            return []
        finished = self.finish()
        if prefix in ("B", "I"):
            self.current = {"label": kind, "start": start, "end": end, "scores": [float(score)]}
        return finished

    def finish(self):
        if self.current is None:
            return []
        entity, self.current = self.current, None
        return [
            {
                "text": self.text[entity["start"] : entity["end"]],
                "label": entity["label"],
                "start": entity["start"],
                "end": entity["end"],
                "score": round(float(np.mean(entity["scores"])), 4),
            }
        ]


def decode_entities(text, words, tags, scores):
    """Turns word tags into entity spans; `words` are `(word, start, end)` triples."""
    spans = _EntitySpans(text)
    entities = []
    for (_, start, end), tag, score in zip(words, tags, scores):
        entities.extend(spans.add(start, end, tag, score))
    return entities + spans.finish()
