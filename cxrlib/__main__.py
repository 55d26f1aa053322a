"""``python -m cxrlib``: see :mod:`cxrlib.cli`."""

import sys

from .run.cli import main

sys.exit(main())
