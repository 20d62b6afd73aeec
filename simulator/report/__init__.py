"""Reports: charts, the run report (HTML/PDF) and the workbook.

Layer 5. Imports :mod:`simulator.experiments` and below.
"""
