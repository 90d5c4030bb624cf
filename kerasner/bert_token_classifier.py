"""BERT encoder + token-classification head, as a tf-keras Model."""

import contextlib
import inspect
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras
import transformers

from kerasner.data_format_error import cut
from kerasner.masked_sparse_categorical_crossentropy import MaskedSparseCategoricalCrossentropy
from kerasner.warmup_linear_decay import create_optimizer
from kerasner.word_splitter import SPLITTERS

logger = logging.getLogger(__name__)

MODEL_FILE = "kerasner.json"
HEAD_WEIGHTS_FILE = "head.weights.npz"


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


def _encoder_class(class_name):
    encoder_class = getattr(transformers, class_name, None)
    if not (isinstance(encoder_class, type) and issubclass(encoder_class, transformers.TFPreTrainedModel)):
        raise ValueError(
            "Unknown encoder class. Expected a TensorFlow model class of transformers such as "
            f"'TFBertModel'. Received: {class_name!r}"
        )
    return encoder_class


def embed_tokens(table, input_ids):
    """Rows of the embedding variable `table` for `input_ids`, gathered from a dense read.

    `tf.gather` on the variable itself runs TensorFlow's ResourceGather, which puts the variable
    in copy-on-read mode for good: from then on every dense read or update of the whole table
    copies it (30,522 x 384 floats are 47 MB) — the optimizer's weight decay and Adam update do
    three such copies a step. A gather from the read value has the same result and the same
    sparse (IndexedSlices) gradient, and leaves the variable updatable in place.
    """
    rows = tf.shape(table, out_type=input_ids.dtype)[0]
    tf.debugging.assert_less(
        input_ids, rows, message=f"input_ids must be below the vocabulary size of {table.name}"
    )
    return tf.gather(tf.convert_to_tensor(table), input_ids)


