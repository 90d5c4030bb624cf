"""BERT encoder + token-classification head, as a tf-keras Model."""

import inspect
from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf
import tf_keras as keras
import transformers

from kerasner import saving
from kerasner.crf import LinearChainCRF
from kerasner.fast_layers import BitDropout, use_fast_layers
from kerasner.losses import MaskedSparseCategoricalCrossentropy, labelled_mask
from kerasner.optimizers import create_optimizer
from kerasner.tags import validate_labels
from kerasner.word_splitter import SPLITTERS

HEADS = ("softmax", "crf")


def embed_tokens(table, input_ids, dtype=None):
    """Rows of the embedding variable `table` for `input_ids`, gathered from a dense read and cast
    to `dtype` (defaults to the table's).

    `tf.gather` on the variable itself runs TensorFlow's ResourceGather, which puts the variable
    in copy-on-read mode for good: from then on every dense read or update of the whole table
    copies it (30,522 x 384 floats are 47 MB) — the optimizer's weight decay and Adam update do
    three such copies a step. A gather from the read value has the same result and the same
    sparse (IndexedSlices) gradient, and leaves the variable updatable in place.

    Under a mixed-precision policy `table` is an `AutoCastVariable`, whose read inside a layer's
    call casts the whole table to the compute dtype every step. The rows are gathered from its
    float32 variable and only they are cast.
    """
    variable = getattr(table, "_variable", table)  # an AutoCastVariable's own float32 variable
    rows = tf.shape(variable, out_type=input_ids.dtype)[0]
    tf.debugging.assert_less(
        input_ids, rows, message=f"input_ids must be below the vocabulary size of {table.name}"
    )
    embeddings = tf.gather(tf.convert_to_tensor(variable), input_ids)
    return embeddings if dtype is None else tf.cast(embeddings, dtype)


