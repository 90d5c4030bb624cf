"""Keras callbacks of kerasner, imported as `kerasner.callbacks`."""
