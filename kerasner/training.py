"""One training run with kerasner's callbacks: entity F1, best checkpoint, resume, CSV log."""

import contextlib
import hashlib
import math
import shutil
from pathlib import Path

import numpy as np
import tf_keras as keras

from kerasner.callbacks import BestModelCheckpoint, EntityF1Callback, ThroughputCallback
from kerasner.callbacks.run_history import EpochSeeds, RunHistory
from kerasner.runtime import is_chief
from kerasner.run_folder import (
    BACKUP_DIR, HISTORY_FILE, STATE_FILE, RunLock, RunState, backed_up_epochs, clear_run, differences,
)
from kerasner.optimizers import create_optimizer
from kerasner.token_features import POOL_BATCHES
from kerasner.training_config import DEFAULTS
from kerasner.training_plan import default_learning_rate, plan_training

# What a run leaves in its folder; `overwrite` removes them.
RUN_FILES = (STATE_FILE, HISTORY_FILE, BACKUP_DIR, "best", "best.old", "best.tmp")


def train_token_classifier(
    model,
    train_features,
    validation_features,
    output_dir,
    epochs=DEFAULTS.epochs,
    max_epochs=DEFAULTS.max_epochs,
    batch_size=DEFAULTS.batch_size,
    max_tokens=DEFAULTS.max_tokens,
    pool_batches=DEFAULTS.pool_batches,
    pack=DEFAULTS.pack,
    learning_rate=DEFAULTS.learning_rate,
    warmup_ratio=DEFAULTS.warmup_ratio,
    weight_decay=DEFAULTS.weight_decay,
    lazy_embeddings=DEFAULTS.lazy_embeddings,
    gradient_accumulation_steps=DEFAULTS.gradient_accumulation,
    loss_per_position=True,
    strategy=None,
    seed=DEFAULTS.seed,
    patience=DEFAULTS.patience,
    jit_compile=DEFAULTS.jit,
    mode="default",
    decode=DEFAULTS.decode,
    callbacks=(),
    overwrite=False,
    verbose=1,
):
    """Fine-tunes `model`, keeping the best model by validation entity F1 in `output_dir/best`.

    The defaults are `kerasner.TrainingConfig`'s.

    Without `epochs`, the run plans its own length (`kerasner.training_plan.plan_training`): at
    least 3 epochs and 1,000 optimizer steps, at most `max_epochs`, stopping once 2 epochs in a row
    bring no better validation entity F1. The model ends with the weights of its best epoch.

    A folder holds one run (`kerasner.run_folder`). The run backs up model and optimizer state to
    `output_dir/backup` at every epoch end, and records its settings and each epoch's logs in
    `output_dir/run_state.json` (and `history.csv`). Called again with the same arguments after a
    crash or a kill, it goes on from the last finished epoch and ends as the uninterrupted run
    would: an epoch's batch order and dropout masks depend only on `seed` and the epoch. Called
    again after the run has ended, it returns that run's history with the best model's weights,
    without training. Called with other settings, it raises `ValueError` naming them, unless
    `overwrite`. A second process on the same folder is refused while the first runs.

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
        overwrite: bool. Start afresh, removing an earlier run's files from `output_dir`.
            Defaults to False.
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
    settings = {
        **plan.to_dict(),
        "batch_size": batch_size, "max_tokens": max_tokens, "pool_batches": pool_batches, "pack": pack,
        "learning_rate": float(learning_rate), "warmup_ratio": warmup_ratio, "weight_decay": weight_decay,
        "lazy_embeddings": lazy_embeddings, "gradient_accumulation_steps": gradient_accumulation_steps,
        "loss_per_position": loss_per_position, "seed": seed, "jit_compile": jit_compile, "mode": mode,
        "decode": decode, "labels": list(model.labels), "model_class": type(model).__name__,
        "data": features_fingerprint(train_features, validation_features),
    }
    with RunLock(output_dir) if chief else contextlib.nullcontext():
        if overwrite and chief:
            clear_run(output_dir, RUN_FILES)
        state = resume_state(output_dir, settings, plan, save=chief)
        entity_f1 = EntityF1Callback(validation_features, mode=mode, decode=decode, verbose=verbose if chief else 0)
        best = BestModelCheckpoint(
            output_dir / "best", initial_best=state.best(entity_f1.prefix + "entity_f1") or (None, None),
            patience=plan.patience, start_from_epoch=plan.start_from_epoch, verbose=verbose,
        )
        trained_before = state.complete(plan.epochs)
        if trained_before:
            if verbose and chief:
                print(f"training: {output_dir} holds this run, trained to the end; its best model is kept")
        else:
            if verbose and chief:
                resumed = f" Resuming after epoch {len(state.epochs)}." if state.epochs else ""
                print(f"training: {plan.reason} Peak learning rate {learning_rate:g}.{resumed}")
            run_callbacks = [
                EpochSeeds(seed),
                ThroughputCallback(train_features.lengths.sum()),
                entity_f1,
                best,
                RunHistory(output_dir, state),
                keras.callbacks.BackupAndRestore(str(output_dir / BACKUP_DIR)),  # handles several workers itself
            ]
            model.fit(
                train_features.to_dataset(
                    step_batch_size, shuffle=True, seed=seed, max_tokens=step_max_tokens, pool_batches=pool_batches,
                    pack=pack, initial_epoch=len(state.epochs),
                ),
                epochs=plan.epochs,
                callbacks=run_callbacks + list(callbacks),
                verbose=verbose if chief else 0,
            )
        if state.complete(plan.epochs):  # the rows and best/ hold the run now
            shutil.rmtree(output_dir / BACKUP_DIR, ignore_errors=True)
        _, best_epoch = state.best(entity_f1.prefix + "entity_f1") or (None, None)
        if best_epoch is not None and (trained_before or best_epoch != len(state.epochs)):
            model.set_weights(type(model).from_pretrained(output_dir / "best").get_weights())
    history = keras.callbacks.History()
    history.epoch, history.history = state.history()
    history.entity_f1 = entity_f1
    history.plan = plan
    history.learning_rate = learning_rate
    history.best_epoch = best_epoch
    history.stopped_epoch = state.stopped_epoch
    return history


def resume_state(output_dir, settings, plan, save=True):
    """The `RunState` to go on from: the folder's (kept to the epochs its backup holds) if its
    settings are `settings`, else a new one, saved at once (with `save`) so that anything the run
    writes later belongs to it. Raises `ValueError` for a folder of another run."""
    state = RunState.load(output_dir)
    if state is None:
        if (output_dir / BACKUP_DIR).exists() or (output_dir / "best").exists():
            raise ValueError(
                f"{output_dir} holds files of another run (best/ or backup/) but no {STATE_FILE}; remove them, "
                "choose another output folder, or pass overwrite=True"
            )
        state = RunState(settings)
        if save:
            state.save(output_dir)
        return state
    changed = differences(state.settings, settings)
    if changed:
        raise ValueError(
            f"{output_dir} holds another run, started with other settings ({'; '.join(changed)}); choose another "
            "output folder, or pass overwrite=True to start afresh"
        )
    if not state.complete(plan.epochs):
        backed_up = backed_up_epochs(output_dir / BACKUP_DIR)
        if backed_up > len(state.epochs):
            raise ValueError(f"{output_dir}: the backup holds {backed_up} epochs but {STATE_FILE} only {len(state.epochs)}")
        state.keep(backed_up)
    return state


def features_fingerprint(*features):
    """A short hash of the windows and labels of `features`: equal data, equal hash."""
    digest = hashlib.sha256()
    for part in features:
        for arrays in (part.input_ids, part.labels):
            digest.update(np.asarray([len(a) for a in arrays], dtype=np.int64).tobytes())
            digest.update(np.concatenate(arrays).astype(np.int32).tobytes() if len(arrays) else b"")
    return digest.hexdigest()[:16]


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
