import pytest

import kerasner
from kerasner.training_plan import plan_training


@pytest.mark.parametrize(
    "steps_per_epoch, epochs, why",
    [
        (106, 10, "the fewest for at least 1,000 optimizer steps"),  # WNUT-17 at batch 32
        (1199, 3, "at least 3 epochs; 3 already give 1,000+ steps"),  # GMB's 80% at batch 32
        (400, 3, "at least 3 epochs"),
        (20, 20, "capped by max_epochs 20 (it would take 50 for 1,000 steps)"),
    ],
)
def test_a_planned_run_gets_three_epochs_and_a_thousand_steps_at_least(steps_per_epoch, epochs, why):
    plan = plan_training(steps_per_epoch)
    assert plan.epochs == epochs and plan.steps == epochs * steps_per_epoch
    assert plan.patience == 2 and plan.start_from_epoch == 3
    assert why in plan.reason and f"planned {epochs} epochs" in plan.reason


def test_given_epochs_are_exact_and_max_epochs_caps_a_plan():
    exact = plan_training(106, epochs=4)
    assert (exact.epochs, exact.patience, exact.start_from_epoch) == (4, None, 0)
    assert exact.reason == "4 epochs as given."
    assert plan_training(106, epochs=4, patience=1).patience == 1
    capped = plan_training(106, max_epochs=5, patience=3)
    assert (capped.epochs, capped.patience, capped.start_from_epoch) == (5, 3, 3)
    assert plan_training(106, max_epochs=2).start_from_epoch == 2
    assert plan_training(1199).to_dict() == {
        "epochs": 3, "steps_per_epoch": 1199, "patience": 2, "start_from_epoch": 3, "steps": 3597,
        "reason": plan_training(1199).reason,
    }


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 3, "max_epochs": 5}, "not both"),
        ({"epochs": 0}, "Received: epochs=0"),
        ({"max_epochs": 2.5}, "Received: max_epochs=2.5"),
        ({"patience": 0}, "Received: patience=0"),
    ],
)
def test_bad_plans_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plan_training(100, **kwargs)


@pytest.mark.parametrize("width, rate", [(768, 5e-5), (384, 1e-4), (1024, 3.75e-5), (256, 1.5e-4), (32, 3e-4), (4096, 1e-5)])
def test_learning_rate_scales_inversely_with_the_encoder_width(width, rate):
    assert kerasner.default_learning_rate(width) == pytest.approx(rate)
