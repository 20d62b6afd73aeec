"""Experiments: ensembles and their back-ends, the scenario runner, checkpoints, locks and result tables.

Layer 4. Imports :mod:`simulator.model` and below.
"""
