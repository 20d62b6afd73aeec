"""Analysis: calibration, backtest, sensitivity, optimiser and policy mixes, with their own reports.

Layer 6. Imports :mod:`simulator.report` and below.
"""
