"""Drop-in versions of Keras' Dropout and Dense that cost a BERT step less, and the swap into them.

Both keep their Keras class's arguments, weights and names; `use_fast_layers` turns the layers of
an encoder of transformers into them in place.
"""

import numbers

import tensorflow as tf
import tf_keras as keras

# Rates are rounded to a multiple of 1 / 2**16: 0.1 keeps 58,982 of 65,536 values (0.100006 dropped).
RESOLUTION = 2**16


@keras.saving.register_keras_serializable(package="kerasner")
class BitDropout(keras.layers.Dropout):
    """`tf_keras.layers.Dropout` with a cheaper mask: the same layer, arguments and weights.

    Keras' dropout draws a float32 uniform value for every input value, compares it with the rate,
    scales and selects: four passes over float32 tensors of the input's size. This one draws one
    32-bit random integer for every two values, reads it as two 16-bit integers and keeps a value
    whose integer is at or above `round(rate * 2**16)`: half the random draws, and no float
    uniform to make and compare. The rate is rounded to a multiple of 1 / 65,536 and kept values
    are scaled by the inverse of the rounded keep rate, so the expected output is the input, as
    with Keras'.

    A `noise_shape`, or a rate given as a tensor, falls back to Keras' own dropout.
    """

    def call(self, inputs, training=None):
        if self.noise_shape is not None or not isinstance(self.rate, numbers.Real):
            return super().call(inputs, training=training)
        if self.rate == 0:
            return tf.identity(inputs)
        if training is None:
            training = keras.backend.learning_phase()
        if isinstance(training, bool):
            return self._drop(inputs) if training else tf.identity(inputs)
        return tf.cond(tf.cast(training, tf.bool), lambda: self._drop(inputs), lambda: tf.identity(inputs))

    def _drop(self, inputs):
        threshold = round(self.rate * RESOLUTION)
        if threshold >= RESOLUTION:
            return tf.zeros_like(inputs)
        size = tf.size(inputs)
        bits = tf.reshape(tf.bitcast(self._random_words((size + 1) // 2), tf.uint16), [-1])[:size]
        keep = tf.reshape(bits >= threshold, tf.shape(inputs))
        scale = tf.cast(RESOLUTION / (RESOLUTION - threshold), inputs.dtype)
        return tf.where(keep, inputs * scale, tf.zeros_like(inputs))

    def _random_words(self, count):
        """`count` random int32 over their whole range, from the layer's random generator (as
        Keras' dropout draws its floats: a `tf.random.Generator`, a stateless seed or a stateful op)."""
        generator = self._random_generator
        generator._maybe_init()
        if generator._rng_type == generator.RNG_STATEFUL:
            return generator._generator.uniform_full_int([count], dtype=tf.int32)
        if generator._rng_type == generator.RNG_STATELESS:
            seed = generator.make_seed_for_stateless_op()
            return tf.random.stateless_uniform([count], seed=seed, minval=None, maxval=None, dtype=tf.int32)
        return tf.random.uniform(
            [count], minval=tf.int32.min, maxval=tf.int32.max, dtype=tf.int32, seed=generator.make_legacy_seed()
        )


@keras.saving.register_keras_serializable(package="kerasner")
class FlatDense(keras.layers.Dense):
    """`tf_keras.layers.Dense` that runs inputs of rank 3 or more as one 2-D matmul, bias add and
    activation, then restores the leading axes.

    Keras' Dense runs such inputs through `tf.tensordot`, which puts a reshape between the MatMul
    and the BiasAdd, so TensorFlow's graph optimizer (grappler's remapper) cannot fuse them.
    In 2-D it fuses MatMul + BiasAdd (+ GELU, in inference) into one oneDNN `_FusedMatMul`.
    """

    def call(self, inputs):
        rank = inputs.shape.rank
        if rank is None or rank <= 2 or not isinstance(inputs, tf.Tensor):
            return super().call(inputs)
        if inputs.dtype != self.compute_dtype:
            inputs = tf.cast(inputs, self.compute_dtype)
        outputs = tf.matmul(tf.reshape(inputs, [-1, inputs.shape[-1]]), self.kernel)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        if self.activation is not None:
            outputs = self.activation(outputs)
        outputs = tf.reshape(outputs, tf.concat([tf.shape(inputs)[:-1], [self.units]], axis=0))
        outputs.set_shape(inputs.shape[:-1].concatenate(self.units))
        return outputs


def use_fast_layers(layer):
    """Turns the Keras layers inside `layer` (an encoder of transformers, say) into their faster
    drop-ins, in place; returns how many were turned.

    - every `tf_keras.layers.Dropout` into a `BitDropout`;
    - every `tf_keras.layers.Dense` into a `FlatDense`;
    - a feed-forward block that applies its activation after its dense layer (transformers' BERT
      `intermediate`: `dense`, then `intermediate_act_fn`) gets the activation inside the dense
      layer, so that the matmul, the bias and the GELU fuse.

    Weights, their names and the encoder's config do not change: the model saves and loads as
    before, and computes the same function.
    """
    count = 0
    for sublayer in layer._flatten_layers(include_self=True):
        if type(sublayer) is keras.layers.Dropout:
            sublayer.__class__ = BitDropout
            count += 1
        elif type(sublayer) is keras.layers.Dense:
            sublayer.__class__ = FlatDense
            count += 1
        dense, activation = getattr(sublayer, "dense", None), getattr(sublayer, "intermediate_act_fn", None)
        if isinstance(dense, keras.layers.Dense) and callable(activation) and dense.activation is keras.activations.linear:
            dense.activation = activation
            sublayer.intermediate_act_fn = tf.identity
    return count
