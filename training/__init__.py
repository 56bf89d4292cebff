"""Training and calibration scripts for the shipped models: not part of the installed package.

Run from the repository root (``python -m training.train ...``); every input and output path
is an explicit argument. See ``data/training/README.md`` for the training set's provenance.
"""
