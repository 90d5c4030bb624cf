"""AdamW whose update runs as one fused, in-place TensorFlow kernel per weight."""

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
