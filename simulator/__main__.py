"""``python -m simulator`` is the same as the ``innosim`` command."""

import sys

from simulator.cli import main

if __name__ == "__main__":   # spawned worker processes import this module again: they must not run the command
    sys.exit(main())
