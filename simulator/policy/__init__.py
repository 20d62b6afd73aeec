"""Policy instruments: what each subsidy pays, to whom and for which event, built from the catalogues.

Layer 2. Imports :mod:`simulator.inputs` and :mod:`simulator.errors`.
"""
