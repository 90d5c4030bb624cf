"""How long and how fast to fine-tune: kerasner's defaults, from the corpus size and the encoder."""

import dataclasses
import math

# A run with no epoch count trains at least MIN_EPOCHS epochs and MIN_STEPS optimizer steps, at most
# MAX_EPOCHS epochs, and stops once PATIENCE epochs in a row bring no better validation entity F1.
MIN_EPOCHS = 3
MIN_STEPS = 1000
MAX_EPOCHS = 20
PATIENCE = 2
# The peak learning rate of a pretrained encoder of width `hidden_size` is
# REFERENCE_LEARNING_RATE * REFERENCE_WIDTH / hidden_size, within LEARNING_RATE_BOUNDS.
REFERENCE_LEARNING_RATE = 5e-5
REFERENCE_WIDTH = 768
LEARNING_RATE_BOUNDS = (1e-5, 3e-4)


def default_learning_rate(hidden_size):
    """The peak learning rate kerasner fine-tunes a pretrained encoder of this width with.

    5e-5 for a 768-wide encoder (BERT-base), scaled inversely with the width: 1e-4 at 384
    (MiniLM-L6), 3.75e-5 at 1024 (BERT-large), kept within 1e-5 and 3e-4.
    """
    hidden_size = int(hidden_size)
    if hidden_size < 1:
        raise ValueError(f"`hidden_size` must be a positive int. Received: hidden_size={hidden_size!r}")
    low, high = LEARNING_RATE_BOUNDS
    return min(max(REFERENCE_LEARNING_RATE * REFERENCE_WIDTH / hidden_size, low), high)


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """How many epochs a run plans, and when it may stop early.

    Attributes:
        epochs: int. Planned epochs; the warm-up and the decay of the learning rate span them.
        steps_per_epoch: int. Optimizer steps in one epoch.
        patience: int or None. Stop once this many epochs in a row bring no better validation
            entity F1; None trains every planned epoch.
        start_from_epoch: int. Early stopping waits until this many epochs are done.
        reason: str. The plan in words, for the run's log.
    """

    epochs: int
    steps_per_epoch: int
    patience: int | None
    start_from_epoch: int
    reason: str

    @property
    def steps(self):
        return self.epochs * self.steps_per_epoch

    def to_dict(self):
        return {**dataclasses.asdict(self), "steps": self.steps}


def plan_training(steps_per_epoch, epochs=None, max_epochs=None, patience=None):
    """The training length of a run with `steps_per_epoch` optimizer steps an epoch.

    With `epochs`, the run trains exactly that many (and stops early only if `patience` is given).
    Without, it plans the fewest epochs that give at least `MIN_EPOCHS` (3) epochs and `MIN_STEPS`
    (1,000) optimizer steps, at most `max_epochs` (20), and stops once `patience` (2) epochs in a
    row bring no better validation entity F1, counted from epoch 3. A small corpus thus gets
    enough optimizer steps, and a large one its 3 epochs.

    Args:
        steps_per_epoch: int. Optimizer steps in one epoch.
        epochs: int or None. An exact number of epochs. Defaults to None.
        max_epochs: int or None. The most epochs a planned run may take. Defaults to `MAX_EPOCHS`.
        patience: int or None. Epochs without a better F1 before stopping. Defaults to
            `PATIENCE` for a planned run and to None (no early stop) with `epochs`.

    Returns:
        A `TrainingPlan`.
    """
    steps_per_epoch = max(int(steps_per_epoch), 1)
    for name, value in (("epochs", epochs), ("max_epochs", max_epochs), ("patience", patience)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise ValueError(f"`{name}` must be a positive int or None. Received: {name}={value!r}")
    if epochs is not None:
        if max_epochs is not None:
            raise ValueError(f"Pass `epochs` or `max_epochs`, not both. Received: epochs={epochs}, max_epochs={max_epochs}")
        reason = f"{epochs} epochs as given"
        if patience is not None:
            reason += f", stopping early after {patience} epochs without a better validation entity F1"
        return TrainingPlan(int(epochs), steps_per_epoch, patience, 0, reason + ".")
    max_epochs = MAX_EPOCHS if max_epochs is None else int(max_epochs)
    patience = PATIENCE if patience is None else int(patience)
    wanted = max(MIN_EPOCHS, math.ceil(MIN_STEPS / steps_per_epoch))
    planned = min(wanted, max_epochs)
    if wanted > max_epochs:
        why = f"capped by max_epochs {max_epochs} (it would take {wanted} for {MIN_STEPS:,} steps)"
    elif wanted > MIN_EPOCHS:
        why = f"the fewest for at least {MIN_STEPS:,} optimizer steps"
    else:
        why = f"at least {MIN_EPOCHS} epochs; {MIN_EPOCHS} already give {MIN_STEPS:,}+ steps"
    start = min(MIN_EPOCHS, planned)
    reason = (
        f"planned {planned} epochs of {steps_per_epoch:,} steps ({planned * steps_per_epoch:,} steps): {why}; "
        f"stops once {patience} epochs in a row bring no better validation entity F1 (from epoch {start} on)."
    )
    return TrainingPlan(planned, steps_per_epoch, patience, start, reason)
