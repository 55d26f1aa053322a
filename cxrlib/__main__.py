"""``python -m cxrlib``: see :mod:`cxrlib.run.cli`."""

import sys

from .run.cli import main

sys.exit(main())
