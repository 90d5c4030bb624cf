"""The model card (`README.md`) of a saved model folder, as the model hub shows it."""

import platform
from importlib import metadata

from kerasner.tags import split_tag

CARD_FILE = "README.md"
_VERSIONS = ("kerasner", "tensorflow", "tf-keras", "transformers", "tensorflow-text")


def model_card(model, metrics=None, command=None):
    """A model card in Markdown, with the hub's YAML header.

    Args:
        model: a `BertTokenClassifier`.
        metrics: None, or a run's `metrics.json` values (entity scores per type, data, settings).
        command: None, or the command that trained the model.

    Returns:
        The card's text.
    """
    base = getattr(model.encoder.config, "_name_or_path", "") or "a BERT encoder built from scratch"
    types = sorted({split_tag(label)[1] for label in model.labels if split_tag(label)[0] in ("B", "I")})
    header = ["---", "library_name: transformers", "pipeline_tag: token-classification", "tags:"]
    header += ["- kerasner", "- token-classification", "- ner", "- tensorflow"]
    if metrics and metrics.get("entity"):
        header += [
            "model-index:",
            "- name: kerasner token classifier",
            "  results:",
            "  - task: {type: token-classification, name: named-entity recognition}",
            f"    metrics: [{{type: f1, name: validation entity F1, value: {metrics['entity']['f1']:.4f}}}]",
        ]
    header.append("---")
    lines = [
        *header,
        "",
        "# Named-entity recognition model",
        "",
        f"A BERT token classifier fine-tuned with kerasner {_version('kerasner')} on `{base}`. It tags each word "
        f"with one of {len(model.labels)} IOB2 labels: the entity types {', '.join(f'`{t}`' for t in types) or '(none)'}, and `O`.",
        "",
        "## Use",
        "",
        "```python",
        "import kerasner",
        "predictor = kerasner.EntityPredictor.from_pretrained(\"path/to/this/folder\")",
        "predictor(\"Thousands marched through Hyde Park in London on Sunday.\")",
        "```",
        "",
        "The folder is also a transformers model (`TFAutoModelForTokenClassification`, "
        "`pipeline(\"token-classification\", model=..., aggregation_strategy=\"first\")`), and "
        "`kerasner export --model FOLDER --output serving/ner` turns it into a TensorFlow SavedModel that takes raw text.",
        f"kerasner splits text into words with the `{model.word_splitter}` splitter, as in training; "
        "the transformers pipeline splits at every punctuation mark instead, and so finds somewhat different entities.",
    ]
    if getattr(model, "head", "softmax") == "crf":
        lines.append(
            "Its head is a linear-chain CRF: kerasner decodes with its learned label transitions; transformers "
            "reads the emission scores alone."
        )
    if getattr(model, "context", 0):
        lines.append(
            f"It was trained to read each sentence between {model.context} sub-tokens of its neighbours in the "
            "document: give `EntityPredictor.predict_document` a document's sentences in order."
        )
    if metrics:
        lines += _training(metrics, command)
    lines += [
        "",
        "## Intended use and limits",
        "",
        "- Finding the entity types above in text like the training data: the same language, domain and era.",
        "- Entity F1 drops on other domains, on text written differently (social media, all capitals, no "
        "punctuation), and on types with few training examples (see the support column).",
        "- It reads a text a window of sub-tokens at a time; it sees no context beyond a window's reach.",
        "- Its scores are the mean probability of the entity's word tags, not a calibrated confidence.",
        "",
        "## Versions",
        "",
        f"Python {platform.python_version()}, " + ", ".join(f"{name} {_version(name)}" for name in _VERSIONS[1:]) + ".",
        "",
    ]
    return "\n".join(lines)


def _training(metrics, command):
    config = metrics.get("config", {})
    data = config.get("data") or (f"{config.get('train')} and {config.get('validation')}" if config.get("train") else "the embedded sample corpus")
    entity = metrics.get("entity") or {}
    lines = [
        "",
        "## Training",
        "",
        f"- Data: {data}; {metrics.get('train_sentences')} training and {metrics.get('validation_sentences')} validation sentences.",
        f"- {metrics.get('epochs')} epoch{'' if metrics.get('epochs') == 1 else 's'} (best: {metrics.get('best_epoch')}), peak learning rate {metrics.get('learning_rate')}, "
        f"batch size {config.get('batch_size')}, seed {config.get('seed')}.",
    ]
    if command:
        lines += [f"- Command: `{command}`"]
    if entity:
        lines += [
            "",
            "## Evaluation",
            "",
            f"Entity-level scores on the validation sentences (seqeval; decode {metrics.get('decode')}): F1 "
            f"{entity['f1']:.4f}, precision {entity['precision']:.4f}, recall {entity['recall']:.4f}.",
            "",
            "| type | precision | recall | F1 | support |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for kind, scores in entity.get("per_type", {}).items():
            lines.append(
                f"| {kind} | {scores['precision']:.4f} | {scores['recall']:.4f} | {scores['f1']:.4f} | {scores['support']} |"
            )
        raw = (metrics.get("raw_text") or {}).get("entity") or {}
        if raw.get("f1") is not None:
            lines += ["", f"On the same sentences given as ordinary text, as a user sends them: entity F1 {raw['f1']:.4f}."]
    return lines


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "(not installed)"