@keras.saving.register_keras_serializable(package="kerasner")
class BertTokenClassifier(keras.Model):
    """A BERT encoder with a dropout + dense head that scores every token.

    `call` returns logits of shape `(batch, seq_len, num_labels)`; there is no softmax. The
    tag names live in the model (`labels`, `id2label`) and in its config, so a saved model
    decodes its own output.

    With `head="crf"` the logits are the emission scores of a linear-chain CRF over each
    sentence's words (`LinearChainCRF`, held to valid IOB2): the model learns the scores of
    label transitions too, trains on the CRF's negative log-likelihood per word instead of the
    cross-entropy, and decodes with the learned transitions (`transition_scores`). `compile()` with no arguments gives the masked loss, a masked
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
        head: `"softmax"`, each word's label scored on its own (cross-entropy), or `"crf"`, a
            linear-chain CRF over the words. Defaults to `"softmax"`.
        context: int. The sub-tokens of the neighbouring sentences of its document that the
            model reads on each side of a sentence (`TokenClassificationPreprocessor`'s
            `context`): saved with the model, so that `EntityPredictor` reads a document's
            sentences as the model was trained. Defaults to `0`.
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

    def __init__(
        self, encoder, labels, dropout=0.1, ignore_index=-100, word_splitter="treebank", head="softmax", context=0,
        **kwargs,
    ):
        labels = validate_labels(labels, ignore_index)
        if head not in HEADS:
            raise ValueError(f"Unknown head. Expected one of {set(HEADS)}. Received: head={head!r}")
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
        # Cheaper dropout masks, and dense layers that fuse with their bias and GELU (`use_fast_layers`).
        use_fast_layers(encoder)
        self.dropout_layer = BitDropout(dropout, name="dropout")
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
        self.crf = None
        if head == "crf":
            self.crf = LinearChainCRF(labels, name="crf")
            self.crf.build()
            # The compiled loss is not called, so the model tracks its own; set past Keras'
            # tracking, its variables are no weights of the model.
            self.__dict__["_crf_loss"] = keras.metrics.Mean(name="loss")

        # === Config ===
        self._label_names = tuple(labels)
        self.dropout = float(dropout)
        self.ignore_index = ignore_index
        self.word_splitter = word_splitter
        self.head = head
        self.context = context
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
    def context(self):
        """The sub-tokens of context the model reads on each side of a sentence."""
        return self._context

    @context.setter
    def context(self, value):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"`context` must be an int of at least 0. Received: context={value!r}")
        self._context = value

    @property
    def num_labels(self):
        return len(self._label_names)

    @property
    def id2label(self):
        return dict(enumerate(self._label_names))

    @property
    def label2id(self):
        return {label: i for i, label in enumerate(self._label_names)}

    def max_input_length(self, requested=None):
        """The longest input in sub-tokens the model takes: `requested` if given (checked), else
        the smallest of 512, the encoder's positions and the tokenizer's `model_max_length`."""
        limits = [512, int(getattr(self.encoder.config, "max_position_embeddings", 512))]
        if self.tokenizer is not None:
            limits.append(int(self.tokenizer.model_max_length))
        longest = min(limits)
        if requested is not None and requested > longest:
            raise ValueError(f"`max_length` must be at most {longest} for this model. Received: max_length={requested}")
        return requested or longest

    def transition_scores(self):
        """The CRF head's learned `(start, transitions, end)` scores as numpy arrays, or None
        with the softmax head (see `kerasner.decode_words`)."""
        if self.crf is None:
            return None
        return tuple(weight.numpy() for weight in (self.crf.start_scores, self.crf.transitions, self.crf.end_scores))

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
            encoder_inputs["inputs_embeds"] = embed_tokens(table, input_ids, self.compute_dtype)
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
            inputs_embeds=None if table is None else embed_tokens(table, inputs["input_ids"], self.compute_dtype),
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

        The encoder must take `inputs_embeds`. `embed_tokens` gathers the rows from a dense read
        (the encoder's own lookup would put the variable in copy-on-read mode) and casts only
        them to the compute dtype.
        """
        if "inputs_embeds" not in inspect.signature(self.encoder.call).parameters:
            return None
        try:
            table = getattr(self.encoder.get_input_embeddings(), "weight", None)
        except NotImplementedError:
            return None
        return table if isinstance(table, tf.Variable) else None

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
            loss: Defaults to `MaskedSparseCategoricalCrossentropy(ignore_index)`. The CRF head
                has its own loss (`compute_loss`) and takes none.
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
        if loss is not None and self.crf is not None:
            raise ValueError("The CRF head trains on its own negative log-likelihood; compile it without `loss`")
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
        return tf.reduce_sum(labelled_mask(y, self.ignore_index, sample_weight))

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

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):
        """The compiled loss; with the CRF head, its negative log-likelihood per labelled word
        (`LinearChainCRF.loss`), each packed sentence its own chain. As tf-keras' compiled loss,
        it is divided by the replicas in sync, whose gradients a strategy sums."""
        if self.crf is None:
            return super().compute_loss(x, y, y_pred, sample_weight)
        segment_ids = x.get("segment_ids") if isinstance(x, Mapping) else None
        loss = self.crf.loss(y_pred, y, self.ignore_index, segment_ids, sample_weight)
        if self.losses:
            loss = loss + tf.add_n(self.losses)
        self._crf_loss.update_state(loss, sample_weight=tf.shape(y)[0])
        return loss / tf.distribute.get_strategy().num_replicas_in_sync

    @property
    def metrics(self):
        # With the CRF head, its loss tracker first, compiled or not, so that a `.keras` file
        # finds it at the same place when it is saved and loaded.
        return ([self._crf_loss] if self.crf is not None else []) + super().metrics

    def compute_metrics(self, x, y, y_pred, sample_weight):
        self._update_metrics(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def _update_metrics(self, y, y_pred, sample_weight):
        """Updates the compiled metrics on labelled positions only."""
        self.compiled_metrics.update_state(tf.maximum(y, 0), y_pred, labelled_mask(y, self.ignore_index, sample_weight))

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
            "head": self.head,
            "context": self.context,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        encoder = config.pop("encoder")
        if isinstance(encoder, Mapping):
            encoder = saving.encoder_class(encoder["class_name"]).from_config(encoder["config"])
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
        saving.save_pretrained(self, directory, tokenizer, plain_head=self._has_plain_head())

    def _has_plain_head(self):
        """Whether the head is this class's: dropout and a linear `classifier` on each position, as
        in transformers' token-classification models."""
        own_head = type(self).classify is BertTokenClassifier.classify and type(self).call is BertTokenClassifier.call
        classifier = self.classifier
        return own_head and isinstance(classifier, keras.layers.Dense) and classifier.activation is keras.activations.linear

    @classmethod
    def from_pretrained(
        cls, name_or_dir, labels=None, dropout=0.1, ignore_index=-100, tokenizer=None, word_splitter="treebank",
        head="softmax", **kwargs,
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
            head: `"softmax"` or `"crf"`, for a new head (a saved model keeps its own). Defaults
                to `"softmax"`.
            **kwargs: passed to `transformers.TFAutoModel.from_pretrained` for an encoder.
        """
        return saving.from_pretrained(
            cls, name_or_dir, labels, dropout=dropout, ignore_index=ignore_index, tokenizer=tokenizer,
            word_splitter=word_splitter, head=head, **kwargs,
        )
