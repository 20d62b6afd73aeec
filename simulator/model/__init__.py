"""The agent-based model: the region model, firms (arrays and rules), agents, the zone, the base-year
population, indicators, target series and guards.

Layer 3. Imports :mod:`simulator.policy` and below.
"""
