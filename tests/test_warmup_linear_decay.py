import numpy as np
import pytest
import tf_keras as keras

from kerasner import WarmupLinearDecay, create_optimizer


def test_schedule_shape():
    schedule = WarmupLinearDecay(1.0, total_steps=10, warmup_steps=2)
    rates = [float(schedule(step)) for step in range(12)]
    np.testing.assert_allclose(rates, [0.0, 0.5, 1.0, 0.875, 0.75, 0.625, 0.5, 0.375, 0.25, 0.125, 0.0, 0.0])


def test_schedule_round_trip():
    schedule = WarmupLinearDecay(3e-5, total_steps=100, warmup_steps=10, end_learning_rate=1e-6)
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert restored.get_config() == schedule.get_config()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"total_steps": 0}, "total_steps"),
        ({"total_steps": 10, "warmup_steps": 11}, "warmup_steps"),
        ({"total_steps": 10, "peak_learning_rate": 0.0}, "peak_learning_rate"),
    ],
)
def test_schedule_rejects_bad_arguments(kwargs, message):
    kwargs = {"peak_learning_rate": 1e-3, **kwargs}
    with pytest.raises(ValueError, match=message):
        WarmupLinearDecay(**kwargs)


def test_create_optimizer():
    optimizer = create_optimizer(1e-4, total_steps=100, warmup_ratio=0.1, weight_decay=0.02)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer._learning_rate.warmup_steps == 10
    assert optimizer.weight_decay == pytest.approx(0.02)
    with pytest.raises(ValueError, match="warmup_ratio"):
        create_optimizer(total_steps=10, warmup_ratio=1.5)
