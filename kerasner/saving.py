"""The model folder: what `BertTokenClassifier.save_pretrained` writes and `from_pretrained` reads.

A folder is a transformers token-classification model as it stands (`config.json` with `id2label`,
`tf_model.h5` with the encoder and the head as `classifier`), plus the tokenizer, the head weights,
`kerasner.json` (labels, config, kerasner version) and a model card. The functions take the model
class or object as an argument, so this module sits below the model.
"""

import contextlib
import json
import logging
from pathlib import Path

import h5py
import numpy as np
import tf_keras as keras
import transformers

from kerasner.errors import cut
from kerasner.model_card import CARD_FILE, model_card
from kerasner.tags import validate_labels
from kerasner.version import __version__

logger = logging.getLogger(__name__)

MODEL_FILE = "kerasner.json"
HEAD_WEIGHTS_FILE = "head.weights.npz"


def encoder_class(class_name):
    """The TensorFlow encoder class of transformers called `class_name` (such as "TFBertModel")."""
    found = getattr(transformers, class_name, None)
    if not (isinstance(found, type) and issubclass(found, transformers.TFPreTrainedModel)):
        raise ValueError(
            "Unknown encoder class. Expected a TensorFlow model class of transformers such as "
            f"'TFBertModel'. Received: {class_name!r}"
        )
    return found


def head_weights(model):
    """The model's weights that are not the encoder's: the head's."""
    encoder_weights = {id(weight) for weight in model.encoder.weights}
    return [weight for weight in model.weights if id(weight) not in encoder_weights]


