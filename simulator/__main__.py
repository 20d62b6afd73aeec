"""``python -m simulator`` is the same as the ``innosim`` command."""

import sys

from .cli import main

sys.exit(main())
