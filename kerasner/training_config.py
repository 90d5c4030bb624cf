"""Every setting of a training run, with its default, in one place.

`kerasner train`'s flags, a `--config` JSON file, `train_token_classifier` and the tuner's search
space take their defaults from `TrainingConfig`. A run folder keeps the resolved config of its run in
`config.json`; `kerasner train --config runs/x/config.json` runs it again.
"""

import dataclasses
import difflib
import json
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "config.json"


@dataclass
class TrainingConfig:
    # --- data -------------------------------------------------------------------------------
    data: str | None = None  # a labelled file split into training and validation; None: the embedded sample corpus
    train: str | None = None  # a training file, with `validation` instead of `data`
    validation: str | None = None
    format: str | None = None  # one of kerasner.formats.FORMATS; None detects it from the content
    scheme: str = "auto"  # tag scheme of the files ("iob2", "iob1", "iobes", "bilou"); converted to IOB2
    validation_size: float = 0.2  # share of `data` held out for validation, split by sentence
    encoding: str | None = None  # None: UTF-8, falling back to Windows-1252 (the GMB file's)
    word_column: str | int | None = None  # CSV: "Word"; CoNLL: 0 (the first column)
    tag_column: str | int | None = None  # CSV: "Tag"; CoNLL: -1 (the last column)
    sentence_column: str | None = None  # CSV: "Sentence #", filled on each sentence's first row
    delimiter: str | None = None  # CSV: ","
    tokens_key: str | None = None  # JSON lines: "tokens"
    tags_key: str | None = None  # JSON lines: "tags"
    label_names: str | None = None  # hf-jsonl: the integer tags' names, comma-separated or a file
    allow_new_labels: bool = False  # accept tags found only in the validation data (they cannot be learnt)
    oversample: int = 0  # repeat the training sentences of entity types with fewer entities than this (kerasner.oversample)
    # --- model ------------------------------------------------------------------------------
    model: str = "tiny"  # "tiny" (built from scratch, offline), a hub name, an encoder folder or a saved kerasner model
    max_length: int | None = None  # longest window in sub-tokens; None: the model's maximum (at most 512)
    stride: int = 32  # sub-tokens shared by consecutive windows of a long sentence
    label_all_subtokens: bool = False  # train on every sub-token instead of each word's first
    word_splitter: str = "treebank"  # how raw text becomes words at prediction: treebank, whitespace, pretokenizer
    dropout: float = 0.1  # before the head
    head: str | None = None  # "crf" (a linear-chain CRF over the words) or "softmax" (each word on its own); None: a saved model's, else crf
    context: int = 0  # sub-tokens of the neighbouring sentences of the document read on each side of a sentence
    # --- training ---------------------------------------------------------------------------
    epochs: int | None = None  # exactly this many; None plans the length (kerasner.plan_training)
    max_epochs: int | None = None  # the most epochs of a planned run; None: 20
    patience: int | None = None  # epochs without a better entity F1 before stopping; None: 2 if planned, else never
    batch_size: int = 32  # windows per batch (the global batch under a strategy); 16 for tiny
    max_tokens: int | None = None  # cut batches by this budget of padded positions instead of batch_size
    pack: bool | None = None  # pack several windows a row; None: on for BERT encoders
    pool_batches: int | None = None  # length-grouping pools; None: 1 (random batches) when packing, else 16
    learning_rate: float | None = None  # peak of warm-up + linear decay; None: 5e-5 x 768 / width (1e-3 for tiny)
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01  # AdamW
    gradient_accumulation: int = 1  # batches summed into one optimizer step
    lazy_embeddings: bool = False  # update only the embedding rows a batch uses (LazyAdamW)
    jit: bool = False  # compile the training step with XLA (slower on CPU)
    seed: int = 42  # of the split, the weights, the batch order and dropout
    strict: bool = False  # score entities in seqeval's strict IOB2 mode
    decode: str = "viterbi"  # "viterbi" (valid IOB2 sequences) or "argmax"
    # --- devices ----------------------------------------------------------------------------
    strategy: str = "default"  # tf.distribute: default, mirrored, multiworker or tpu
    tpu: str | None = None
    mixed_precision: str = "off"  # auto, float16, bfloat16 or off
    # --- output -----------------------------------------------------------------------------
    output: str = "runs/train"
    tensorboard: str | None = None  # a folder for TensorBoard logs of each epoch

    @classmethod
    def from_sources(cls, *sources):
        """The config of `sources` (dicts, later ones winning) over the defaults, with the `tiny`
        model's own defaults for what no source sets. Unknown keys raise `ValueError`."""
        values = {}
        for source in sources:
            unknown = sorted(set(source) - set(FIELDS))
            if unknown:
                raise ValueError(f"unknown settings {unknown}{_suggestion(unknown)}; the settings are kerasner.TrainingConfig's")
            values.update(source)
        if values.get("model", cls.model) == "tiny":
            values = {**TINY_DEFAULTS, **values}
        return cls(**values)

    @classmethod
    def from_file(cls, path):
        """The settings in a JSON file (a run folder's `config.json`, or any subset of the keys)."""
        path = Path(path)
        if path.is_dir():
            path = path / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such config file")
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not valid JSON ({error})") from None
        if not isinstance(values, dict):
            raise ValueError(f"{path}: expected a JSON object of settings. Received: {type(values).__name__}")
        unknown = sorted(key for key in values if key not in FIELDS and not key.startswith("_"))
        if unknown:
            raise ValueError(f"{path}: unknown settings {unknown}{_suggestion(unknown)}; the settings are kerasner.TrainingConfig's")
        return {key: value for key, value in values.items() if key in FIELDS}

    def to_dict(self):
        return dataclasses.asdict(self)

    def reader_options(self):
        """The keyword options of `read_sentences` that are set."""
        names = ("word_column", "tag_column", "sentence_column", "delimiter", "tokens_key", "tags_key", "label_names")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


def _suggestion(unknown):
    close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


FIELDS = {field.name: field for field in dataclasses.fields(TrainingConfig)}
# The tiny model is trained from scratch: a higher learning rate and smaller batches.
# The head the commands put on an encoder unless told otherwise (`head=None`).
DEFAULT_HEAD = "crf"
TINY_DEFAULTS = {"batch_size": 16, "learning_rate": 1e-3}
DEFAULTS = TrainingConfig()