def save_pretrained(model, directory, tokenizer=None, plain_head=True):
    """Writes `model` and `tokenizer` (default: `model.tokenizer`) to `directory`, a model folder.

    With `plain_head` False (a subclass with another head), `tf_model.h5` holds the encoder alone.
    """
    if not model.built:
        model(model.dummy_inputs(), training=False)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    left_out = _write_token_classifier(model, directory) if plain_head else None
    if left_out is None:
        model.encoder.save_pretrained(directory)
        left_out = []
    tokenizer = tokenizer if tokenizer is not None else model.tokenizer
    if tokenizer is not None:
        tokenizer.save_pretrained(directory)
    head = head_weights(model)
    # The encoder weights the token-classification class has no place for (BERT's pooler,
    # unused here) are kept with the head, so that a saved model loads back weight for weight.
    np.savez(directory / HEAD_WEIGHTS_FILE, *[weight.numpy() for weight in head + left_out])
    config = model.get_config()
    config.pop("encoder")
    manifest = {
        "kerasner_version": __version__,
        "class_name": type(model).__name__,
        "encoder_class": type(model.encoder).__name__,
        "config": config,
        "head_weights": [[weight.name, list(weight.shape)] for weight in head],
        "encoder_weights": [[inner_name(weight.name), list(weight.shape)] for weight in left_out],
    }
    (directory / MODEL_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    (directory / CARD_FILE).write_text(model_card(model))


def _write_token_classifier(model, directory):
    """Writes `config.json` and `tf_model.h5` as transformers' token-classification model of
    this encoder (`TFBertForTokenClassification` for BERT): the encoder's main layer and the
    model's head as its `classifier`. The file is written directly, without building that model, so
    that a callback under a `tf.distribute` strategy creates no variables.

    Returns:
        The encoder weights that class has no place for (BERT's pooler, unused here), or None
        when the encoder has no token-classification class; then nothing is written.
    """
    from transformers.models.auto.modeling_tf_auto import TF_MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES
    from transformers.tf_utils import save_attributes_to_hdf5_group

    class_name = TF_MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES.get(model.encoder.config.model_type)
    main = getattr(model.encoder, model.encoder.base_model_prefix, None)
    if not (class_name and main is not None):
        return None
    config = type(model.encoder.config).from_dict(model.encoder.config.to_dict())
    config.id2label, config.label2id, config.num_labels = model.id2label, model.label2id, model.num_labels
    config.architectures = [class_name[2:]]  # "TFBertForTokenClassification" -> "BertForTokenClassification"
    config.save_pretrained(directory)
    kept = [weight for weight in main.weights if "/pooler/" not in weight.name]
    top = main.weights[0].name.split("/")[0]  # the model's name scope, which loading ignores
    layers = {
        model.encoder.base_model_prefix: [(weight.name, weight) for weight in kept],
        "classifier": [(f"{top}/classifier/{inner_name(weight.name)}:0", weight) for weight in model.classifier.weights],
    }
    # The layout of Keras' HDF5 weights: a group per layer, its weights under their names.
    with h5py.File(Path(directory) / transformers.TF2_WEIGHTS_NAME, "w") as weights_file:
        save_attributes_to_hdf5_group(weights_file, "layer_names", [name.encode() for name in layers])
        weights_file.attrs["backend"] = b"tensorflow"
        weights_file.attrs["keras_version"] = keras.__version__.encode()
        for layer, named in layers.items():
            group = weights_file.create_group(layer)
            save_attributes_to_hdf5_group(group, "weight_names", [name.encode() for name, _ in named])
            for name, weight in named:
                group.create_dataset(name, data=weight.numpy())
    return [weight for weight in main.weights if "/pooler/" in weight.name]


def from_pretrained(
    cls, name_or_dir, labels=None, dropout=0.1, ignore_index=-100, tokenizer=None, word_splitter="treebank",
    head="softmax", **kwargs,
):
    """`cls.from_pretrained`: a model folder loaded as `cls`, or the encoder at `name_or_dir` with a
    new head (see `BertTokenClassifier.from_pretrained`)."""
    path = Path(name_or_dir)
    previous = path.with_name(path.name + ".old")
    if not path.exists() and (previous / MODEL_FILE).is_file():
        # A run killed while it swapped in a new best model left the previous one here.
        logger.warning("%s is missing; loading the previous best model from %s", path, previous)
        path = name_or_dir = previous
    if (path / MODEL_FILE).is_file():
        model = _from_folder(cls, path, labels)
    else:
        if labels is None:
            where = "directory" if path.is_dir() else "name"
            raise ValueError(
                f"{str(name_or_dir)!r} is not a kerasner model directory (no {MODEL_FILE}). To put a "
                f"new token-classification head on the encoder at this {where}, pass labels=[...]."
            )
        labels = validate_labels(labels, ignore_index)
        _check_encoder_location(name_or_dir)
        with _load_errors(name_or_dir, "the encoder"):
            encoder = load_encoder(str(name_or_dir), **kwargs)
        model = cls(
            encoder=encoder, labels=labels, dropout=dropout, ignore_index=ignore_index, word_splitter=word_splitter,
            head=head,
        )
    if tokenizer is None:
        saved = (path / MODEL_FILE).is_file()
        with _load_errors(path, "the tokenizer (tokenizer.json, vocab.txt)") if saved else contextlib.nullcontext():
            tokenizer = load_tokenizer(name_or_dir, strict=saved)
    model.tokenizer = tokenizer
    return model


def _from_folder(cls, path, labels):
    """The model saved in the folder `path`, as `cls`; `labels`, if given, must be its labels."""
    try:
        manifest = json.loads((path / MODEL_FILE).read_text())
        config = manifest["config"]
        encoder_type = encoder_class(manifest["encoder_class"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{path / MODEL_FILE} is not a valid kerasner model file: {error}") from error
    if labels is not None and list(labels) != config["labels"]:
        raise ValueError(
            f"The model saved in {path} has labels {config['labels']}. Pass labels=None to load it "
            f"as it is. Received: labels={list(labels)}"
        )
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # a saved model loads whole; nothing to report
    try:
        with _load_errors(path, "the saved encoder (config.json, tf_model.h5)"):
            encoder = encoder_type.from_pretrained(str(path))
    finally:
        transformers.logging.set_verbosity(verbosity)
    trainable = config.pop("trainable", True)
    model = cls(encoder=encoder, **config)
    model.trainable = trainable
    model(model.dummy_inputs(), training=False)
    head = head_weights(model)
    main = {inner_name(weight.name): weight for weight in getattr(encoder, encoder.base_model_prefix).weights}
    try:
        kept = [main[name] for name, _ in manifest.get("encoder_weights", [])]
    except KeyError as error:
        raise ValueError(f"{path / MODEL_FILE}: the encoder has no weight {error.args[0]!r}") from None
    with _load_errors(path / HEAD_WEIGHTS_FILE, "the head weights"), np.load(path / HEAD_WEIGHTS_FILE) as stored:
        values = [stored[f"arr_{i}"] for i in range(len(stored.files))]
    shapes = [tuple(weight.shape) for weight in head + kept]
    if shapes != [value.shape for value in values]:
        raise ValueError(
            f"The head weights in {path / HEAD_WEIGHTS_FILE} do not fit {cls.__name__}: stored "
            f"shapes {[value.shape for value in values]}, expected {shapes}."
        )
    for weight, value in zip(head + kept, values):
        weight.assign(value)
    return model


_HUB_OPTIONS = ("cache_dir", "force_download", "local_files_only", "proxies", "revision", "subfolder", "token")


def load_encoder(name_or_dir, **kwargs):
    """`TFAutoModel.from_pretrained`, or, for a checkpoint that holds only PyTorch-format
    safetensors (`model.safetensors`, or shards listed in `model.safetensors.index.json`), a
    TensorFlow encoder filled from them without torch."""
    files = _pytorch_safetensors(name_or_dir, {key: kwargs[key] for key in _HUB_OPTIONS if key in kwargs})
    if not files:
        return transformers.TFAutoModel.from_pretrained(name_or_dir, **kwargs)
    import safetensors.numpy
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    config_options = {key: kwargs.pop(key) for key in _HUB_OPTIONS if key in kwargs}
    config = transformers.AutoConfig.from_pretrained(name_or_dir, **config_options)
    encoder = transformers.TFAutoModel.from_config(config, **kwargs)
    encoder.build_in_name_scope()
    state = {}
    for path in files:
        state.update(safetensors.numpy.load_file(path))
    # A checkpoint of a whole model (heads, a pooler or not) fills what the encoder has.
    load_pytorch_state_dict_in_tf2_model(encoder, state, tf_inputs=False, allow_missing_keys=True)
    return encoder


def _pytorch_safetensors(name_or_dir, options):
    """The PyTorch-format safetensors files of a checkpoint that has no TensorFlow weights, or None."""
    from transformers.utils import cached_file

    def find(filename):
        return cached_file(
            name_or_dir, filename, _raise_exceptions_for_missing_entries=False,
            _raise_exceptions_for_connection_errors=False, **options,
        )

    if find(transformers.TF2_WEIGHTS_NAME) or find(transformers.TF2_WEIGHTS_NAME + ".index.json"):
        return None
    index = find("model.safetensors.index.json")
    if index:
        shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
        files = [find(shard) for shard in shards]
        if not all(files):
            raise OSError(f"{name_or_dir}: missing safetensors shards of {index}")
    else:
        files = [path for path in [find("model.safetensors")] if path]
    if not files:
        return None
    import safetensors

    with safetensors.safe_open(files[0], framework="np") as archive:
        stored_format = (archive.metadata() or {}).get("format", "pt")
    return files if stored_format == "pt" else None  # TensorFlow-format safetensors load as they are


def inner_name(name):
    """A weight's name below its model's and its main layer's scope: "tf_bert_model/bert/x:0" -> "x"."""
    return name.split("/", 2)[-1].split(":")[0]


def _check_encoder_location(name_or_dir):
    """Names a local folder that cannot hold an encoder, rather than letting the hub try it."""
    path = Path(name_or_dir)
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ValueError(
                f"{path}: not a model folder: it has no {MODEL_FILE} (a kerasner model) and no config.json (a "
                "transformers encoder)"
            )
    elif str(name_or_dir).startswith((".", "/", "~")) or str(name_or_dir).count("/") > 1 or "\\" in str(name_or_dir):
        raise FileNotFoundError(f"{name_or_dir}: no such model folder")


_FROM_PT_HINT = "If you tried to load a TF 2.0 model from a PyTorch checkpoint, please set from_pt=True."


@contextlib.contextmanager
def _load_errors(where, what):
    """Turns a failure to read a model's files into one `ValueError` line naming them."""
    try:
        yield
    except ValueError as error:
        if str(where) in str(error):
            raise
        raise ValueError(f"{where}: cannot load {what}: {cut(' '.join(str(error).split()), 200)}") from None
    except Exception as error:  # truncated files raise OSError, BadZipFile, EOFError or the tokenizers' Exception
        detail = " ".join(str(error).split())
        # transformers' hint for a PyTorch checkpoint misleads when the HDF5 file is merely broken
        detail = cut(detail.replace(_FROM_PT_HINT, "(the file is truncated, or not a TensorFlow HDF5 file)"), 200)
        raise ValueError(f"{where}: cannot load {what}: {type(error).__name__}: {detail}") from None


def load_tokenizer(name_or_dir, strict=False):
    """The fast tokenizer stored with a model, or None (with a warning) when there is none; with
    `strict`, a tokenizer that cannot be read raises."""
    path = Path(name_or_dir)
    if path.is_dir() and not (path / "tokenizer_config.json").is_file() and not (path / "vocab.txt").is_file():
        logger.warning("No tokenizer found in %s; set `model.tokenizer` before saving or predicting.", path)
        return None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(name_or_dir), use_fast=True)
        if getattr(tokenizer, "add_prefix_space", None) is False:
            # Byte-level BPE (RoBERTa, GPT-2) takes words that are already split only with a
            # prefix space, which makes a word's first piece the same inside a sentence and at its start.
            tokenizer = transformers.AutoTokenizer.from_pretrained(str(name_or_dir), use_fast=True, add_prefix_space=True)
        return tokenizer
    except (OSError, ValueError) as error:
        if strict:
            raise
        logger.warning("Could not load a tokenizer from %s (%s); set `model.tokenizer`.", name_or_dir, error)
        return None
