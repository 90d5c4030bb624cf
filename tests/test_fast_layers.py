"""BitDropout: Keras' dropout with a mask drawn from 16 random bits a value."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import kerasner
from conftest import LABELS, make_encoder
from kerasner.fast_layers import RESOLUTION, BitDropout, FlatDense, use_fast_layers


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_drops_the_rate_and_keeps_the_expected_value(rate):
    keras.utils.set_random_seed(0)
    layer = BitDropout(rate)
    x = tf.ones((500, 1001))  # an odd size: the last 32-bit word is half used
    y = layer(x, training=True).numpy()
    threshold = round(rate * RESOLUTION)
    dropped = threshold / RESOLUTION
    assert (y == 0).mean() == pytest.approx(dropped, abs=4 * np.sqrt(dropped * (1 - dropped) / x.shape.num_elements()))
    np.testing.assert_allclose(np.unique(y[y != 0]), [RESOLUTION / (RESOLUTION - threshold)], rtol=1e-6)
    assert y.mean() == pytest.approx(1.0, abs=0.01)


def test_inference_and_rate_0_pass_the_input_through():
    x = tf.random.normal((4, 7, 5))
    np.testing.assert_array_equal(BitDropout(0.3)(x, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(BitDropout(0.0)(x, training=True).numpy(), x.numpy())


def test_masks_differ_between_calls_and_repeat_under_the_same_seed():
    x = tf.ones((64, 64))
    runs = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        layer = BitDropout(0.5)
        step = tf.function(lambda inputs: layer(inputs, training=True))
        runs.append([step(x).numpy() for _ in range(2)])
    (first, second), (again, _) = runs
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, again)


def test_gradient_is_the_mask_times_the_scale():
    layer = BitDropout(0.25, dtype="mixed_bfloat16")
    x = tf.random.normal((32, 48), dtype=tf.bfloat16)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        total = tf.reduce_sum(tf.cast(y, tf.float32))
    assert y.dtype == tf.bfloat16
    gradient = tape.gradient(total, x).numpy().astype(np.float32)
    kept = y.numpy().astype(np.float32) != 0
    scale = RESOLUTION / (RESOLUTION - round(0.25 * RESOLUTION))
    np.testing.assert_allclose(gradient[kept], np.float32(tf.cast(scale, tf.bfloat16).numpy()), rtol=1e-6)
    assert (gradient[~kept & (x.numpy() != 0)] == 0).all()


def test_a_noise_shape_falls_back_to_keras_dropout():
    keras.utils.set_random_seed(0)
    y = BitDropout(0.5, noise_shape=(4, 1))(tf.ones((4, 6)), training=True).numpy()
    assert all(len(set(row)) == 1 for row in y)  # whole rows kept or dropped


def test_the_classifier_uses_it_everywhere_and_its_config_is_keras():
    model = kerasner.BertTokenClassifier(make_encoder(60, 0), labels=LABELS)
    kinds = [type(layer) for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dropout)]
    assert kinds and set(kinds) == {BitDropout}
    assert use_fast_layers(model.encoder) == 0  # already done
    assert BitDropout.from_config(model.dropout_layer.get_config()).rate == 0.1


@pytest.mark.parametrize("shape", [(6, 8), (3, 5, 8), (2, 3, 4, 8)])
def test_flat_dense_computes_keras_dense(shape):
    x = tf.random.normal(shape, seed=1)
    keras_dense = keras.layers.Dense(5, activation="gelu")
    keras_dense.build(shape)
    flat = FlatDense.from_config(keras_dense.get_config())
    flat.build(shape)
    flat.set_weights(keras_dense.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours, theirs = flat(x), keras_dense(x)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    for ours_grad, theirs_grad in zip(tape.gradient(ours, [x, flat.kernel]), tape.gradient(theirs, [x, keras_dense.kernel])):
        np.testing.assert_allclose(ours_grad.numpy(), theirs_grad.numpy(), atol=1e-5)


def test_the_encoder_computes_the_same_function_and_its_dense_layers_fuse():
    x = {"input_ids": tf.constant([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0]]),
         "attention_mask": tf.constant([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]])}
    plain, fast = make_encoder(60, 0), make_encoder(60, 0)
    plain(x), fast(x)
    fast.set_weights(plain.get_weights())
    assert use_fast_layers(fast) > 0
    np.testing.assert_allclose(fast(x).last_hidden_state.numpy(), plain(x).last_hidden_state.numpy(), atol=1e-5)
    intermediate = fast.bert.encoder.layer[0].intermediate
    assert isinstance(intermediate.dense, FlatDense) and intermediate.dense.activation is not keras.activations.linear
    # In inference, TensorFlow's graph optimizer leaves no BiasAdd: each is fused into its matmul.
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.grappler import tf_optimizer

    function = tf.function(lambda inputs: fast(inputs).last_hidden_state).get_concrete_function(x)
    graph_def = function.graph.as_graph_def()
    for node in graph_def.node:
        node.device = "/device:CPU:0"
    meta = tf.compat.v1.train.export_meta_graph(graph_def=graph_def, graph=function.graph)
    meta.collection_def["train_op"].node_list.value.append(function.outputs[0].name)
    kinds = {node.op for node in tf_optimizer.OptimizeGraph(config_pb2.ConfigProto(), meta).node}
    assert "BiasAdd" not in kinds and "_FusedMatMul" in kinds
