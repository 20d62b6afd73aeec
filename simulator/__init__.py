"""innosim: regional innovation scenario simulator (Mesa agent-based model).

Main entry points:

* ``run_scenario(path)`` - run a scenario file, get the tidy indicator table.
* ``RegionModel`` - one live model for notebooks (``RegionModel.from_files``).
* ``innosim run scenarios/qiqihar.yaml`` - the same from the shell.
"""

from simulator.errors import InputError
from simulator.experiments.prepared import prepare
from simulator.experiments.runner import run_scenario
from simulator.inputs.parameters import Parameters
from simulator.jobs import write_run
from simulator.model.region_model import RegionModel

__all__ = ["InputError", "Parameters", "RegionModel", "prepare", "run_scenario", "write_run"]
__version__ = "0.1.0"