@keras.saving.register_keras_serializable(package="kerasner")
class BertTokenClassifier(keras.Model):
    """A BERT encoder with a dropout + dense head that scores every token.

    `call` returns logits of shape `(batch, seq_len, num_labels)`; there is no softmax. The
    tag names live in the model (`labels`, `id2label`) and in its config, so a saved model
    decodes its own output. `compile()` with no arguments gives the masked loss, a masked
    token accuracy and AdamW, so `model.compile(); model.fit(batches)` works.

    Research code can subclass it: override `classify` (or replace `self.classifier`) for a
    different head, or `call` for a different forward pass; the masked loss, metrics, saving
    and callbacks stay the same.

    Args:
        encoder: a `transformers.TFBertModel` (or another TF encoder of transformers whose
            output has `last_hidden_state`).
        labels: list of str. Tag names; label id `i` is `labels[i]`.
        dropout: float. Dropout rate before the head. Defaults to `0.1`.
        ignore_index: int. Label id of positions without a label (sub-word continuations,
            special tokens, padding). Defaults to `-100`.
        word_splitter: how raw text is split into the words the model reads (see
            `WordSplitter`): `"treebank"`, the word boundaries of the labelled corpora,
            `"whitespace"` or `"pretokenizer"`. It is saved with the model, and
            `EntityPredictor` splits text this way. Defaults to `"treebank"`.
        **kwargs: passed to `tf_keras.Model` (e.g. `name`).

    Example:
    ```python
    model = kerasner.BertTokenClassifier.from_pretrained(
        "bert-base-cased", labels=["O", "B-per", "I-per"]
    )
    model.compile(kerasner.create_optimizer(5e-5, total_steps=1000))
    model.fit(train_batches, validation_data=validation_batches, epochs=3)
    model.save_pretrained("runs/ner")
    ```
    """

    # `fit` moves callbacks that write logs ahead of those that read them.
    orders_callbacks = True

    def __init__(self, encoder, labels, dropout=0.1, ignore_index=-100, word_splitter="treebank", **kwargs):
        labels = validate_labels(labels, ignore_index)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if not isinstance(encoder, transformers.TFPreTrainedModel):
            raise ValueError(
                "`encoder` must be a TensorFlow model of transformers such as TFBertModel. "
                f"Received: encoder of type {type(encoder).__name__}"
            )
        super().__init__(**kwargs)
        if not encoder.built:
            # Built here, in its own name scope, its weights keep the names transformers'
            # save_pretrained/from_pretrained match on; built inside `call` they would not.
            encoder.build_in_name_scope()

        # === Layers ===
        self.encoder = encoder
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        # The head computes in float32 under a mixed-precision policy too: the softmax over
        # labels and the loss need its range.
        self.classifier = keras.layers.Dense(
            len(labels),
            kernel_initializer=keras.initializers.TruncatedNormal(
                stddev=getattr(encoder.config, "initializer_range", 0.02)
            ),
            dtype="float32",
            name="classifier",
        )
        # The pooled [CLS] output takes no part in token classification; frozen, it gets no
        # gradient and draws no "gradients do not exist" warning.
        pooler = getattr(getattr(encoder, encoder.base_model_prefix, None), "pooler", None)
        if pooler is not None:
            pooler.trainable = False

        # === Config ===
        self._label_names = tuple(labels)
        self.dropout = float(dropout)
        self.ignore_index = ignore_index
        self.word_splitter = word_splitter
        self.tokenizer = None
        self.gradient_accumulation_steps = 1
        self.labelled_positions_per_step = None

    # --- Labels -------------------------------------------------------------------------

    @property
    def labels(self):
        """Tag names in label-id order."""
        return list(self._label_names)

    @property
    def word_splitter(self):
        """The kind of `WordSplitter` that turns raw text into the words this model reads."""
        return self._word_splitter

    @word_splitter.setter
    def word_splitter(self, kind):
        if kind not in SPLITTERS:
            raise ValueError(f"Unknown word splitter. Expected one of {set(SPLITTERS)}. Received: word_splitter={kind!r}")
        self._word_splitter = kind

    @property
    def num_labels(self):
        return len(self._label_names)

    @property
    def id2label(self):
        return dict(enumerate(self._label_names))

    @property
    def label2id(self):
        return {label: i for i, label in enumerate(self._label_names)}

    # --- Forward pass -------------------------------------------------------------------

    def call(self, inputs, training=False):
        hidden = self.encode(inputs, training=training)  # (batch, seq_len, hidden)
        return self.classify(hidden, training=training)  # (batch, seq_len, num_labels) logits

    def encode(self, inputs, training=False):
        """Runs the encoder; `inputs` is a dict of `input_ids` (+ `attention_mask`,
        `token_type_ids`) or an `input_ids` tensor. Other keys are ignored.

        Rows that pack several windows (`TokenFeatures.pack`) also hold `segment_ids` and
        `position_ids`; each position then attends to the positions of its own segment only.
        """
        if not isinstance(inputs, Mapping):
            inputs = {"input_ids": inputs}
        if inputs.get("segment_ids") is not None:
            return self._encode_packed(inputs, training)
        input_ids = inputs["input_ids"]  # (batch, seq_len)
        attention_mask = inputs.get("attention_mask")
        if attention_mask is None:
            pad_id = getattr(self.encoder.config, "pad_token_id", None) or 0
            attention_mask = tf.cast(tf.not_equal(input_ids, pad_id), input_ids.dtype)
        encoder_inputs = {"attention_mask": attention_mask}
        table = self._word_embedding_table()
        if table is None:
            encoder_inputs["input_ids"] = input_ids
        else:
            encoder_inputs["inputs_embeds"] = embed_tokens(table, input_ids)
        if inputs.get("token_type_ids") is not None:
            encoder_inputs["token_type_ids"] = inputs["token_type_ids"]
        return self.encoder(encoder_inputs, training=training).last_hidden_state

    @property
    def can_pack(self):
        """Whether the model takes packed rows (`segment_ids`, `position_ids`): a BERT encoder,
        and `call` and `encode` as defined here. A subclass that overrides either must keep
        each segment's attention to itself before it returns True here."""
        own_forward = type(self).call is BertTokenClassifier.call and type(self).encode is BertTokenClassifier.encode
        return own_forward and self._bert_layers() is not None

    def _bert_layers(self):
        """The encoder's main layer if it is BERT's (embeddings + layers), else None."""
        main = getattr(self.encoder, self.encoder.base_model_prefix, None)
        bert = self.encoder.config.model_type == "bert" and hasattr(main, "embeddings") and hasattr(main, "encoder")
        return main if bert else None

    def _encode_packed(self, inputs, training):
        """`encode` for packed rows: BERT's embeddings and layers, with a block-diagonal mask."""
        main = self._bert_layers()
        if main is None:
            raise ValueError(
                "Packed rows (`segment_ids`) need a BERT encoder, whose positions can restart in "
                f"every segment. Received: an encoder of model_type {self.encoder.config.model_type!r}; "
                "train it with `pack=False`."
            )
        segments = inputs["segment_ids"]  # (batch, seq_len); 0 on padding
        table = self._word_embedding_table()
        hidden = main.embeddings(
            input_ids=inputs["input_ids"] if table is None else None,
            inputs_embeds=None if table is None else embed_tokens(table, inputs["input_ids"]),
            position_ids=inputs["position_ids"],
            token_type_ids=inputs.get("token_type_ids", tf.zeros_like(segments)),
            training=training,
        )
        # A position sees the positions of its own segment: 0 there, -10000 (as in BERT) elsewhere.
        same = tf.logical_and(tf.equal(segments[:, :, None], segments[:, None, :]), segments[:, None, :] > 0)
        mask = (1.0 - tf.cast(same, hidden.dtype)[:, None]) * tf.constant(-10000.0, hidden.dtype)
        layers = len(main.encoder.layer)
        return main.encoder(
            hidden_states=hidden,
            attention_mask=mask,  # (batch, 1, seq_len, seq_len)
            head_mask=[None] * layers,
            encoder_hidden_states=None,
            encoder_attention_mask=None,
            past_key_values=[None] * layers,
            use_cache=False,
            output_attentions=False,
            output_hidden_states=False,
            return_dict=True,
            training=training,
        ).last_hidden_state

    def _word_embedding_table(self):
        """The encoder's word-embedding variable if `encode` can look tokens up itself, else None.

        The encoder must take `inputs_embeds`, and the table's dtype must be the compute dtype.
        Under a mixed-precision policy the table is an `AutoCastVariable`, whose dtype inside the
        model's call is the compute dtype: the dense read then casts the whole table each step
        (30,522 x 384 values for BERT's vocabulary), where the encoder's own lookup would put the
        variable in copy-on-read mode (see `embed_tokens`).
        """
        if "inputs_embeds" not in inspect.signature(self.encoder.call).parameters:
            return None
        try:
            table = getattr(self.encoder.get_input_embeddings(), "weight", None)
        except NotImplementedError:
            return None
        if not isinstance(table, tf.Variable) or table.dtype != tf.as_dtype(self.compute_dtype):
            return None
        return table

    def classify(self, hidden, training=False):
        """Maps hidden states `(batch, seq_len, hidden)` to logits `(batch, seq_len, num_labels)`."""
        hidden = self.dropout_layer(hidden, training=training)
        return self.classifier(hidden)  # float32 whatever the policy

    def dummy_inputs(self):
        """A small int32 batch that builds every weight of the model."""
        ids = tf.ones((1, 8), dtype=tf.int32)
        return {"input_ids": ids, "attention_mask": ids}

    def build_from_config(self, config):
        # Keras would build from float placeholders, which the encoder's embedding rejects.
        self(self.dummy_inputs(), training=False)

    def get_build_config(self):
        return {"input_shape": None, "dummy_inputs": True}

    # --- Training -----------------------------------------------------------------------

    def compile(
        self,
        optimizer=None,
        loss=None,
        metrics=None,
        weighted_metrics=None,
        gradient_accumulation_steps=1,
        labelled_positions_per_step=None,
        **kwargs,
    ):
        """Configures training with kerasner's defaults.

        Every metric, from `metrics` or `weighted_metrics`, is computed on labelled positions
        only (the `ignore_index` mask is passed as its sample weight). Call it under the
        `strategy.scope()` the model was built in (`fit` does this for you).

        Args:
            optimizer: a tf-keras optimizer or its name. Defaults to `create_optimizer()`
                (AdamW, 5e-5, constant rate). Under a `mixed_float16` policy tf-keras wraps it
                in a `LossScaleOptimizer`.
            loss: Defaults to `MaskedSparseCategoricalCrossentropy(ignore_index)`.
            metrics: extra metrics; masked like `weighted_metrics`. Defaults to none.
            weighted_metrics: Defaults to `[SparseCategoricalAccuracy(name="token_accuracy")]`.
            gradient_accumulation_steps: int. Each batch is run as this many micro-batches, one
                after the other, and their gradients are summed before the single optimizer
                step, so a batch this many times larger than fits in memory trains as one
                batch. Defaults to `1`.
            labelled_positions_per_step: float or None. If set, a step's loss is the sum of
                its labelled positions' losses divided by this constant (the mean number of
                labelled positions a step: `TokenFeatures.labelled_positions()` / steps)
                instead of their mean, so every labelled position weighs the same in an
                epoch. With length-grouped batches the mean gives a position in a batch of
                short sentences several times the weight of one in a batch of long sentences.
                Defaults to None (the mean of each batch).
            **kwargs: passed to `tf_keras.Model.compile` (e.g. `jit_compile`).
        """
        if isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int) or gradient_accumulation_steps < 1:
            raise ValueError(
                "`gradient_accumulation_steps` must be a positive int. "
                f"Received: gradient_accumulation_steps={gradient_accumulation_steps!r}"
            )
        if labelled_positions_per_step is not None and not float(labelled_positions_per_step) > 0:
            raise ValueError(
                "`labelled_positions_per_step` must be positive or None. "
                f"Received: labelled_positions_per_step={labelled_positions_per_step!r}"
            )
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.labelled_positions_per_step = (
            None if labelled_positions_per_step is None else float(labelled_positions_per_step)
        )
        if optimizer is None:
            optimizer = create_optimizer()
        if loss is None:
            loss = MaskedSparseCategoricalCrossentropy(ignore_index=self.ignore_index)
        if weighted_metrics is None:
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")]
        weighted_metrics = list(weighted_metrics) + list(metrics or [])
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs)

    def fit(self, *args, **kwargs):
        """`tf_keras.Model.fit`, with callbacks that write logs (such as `EntityF1Callback`) moved
        ahead of the others, so `ModelCheckpoint`, `EarlyStopping` and loggers see their values."""
        callbacks = kwargs.get("callbacks")
        if callbacks is not None and not isinstance(callbacks, keras.callbacks.CallbackList):
            kwargs["callbacks"] = sorted(callbacks, key=lambda callback: not getattr(callback, "writes_logs", False))
        return super().fit(*args, **kwargs)

    def train_step(self, data):
        """One optimizer step on a batch: tf-keras' step, with two additions.

        Under a strategy with several replicas, each replica's gradient is weighted by its share
        of the batch's labelled positions, so the step follows the mean loss over all labelled
        positions of the global batch, as on one device (tf-keras alone would average the
        replicas' means). With `gradient_accumulation_steps > 1` the batch runs as that many
        micro-batches whose gradients, weighted by their labelled positions, are summed before
        the optimizer step: the same update as the whole batch at once. With
        `labelled_positions_per_step` set, the step follows the sum of the losses over that
        constant instead of their mean.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        count = self._labelled_positions(y, sample_weight)
        # Weight of this replica's mean loss in the mean over the global batch (1 on one device).
        replica_weight = tf.constant(1.0)
        total = count  # labelled positions of the global batch
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            total = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, count)
            replica_weight = count * replicas / tf.maximum(total, 1.0)
        if self.labelled_positions_per_step is not None:  # mean -> sum over a constant
            replica_weight = replica_weight * total / self.labelled_positions_per_step
        if self.gradient_accumulation_steps == 1:
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred, sample_weight)
                weighted_loss = loss * replica_weight
            self._validate_target_and_loss(y, loss)
            self.optimizer.minimize(weighted_loss, self.trainable_variables, tape=tape)
            return self.compute_metrics(x, y, y_pred, sample_weight)
        if not self.built:  # the weights must exist before the loop sums their gradients
            self(tf.nest.map_structure(lambda t: t[:1], x), training=False)
        variables = self.trainable_variables
        gradients = self._accumulated_gradients(x, y, sample_weight, count, variables)
        self.optimizer.apply_gradients(zip([g * replica_weight for g in gradients], variables))
        return self.get_metrics_result()

    def _labelled_positions(self, y, sample_weight):
        """Number of labelled positions in `y` (weighted by `sample_weight`), as float32."""
        mask = tf.cast(tf.not_equal(y, self.ignore_index), tf.float32)  # (batch, seq_len)
        if sample_weight is not None:
            weight = tf.cast(sample_weight, tf.float32)
            mask = mask * (weight[:, tf.newaxis] if weight.shape.rank == 1 else weight)
        return tf.reduce_sum(mask)

    def _accumulated_gradients(self, x, y, sample_weight, count, variables):
        """Gradients of the batch's mean loss, computed over micro-batches one at a time."""
        batch_size = tf.shape(y)[0]
        steps = self.gradient_accumulation_steps
        micro_size = (batch_size + steps - 1) // steps
        num_micro = (batch_size + micro_size - 1) // micro_size  # every micro-batch non-empty

        # tf-keras does not run train_step through AutoGraph: an explicit while loop.
        def accumulate(step, gradients):
            part = lambda t: None if t is None else t[step * micro_size : (step + 1) * micro_size]  # noqa: E731
            x_micro, y_micro = tf.nest.map_structure(part, x), part(y)
            weight_micro = None if sample_weight is None else part(sample_weight)
            with tf.GradientTape() as tape:
                y_pred = self(x_micro, training=True)
                loss = self.compute_loss(x_micro, y_micro, y_pred, weight_micro)
                # This micro-batch's share of the batch's labelled positions.
                share = self._labelled_positions(y_micro, weight_micro) / tf.maximum(count, 1.0)
                weighted_loss = loss * share
            self._validate_target_and_loss(y_micro, loss)
            micro_gradients = self.optimizer.compute_gradients(weighted_loss, variables, tape=tape)
            # States only: reading results inside the loop would synchronise the replicas.
            self._update_metrics(y_micro, y_pred, weight_micro)
            gradients = [
                total if g is None else total + tf.convert_to_tensor(g)  # embedding rows come as IndexedSlices
                for total, (g, _) in zip(gradients, micro_gradients)
            ]
            return step + 1, gradients

        _, gradients = tf.while_loop(
            lambda step, _: step < num_micro,
            accumulate,
            (tf.constant(0), [tf.zeros_like(variable) for variable in variables]),
        )
        return gradients

    def compute_metrics(self, x, y, y_pred, sample_weight):
        self._update_metrics(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _update_metrics(self, y, y_pred, sample_weight):
        """Updates the compiled metrics on labelled positions only."""
        mask = tf.cast(tf.not_equal(y, self.ignore_index), tf.float32)  # (batch, seq_len)
        if sample_weight is not None:
            weight = tf.cast(sample_weight, tf.float32)
            mask = mask * (weight[:, tf.newaxis] if weight.shape.rank == 1 else weight)
        self.compiled_metrics.update_state(tf.maximum(y, 0), y_pred, mask)

    # --- Config and saving --------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": {"class_name": type(self.encoder).__name__, "config": self.encoder.get_config()},
            "labels": self.labels,
            "dropout": self.dropout,
            "ignore_index": self.ignore_index,
            "word_splitter": self.word_splitter,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = config.pop("encoder")
        if isinstance(encoder, Mapping):
            encoder = _encoder_class(encoder["class_name"]).from_config(encoder["config"])
        trainable = config.pop("trainable", True)
        model = cls(encoder=encoder, **config)
        model.trainable = trainable
        return model

    def save_assets(self, dir_path):
        """Stores the tokenizer inside `.keras` files."""
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(dir_path)

    def load_assets(self, dir_path):
        if Path(dir_path, "tokenizer_config.json").is_file():
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(dir_path, use_fast=True)

    def _head_weights(self):
        encoder_weights = {id(weight) for weight in self.encoder.weights}
        return [weight for weight in self.weights if id(weight) not in encoder_weights]

    def save_pretrained(self, directory, tokenizer=None):
        """Writes everything inference needs to `directory`.

        The directory is a transformers token-classification model as it stands: `config.json`
        (with `id2label` and `label2id`) and `tf_model.h5` hold the encoder and this head as the
        `classifier` of `TFAutoModelForTokenClassification` (for BERT,
        `TFBertForTokenClassification`), so transformers' `from_pretrained` and `pipeline` load
        it. Besides, it holds the tokenizer, the head weights, `kerasner.json` (labels, config,
        kerasner version) and a model card, `README.md` (`kerasner.model_card`). `BertTokenClassifier.from_pretrained(directory)` restores it.

        A subclass with another head is saved with its encoder alone in `tf_model.h5`.

        Args:
            directory: path. Created if missing; existing files of the same names are replaced.
            tokenizer: a transformers tokenizer. Defaults to `self.tokenizer`.
        """
        from kerasner import __version__

        if not self.built:
            self(self.dummy_inputs(), training=False)
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        left_out = self._save_as_token_classifier(directory)
        if left_out is None:
            self.encoder.save_pretrained(directory)
            left_out = []
        tokenizer = tokenizer if tokenizer is not None else self.tokenizer
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        head = self._head_weights()
        # The encoder weights the token-classification class has no place for (BERT's pooler,
        # unused here) are kept with the head, so that a saved model loads back weight for weight.
        np.savez(directory / HEAD_WEIGHTS_FILE, *[weight.numpy() for weight in head + left_out])
        config = self.get_config()
        config.pop("encoder")
        manifest = {
            "kerasner_version": __version__,
            "class_name": type(self).__name__,
            "encoder_class": type(self.encoder).__name__,
            "config": config,
            "head_weights": [[weight.name, list(weight.shape)] for weight in head],
            "encoder_weights": [[_inner_name(weight.name), list(weight.shape)] for weight in left_out],
        }
        (directory / MODEL_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
        from kerasner.model_card import CARD_FILE, model_card

        (directory / CARD_FILE).write_text(model_card(self))

    def _save_as_token_classifier(self, directory):
        """Writes `config.json` and `tf_model.h5` as transformers' token-classification model of
        this encoder (`TFBertForTokenClassification` for BERT): the encoder's main layer and this
        head as its `classifier`. The file is written directly, without building that model, so
        that a callback under a `tf.distribute` strategy creates no variables.

        Returns:
            The encoder weights that class has no place for (BERT's pooler, unused here), or None
            when the head is not a plain dropout + dense `classifier` or the encoder has no
            token-classification class; then nothing is written.
        """
        from transformers.models.auto.modeling_tf_auto import TF_MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES
        from transformers.tf_utils import save_attributes_to_hdf5_group

        own_head = type(self).classify is BertTokenClassifier.classify and type(self).call is BertTokenClassifier.call
        plain = isinstance(self.classifier, keras.layers.Dense) and self.classifier.activation is keras.activations.linear
        class_name = TF_MODEL_FOR_TOKEN_CLASSIFICATION_MAPPING_NAMES.get(self.encoder.config.model_type)
        main = getattr(self.encoder, self.encoder.base_model_prefix, None)
        if not (own_head and plain and class_name and main is not None):
            return None
        config = type(self.encoder.config).from_dict(self.encoder.config.to_dict())
        config.id2label, config.label2id, config.num_labels = self.id2label, self.label2id, self.num_labels
        config.architectures = [class_name[2:]]  # "TFBertForTokenClassification" -> "BertForTokenClassification"
        config.save_pretrained(directory)
        kept = [weight for weight in main.weights if "/pooler/" not in weight.name]
        top = main.weights[0].name.split("/")[0]  # the model's name scope, which loading ignores
        layers = {
            self.encoder.base_model_prefix: [(weight.name, weight) for weight in kept],
            "classifier": [(f"{top}/classifier/{_inner_name(weight.name)}:0", weight) for weight in self.classifier.weights],
        }
        import h5py

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

    @classmethod
    def from_pretrained(
        cls, name_or_dir, labels=None, dropout=0.1, ignore_index=-100, tokenizer=None, word_splitter="treebank", **kwargs
    ):
        """Loads a saved kerasner model, or a pretrained encoder with a new head.

        Args:
            name_or_dir: a directory written by `save_pretrained`; or a hub name (e.g.
                `"bert-base-cased"`) or local directory of a transformers TF encoder.
            labels: list of str. Tag names of the new head; required for an encoder, optional
                (and must match) for a saved kerasner model.
            dropout: float. Dropout before a new head. Defaults to `0.1`.
            ignore_index: int. Label id of unlabelled positions. Defaults to `-100`.
            tokenizer: a fast tokenizer to attach; defaults to the one stored at `name_or_dir`.
            word_splitter: how raw text is split into words, for a new head (a saved model keeps
                its own). Defaults to `"treebank"`.
            **kwargs: passed to `transformers.TFAutoModel.from_pretrained` for an encoder.
        """
        path = Path(name_or_dir)
        previous = path.with_name(path.name + ".old")
        if not path.exists() and (previous / MODEL_FILE).is_file():
            # A run killed while it swapped in a new best model left the previous one here.
            logger.warning("%s is missing; loading the previous best model from %s", path, previous)
            path = name_or_dir = previous
        if (path / MODEL_FILE).is_file():
            model = cls._from_saved(path, labels)
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
                encoder = _load_encoder(str(name_or_dir), **kwargs)
            model = cls(
                encoder=encoder, labels=labels, dropout=dropout, ignore_index=ignore_index, word_splitter=word_splitter
            )
        if tokenizer is None:
            saved = (path / MODEL_FILE).is_file()
            with _load_errors(path, "the tokenizer (tokenizer.json, vocab.txt)") if saved else contextlib.nullcontext():
                tokenizer = _load_tokenizer(name_or_dir, strict=saved)
        model.tokenizer = tokenizer
        return model

    @classmethod
    def _from_saved(cls, path, labels):
        try:
            manifest = json.loads((path / MODEL_FILE).read_text())
            config = manifest["config"]
            encoder_class = _encoder_class(manifest["encoder_class"])
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
                encoder = encoder_class.from_pretrained(str(path))
        finally:
            transformers.logging.set_verbosity(verbosity)
        trainable = config.pop("trainable", True)
        model = cls(encoder=encoder, **config)
        model.trainable = trainable
        model(model.dummy_inputs(), training=False)
        head = model._head_weights()
        main = {_inner_name(weight.name): weight for weight in getattr(encoder, encoder.base_model_prefix).weights}
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


def _load_encoder(name_or_dir, **kwargs):
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


def _inner_name(name):
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


def _load_tokenizer(name_or_dir, strict=False):
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
