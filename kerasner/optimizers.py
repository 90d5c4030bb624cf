"""AdamW for fine-tuning BERT: a fused update, a lazy update of embedding rows, warm-up + linear decay."""

import tensorflow as tf
import tf_keras as keras

@keras.saving.register_keras_serializable(package="kerasner")
class FusedAdamW(keras.optimizers.AdamW):
    """tf-keras' AdamW, computed by TensorFlow's fused `ResourceApplyAdam` kernel.

    The update is AdamW's, equal to float rounding (the same moments, bias correction, epsilon and
    decoupled weight decay), but the moments and the weight are updated in place in one pass, where
    tf-keras' `update_step` builds four to six temporaries the size of each weight. For the word embeddings
    of a BERT vocabulary (11.7M weights, 47 MB) those temporaries are a large share of a CPU
    training step. A sparse gradient (`IndexedSlices` of an embedding lookup) is summed into one
    dense gradient first, as AdamW's update of every row requires. The decoupled weight decay is
    one scaling, `w <- w * (1 - lr * wd)`, whose result becomes the weight's buffer, where tf-keras
    computes `w * wd * lr` and subtracts it (two temporaries and three passes over the weight).

    Takes the arguments of `tf_keras.optimizers.AdamW`; `amsgrad` is not supported.

    Example:
    ```python
    model.compile(kerasner.FusedAdamW(learning_rate=5e-5, weight_decay=0.01))
    ```
    """

    def __init__(self, *args, amsgrad=False, **kwargs):
        if amsgrad:
            raise ValueError("FusedAdamW does not support `amsgrad=True`; use tf_keras.optimizers.AdamW")
        super().__init__(*args, amsgrad=False, **kwargs)
        if getattr(self, "adaptive_epsilon", False):
            raise ValueError("FusedAdamW does not support `adaptive_epsilon`; use tf_keras.optimizers.AdamW")

    def _apply_weight_decay(self, variables):
        if self.weight_decay is None:
            return

        def distributed_decay(distribution, variables, **kwargs):
            # The share of each decayed weight kept, 1 - lr * wd: one schedule evaluation a step.
            keep = 1 - tf.cast(self.learning_rate, tf.float32) * tf.cast(self.weight_decay, tf.float32)
            for variable in variables:
                if self._use_weight_decay(variable):
                    distribution.extended.update(variable, self._decay, args=(keep,), group=False)

        tf.__internal__.distribute.interim.maybe_merge_call(distributed_decay, self._distribution_strategy, variables)

    @staticmethod
    def _decay(variable, keep):
        # The product is a new tensor that the assignment adopts as the weight's buffer.
        variable.assign(variable * tf.cast(keep, variable.dtype))

    def update_step(self, gradient, variable):
        dtype = variable.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1 = tf.cast(self.beta_1, dtype)
        beta_2 = tf.cast(self.beta_2, dtype)
        index = self._index_dict[self._var_key(variable)]
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.convert_to_tensor(gradient)  # sums repeated rows
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=tf.pow(beta_1, local_step),
            beta2_power=tf.pow(beta_2, local_step),
            lr=tf.cast(self.learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype),
            grad=gradient,
        )


@keras.saving.register_keras_serializable(package="kerasner")
class LazyAdamW(FusedAdamW):
    """AdamW whose sparse updates (embedding lookups) touch only the rows in the batch.

    For a dense gradient the update is AdamW's, by `FusedAdamW`'s fused kernel. For a sparse
    gradient (the word embeddings' `IndexedSlices`) the moments, the weight decay and the step are
    applied to the looked-up rows only, as TensorFlow Addons' LazyAdam does; rows a batch does not
    use keep their moments and are not decayed that step. tf-keras' AdamW instead rewrites the whole table and
    both moment tables every step: for a BERT vocabulary that is 11.7M weights of the 22.7M in a
    6-layer 384-wide encoder, a large fixed cost per step on a CPU.

    Takes the arguments of `tf_keras.optimizers.AdamW`.

    Example:
    ```python
    model.compile(kerasner.create_optimizer(5e-5, total_steps=1000, lazy=True))
    ```
    """

    def _apply_weight_decay(self, variables):
        # Decay is applied in `update_step`, to the rows a sparse gradient touches.
        return

    def update_step(self, gradient, variable):
        lr = tf.cast(self.learning_rate, variable.dtype)
        decay = self.weight_decay is not None and self._use_weight_decay(variable)
        if not isinstance(gradient, tf.IndexedSlices):
            if decay:
                self._decay(variable, 1 - lr * tf.cast(self.weight_decay, variable.dtype))
            return super().update_step(gradient, variable)
        local_step = tf.cast(self.iterations + 1, variable.dtype)
        beta_1 = tf.cast(self.beta_1, variable.dtype)
        beta_2 = tf.cast(self.beta_2, variable.dtype)
        alpha = lr * tf.sqrt(1 - tf.pow(beta_2, local_step)) / (1 - tf.pow(beta_1, local_step))
        var_key = self._var_key(variable)
        m = self._momentums[self._index_dict[var_key]]
        v = self._velocities[self._index_dict[var_key]]
        rows, positions = tf.unique(gradient.indices)  # a token repeated in the batch adds up
        values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(rows)[0])  # (rows, width)
        m_rows = tf.gather(m, rows) * beta_1 + values * (1 - beta_1)
        v_rows = tf.gather(v, rows) * beta_2 + tf.square(values) * (1 - beta_2)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        step = alpha * m_rows / (tf.sqrt(v_rows) + self.epsilon)
        if decay:
            step += tf.gather(variable, rows) * tf.cast(self.weight_decay, variable.dtype) * lr
        variable.scatter_sub(tf.IndexedSlices(step, rows))


