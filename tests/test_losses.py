import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from kerasner import MaskedSparseCategoricalCrossentropy


def hand_loss(y, logits, ignore_index=-100):
    total, count = 0.0, 0
    for b in range(y.shape[0]):
        for t in range(y.shape[1]):
            if y[b, t] == ignore_index:
                continue
            z = logits[b, t] - logits[b, t].max()
            total += -(z[y[b, t]] - np.log(np.exp(z).sum()))
            count += 1
    return total / max(count, 1)


def example(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(3, 7, 5)).astype("float32")
    y = rng.integers(0, 5, size=(3, 7)).astype("int32")
    y[0, 4:] = -100
    y[1, ::2] = -100
    return y, logits


def test_loss_equals_hand_computation():
    y, logits = example()
    loss = MaskedSparseCategoricalCrossentropy()(y, logits)
    np.testing.assert_allclose(loss.numpy(), hand_loss(y, logits), rtol=1e-5)


def test_loss_and_gradients_ignore_masked_positions():
    y, logits = example()
    changed = logits.copy()
    changed[y == -100] = np.random.default_rng(1).normal(scale=50.0, size=changed[y == -100].shape)
    loss_fn = MaskedSparseCategoricalCrossentropy()

    def loss_and_grad(values):
        variable = tf.Variable(values)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, variable)
        return loss.numpy(), tape.gradient(loss, variable).numpy()

    loss_a, grad_a = loss_and_grad(logits)
    loss_b, grad_b = loss_and_grad(changed)
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    np.testing.assert_allclose(grad_a, grad_b, atol=1e-7)
    assert np.all(grad_a[y == -100] == 0.0)
    assert np.any(grad_a[y != -100] != 0.0)


def test_loss_does_not_shrink_with_padding():
    y, logits = example()
    padded_y = np.concatenate([y, np.full((3, 20), -100, "int32")], axis=1)
    padded_logits = np.concatenate([logits, np.zeros((3, 20, 5), "float32")], axis=1)
    loss_fn = MaskedSparseCategoricalCrossentropy()
    np.testing.assert_allclose(loss_fn(padded_y, padded_logits).numpy(), loss_fn(y, logits).numpy(), rtol=1e-6)


def test_all_masked_batch_gives_zero():
    y = np.full((2, 4), -100, "int32")
    assert MaskedSparseCategoricalCrossentropy()(y, np.ones((2, 4, 3), "float32")).numpy() == 0.0


def test_custom_ignore_index_and_sample_weight():
    y, logits = example()
    y2 = np.where(y == -100, -1, y)
    loss_fn = MaskedSparseCategoricalCrossentropy(ignore_index=-1)
    np.testing.assert_allclose(loss_fn(y2, logits).numpy(), hand_loss(y, logits), rtol=1e-5)
    # A weight of 0 on a whole sequence drops it from sum and count.
    weighted = loss_fn(y2, logits, sample_weight=np.array([1.0, 1.0, 0.0], "float32"))
    np.testing.assert_allclose(weighted.numpy(), hand_loss(y[:2], logits[:2]), rtol=1e-5)


def test_loss_under_xla():
    y, logits = example()
    loss_fn = MaskedSparseCategoricalCrossentropy()
    compiled = tf.function(lambda a, b: loss_fn(a, b), jit_compile=True)
    np.testing.assert_allclose(compiled(y, logits).numpy(), hand_loss(y, logits), rtol=1e-5)


def test_loss_serializes():
    loss_fn = MaskedSparseCategoricalCrossentropy(ignore_index=-1)
    config = json.loads(json.dumps(keras.losses.serialize(loss_fn)))
    restored = keras.losses.deserialize(config)
    assert isinstance(restored, MaskedSparseCategoricalCrossentropy)
    assert restored.ignore_index == -1


def test_bad_ignore_index():
    with pytest.raises(ValueError, match="Received: ignore_index='x'"):
        MaskedSparseCategoricalCrossentropy(ignore_index="x")
