"""One training run with kerasner's callbacks: entity F1, best checkpoint, resume, CSV log."""

import math
from pathlib import Path

import tf_keras as keras

from kerasner.callbacks import BestModelCheckpoint, EntityF1Callback, ThroughputCallback
from kerasner.distribution_strategy import is_chief
from kerasner.token_features import POOL_BATCHES
from kerasner.training_plan import default_learning_rate, plan_training
from kerasner.warmup_linear_decay import create_optimizer


def train_token_classifier(
    model,
    train_features,
    validation_features,
    output_dir,
    epochs=None,
    max_epochs=None,
    batch_size=32,
    max_tokens=None,
    pool_batches=None,
    pack=None,
    learning_rate=None,
    warmup_ratio=0.1,
    weight_decay=0.01,
    lazy_embeddings=False,
    gradient_accumulation_steps=1,
    loss_per_position=True,
    strategy=None,
    seed=42,
    patience=None,
    jit_compile=False,
    mode="default",
    decode="viterbi",
    callbacks=(),
    verbose=1,
):
    """Fine-tunes `model`, keeping the best model by validation entity F1 in `output_dir/best`.

    Without `epochs`, the run plans its own length (`kerasner.training_plan.plan_training`): at
    least 3 epochs and 1,000 optimizer steps, at most `max_epochs`, stopping once 2 epochs in a row
    bring no better validation entity F1. The model ends with the weights of its best epoch.

    The run is resumable: it backs up model and optimizer state to `output_dir/backup` at every
    epoch end, and a run started again with the same `output_dir` after a crash or a kill goes on
    from the last completed epoch. `output_dir/history.csv` holds one row per epoch.

    Under a `tf.distribute` strategy, build the model inside `strategy.scope()`; each global
    batch of `batch_size` windows is split across the replicas, and with several workers only the
    chief writes the best model and the history (every worker scores entities, so early stopping
    agrees everywhere).

    Args:
        model: a `BertTokenClassifier`.
        train_features, validation_features: `TokenFeatures` with labels.
        output_dir: path of the run's folder.
        epochs: int or None. Train exactly this many epochs; None plans the length. Defaults to
            None.
        max_epochs: int or None. The most epochs of a planned run. Defaults to `20`.
        batch_size: int. Defaults to `32`.
        max_tokens: int or None. Cut batches by this budget of padded positions (counted a
            window a row, before any packing) instead of `batch_size` windows. Defaults to None.
        pool_batches: int or None. Batches of similar length are cut from pools of this many
            batches of shuffled windows; `1` draws batches at random. None: `1` when packing
            (random batches, little padding), else `16` (length-grouped batches). Defaults to None.
        pack: bool or None. Pack each batch's windows several to a row, each attending only to
            itself (`TokenFeatures.pack`), so that random batches need little padding. None packs
            when the model can (`model.can_pack`: BERT encoders). Defaults to None.
        learning_rate: float or None. Peak rate of the warm-up/linear-decay schedule. None takes
            `kerasner.training_plan.default_learning_rate` of the encoder's width: 5e-5 at 768,
            1e-4 at 384. Defaults to None.
        warmup_ratio: float. Defaults to `0.1`.
        weight_decay: float. Defaults to `0.01`.
        lazy_embeddings: bool. Update only the embedding rows each batch uses (`LazyAdamW`).
            Defaults to False.
        gradient_accumulation_steps: int. Run each optimizer step as this many batches of
            `batch_size` (or `max_tokens`) one after the other and sum their gradients: the
            effective batch is this many times larger, the memory that of one batch. Defaults
            to `1`.
        loss_per_position: bool. Every labelled position of the epoch weighs the same in the
            loss: a step's loss is the sum over its labelled positions divided by the mean
            number of labelled positions a step, rather than the mean over the batch, which
            with length-grouped batches gives positions in batches of short sentences more
            weight. Defaults to True.
        strategy: a `tf.distribute.Strategy` or None. Must be the strategy whose scope the model
            was built in; None uses the model's. Defaults to None.
        seed: int. Seeds batch order and dropout. Defaults to `42`.
        patience: int or None. Epochs without improvement of entity F1 before stopping. None
            means 2 for a planned run and no early stop with `epochs`. Defaults to None.
        jit_compile: bool. Compile the train step with XLA. Defaults to False (slower on CPU).
        mode: seqeval mode of the entity scores, `"default"` or `"strict"`. Defaults to `"default"`.
        decode: how word scores become tags, `"viterbi"` (valid IOB2 sequences) or `"argmax"`.
            Defaults to `"viterbi"`.
        callbacks: more tf-keras callbacks.
        verbose: int. Keras verbosity. Defaults to `1`.

    Returns:
        The `History` of `fit`, with the `EntityF1Callback` as `history.entity_f1`, the
        `TrainingPlan` as `history.plan`, the peak learning rate as `history.learning_rate`, and
        the best and the stopping epoch (1-based, None if it ran every planned epoch) as
        `history.best_epoch` and `history.stopped_epoch`.
    """
    if strategy is None:
        strategy = model.distribute_strategy
    elif strategy is not model.distribute_strategy:
        raise ValueError(
            "The model was not built under `strategy.scope()`; build it there so that its weights "
            f"are placed by the strategy. Received: strategy={type(strategy).__name__}, model built "
            f"under {type(model.distribute_strategy).__name__}"
        )
    pack, pool_batches = resolve_batching(model, pack, pool_batches)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    if not model.built:  # BackupAndRestore restores into built weights
        with strategy.scope():
            model(model.dummy_inputs(), training=False)
    # One optimizer step takes `gradient_accumulation_steps` batches, run as micro-batches.
    step_batch_size = batch_size * gradient_accumulation_steps
    step_max_tokens = None if max_tokens is None else max_tokens * gradient_accumulation_steps
    if max_tokens is None:
        steps_per_epoch = math.ceil(len(train_features) / step_batch_size)
    else:
        steps_per_epoch = len(
            train_features.batch_plan(
                step_batch_size, shuffle=True, seed=seed, pool_batches=pool_batches, max_tokens=step_max_tokens
            )
        )
    plan = plan_training(steps_per_epoch, epochs=epochs, max_epochs=max_epochs, patience=patience)
    if learning_rate is None:
        learning_rate = default_learning_rate(model.encoder.config.hidden_size)
    with strategy.scope():
        model.compile(
            create_optimizer(
                learning_rate,
                total_steps=plan.steps,
                warmup_ratio=warmup_ratio,
                weight_decay=weight_decay,
                lazy=lazy_embeddings,
            ),
            gradient_accumulation_steps=gradient_accumulation_steps,
            labelled_positions_per_step=(
                train_features.labelled_positions() / steps_per_epoch if loss_per_position else None
            ),
            jit_compile=jit_compile,
        )
    chief = is_chief(strategy)
    backup = output_dir / "backup"
    history_file = output_dir / "history.csv"
    resuming = backup.is_dir() and any(backup.iterdir())
    if not resuming and history_file.exists():
        history_file.unlink()  # a new run; the rows of an earlier, finished run are not its history
    entity_f1 = EntityF1Callback(validation_features, mode=mode, decode=decode, verbose=verbose if chief else 0)
    best = BestModelCheckpoint(
        output_dir / "best", resume=resuming, patience=plan.patience, start_from_epoch=plan.start_from_epoch,
        verbose=verbose,
    )
    run_callbacks = [
        ThroughputCallback(train_features.lengths.sum()),
        entity_f1,
        best,
        keras.callbacks.BackupAndRestore(str(backup)),  # handles several workers itself
    ]
    if chief:
        run_callbacks.insert(3, keras.callbacks.CSVLogger(str(history_file), append=True))
    if verbose and chief:
        print(f"training: {plan.reason} Peak learning rate {learning_rate:g}.")
    history = model.fit(
        train_features.to_dataset(
            step_batch_size, shuffle=True, seed=seed, max_tokens=step_max_tokens, pool_batches=pool_batches, pack=pack
        ),
        epochs=plan.epochs,
        callbacks=run_callbacks + list(callbacks),
        verbose=verbose if chief else 0,
    )
    if backup.is_dir() and not any(backup.iterdir()):
        backup.rmdir()
    last_epoch = history.epoch[-1] + 1 if history.epoch else None
    if best.best_epoch is not None and best.best_epoch != last_epoch and (output_dir / "best").is_dir():
        model.set_weights(type(model).from_pretrained(output_dir / "best").get_weights())
    history.entity_f1 = entity_f1
    history.plan = plan
    history.learning_rate = learning_rate
    history.best_epoch = best.best_epoch
    history.stopped_epoch = best.stopped_epoch
    return history


def resolve_batching(model, pack=None, pool_batches=None):
    """`(pack, pool_batches)` with the defaults of `train_token_classifier` filled in."""
    if pack is None:
        pack = model.can_pack
    elif pack and not model.can_pack:
        raise ValueError(
            f"{type(model).__name__} cannot take packed batches: they need a BERT encoder (this one is "
            f"{model.encoder.config.model_type!r}) and a forward pass that keeps each packed window's "
            "attention to itself (a subclass that overrides `call` or `encode` says so with `can_pack`). "
            "Received: pack=True"
        )
    if pool_batches is None:
        pool_batches = 1 if pack else POOL_BATCHES
    return bool(pack), pool_batches