@keras.saving.register_keras_serializable(package="kerasner")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Learning rate rising linearly from 0 to `peak_learning_rate`, then falling linearly.

    Over the first `warmup_steps` steps the rate grows from 0 to `peak_learning_rate`; it then
    decays linearly to `end_learning_rate` at `total_steps` and stays there.

    Args:
        peak_learning_rate: float. Rate at the end of warm-up.
        total_steps: int. Number of optimizer steps of the whole run.
        warmup_steps: int. Steps of linear warm-up. Defaults to `0`.
        end_learning_rate: float. Rate at `total_steps`. Defaults to `0.0`.

    Example:
    ```python
    schedule = kerasner.WarmupLinearDecay(5e-5, total_steps=1000, warmup_steps=100)
    ```
    """

    def __init__(self, peak_learning_rate, total_steps, warmup_steps=0, end_learning_rate=0.0):
        if total_steps is None or int(total_steps) < 1:
            raise ValueError(f"`total_steps` must be a positive int. Received: total_steps={total_steps!r}")
        if not 0 <= int(warmup_steps) <= int(total_steps):
            raise ValueError(
                "`warmup_steps` must be between 0 and `total_steps` "
                f"({total_steps}). Received: warmup_steps={warmup_steps!r}"
            )
        if peak_learning_rate <= 0:
            raise ValueError(
                f"`peak_learning_rate` must be positive. Received: peak_learning_rate={peak_learning_rate!r}"
            )
        self.peak_learning_rate = float(peak_learning_rate)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.end_learning_rate = float(end_learning_rate)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        peak, end = self.peak_learning_rate, self.end_learning_rate
        warmup = float(self.warmup_steps)
        warm_rate = peak * step / max(warmup, 1.0)
        remaining = tf.clip_by_value((self.total_steps - step) / max(self.total_steps - warmup, 1.0), 0.0, 1.0)
        decay_rate = end + (peak - end) * remaining
        return tf.where(step < warmup, warm_rate, decay_rate)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "end_learning_rate": self.end_learning_rate,
        }


# Weights whose names hold these are not decayed: biases and LayerNorm, as in BERT's recipe.
NO_WEIGHT_DECAY = ("LayerNorm", "layer_norm", "bias")


def create_optimizer(
    learning_rate=5e-5,
    total_steps=None,
    warmup_ratio=0.1,
    weight_decay=0.01,
    end_learning_rate=0.0,
    lazy=False,
    **kwargs,
):
    """AdamW with the BERT fine-tuning schedule; no weight decay on biases and LayerNorm.

    The optimizer is `FusedAdamW` (tf-keras' AdamW computed in place by one fused kernel), or
    with `lazy=True` `LazyAdamW`.

    Args:
        learning_rate: float. Peak learning rate. Defaults to `5e-5`.
        total_steps: int or None. Optimizer steps of the run; `None` keeps the rate constant.
            Defaults to `None`.
        warmup_ratio: float in [0, 1]. Share of `total_steps` spent warming up. Defaults to `0.1`.
        weight_decay: float. Decoupled weight decay. Defaults to `0.01`.
        end_learning_rate: float. Rate at the last step. Defaults to `0.0`.
        lazy: bool. Update only the embedding rows each batch uses (`LazyAdamW`). Defaults to False.
        **kwargs: passed to the optimizer, as to `tf_keras.optimizers.AdamW` (e.g. `epsilon`,
            `clipnorm`).

    Example:
    ```python
    steps = epochs * len(train_batches)
    model.compile(kerasner.create_optimizer(3e-5, total_steps=steps))
    ```
    """
    if not 0.0 <= warmup_ratio <= 1.0:
        raise ValueError(f"`warmup_ratio` must be in [0, 1]. Received: warmup_ratio={warmup_ratio!r}")
    rate = learning_rate
    if total_steps is not None:
        rate = WarmupLinearDecay(
            learning_rate,
            total_steps=total_steps,
            warmup_steps=int(round(warmup_ratio * int(total_steps))),
            end_learning_rate=end_learning_rate,
        )
    optimizer_class = LazyAdamW if lazy else FusedAdamW
    optimizer = optimizer_class(learning_rate=rate, weight_decay=weight_decay, **kwargs)
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer
