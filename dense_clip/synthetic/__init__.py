"""Procedural open-vocabulary world and the embedded tiny CLIP trained on it."""
