"""Keras callbacks of kerasner, imported as `kerasner.callbacks`."""

from kerasner.callbacks.best_model_checkpoint import BestModelCheckpoint
from kerasner.callbacks.entity_f1_callback import EntityF1Callback
from kerasner.callbacks.throughput_callback import ThroughputCallback

__all__ = ["BestModelCheckpoint", "EntityF1Callback", "ThroughputCallback"]
