"""The usual BERT fine-tuning schedule: linear warm-up, then linear decay."""

import tensorflow as tf
import tf_keras as keras


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
    from kerasner.fused_adam_w import FusedAdamW
    from kerasner.lazy_adam_w import LazyAdamW

    optimizer_class = LazyAdamW if lazy else FusedAdamW
    optimizer = optimizer_class(learning_rate=rate, weight_decay=weight_decay, **kwargs)
    optimizer.exclude_from_weight_decay(var_names=list(NO_WEIGHT_DECAY))
    return optimizer
