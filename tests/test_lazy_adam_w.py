import numpy as np
import tensorflow as tf
import tf_keras as keras

import kerasner


def two_steps(optimizer, gradients):
    table = tf.Variable(np.arange(24, dtype="float32").reshape(6, 4) / 10, name="word_embeddings")
    dense = tf.Variable(np.ones((3, 2), "float32"), name="kernel")
    for make_gradient in gradients:
        optimizer.apply_gradients([(make_gradient(), table), (tf.constant(np.full((3, 2), 0.5, "float32")), dense)])
    return table.numpy(), dense.numpy()


def sparse(indices, seed):
    values = np.random.default_rng(seed).normal(size=(len(indices), 4)).astype("float32")
    return lambda: tf.IndexedSlices(tf.constant(values), tf.constant(indices, tf.int64), tf.constant([6, 4], tf.int64))


def test_matches_adamw_on_touched_rows_and_leaves_the_others():
    # Rows 1 and 3 are looked up (row 3 twice) in both steps; rows 0, 2, 4, 5 never.
    gradients = [sparse([1, 3, 3], 0), sparse([3, 1], 1)]
    lazy_table, lazy_dense = two_steps(kerasner.LazyAdamW(0.1, weight_decay=0.05), gradients)
    full_table, full_dense = two_steps(keras.optimizers.AdamW(0.1, weight_decay=0.05), gradients)
    np.testing.assert_allclose(lazy_dense, full_dense, rtol=1e-5)  # dense gradients: AdamW (fused kernel)
    np.testing.assert_allclose(lazy_table[[1, 3]], full_table[[1, 3]], rtol=1e-5)
    untouched = [0, 2, 4, 5]
    np.testing.assert_array_equal(lazy_table[untouched], np.arange(24, dtype="float32").reshape(6, 4)[untouched] / 10)
    assert not np.allclose(full_table[untouched], lazy_table[untouched])  # AdamW decays them


def test_create_optimizer_lazy_and_fit(tiny_encoder_dir, labels):
    from conftest import random_batch

    optimizer = kerasner.create_optimizer(1e-3, total_steps=10, lazy=True)
    assert isinstance(optimizer, kerasner.LazyAdamW)
    model = kerasner.BertTokenClassifier.from_pretrained(tiny_encoder_dir, labels=labels)
    x, y = random_batch(batch=8, seed=5)
    model.compile(optimizer)
    history = model.fit(x, y, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
