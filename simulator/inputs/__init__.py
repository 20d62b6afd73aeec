"""Input files: the schemas and checks of scenario, region and catalogue files, and the parameters.

Layer 1. Imports only :mod:`simulator.errors`.
"""
