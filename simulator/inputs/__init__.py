"""Input files: the schemas and checks of scenario, region and catalogue files, the parameters, the series names.

Layer 1. Imports only :mod:`simulator.errors`. :mod:`simulator.inputs.series` is the vocabulary of indicators,
firm properties and target series that file checks, the model and the reports share.
"""
