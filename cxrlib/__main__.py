"""``python -m cxrlib``: see :mod:`cxrlib.cli`."""

import sys

from .cli import main

sys.exit(main())
