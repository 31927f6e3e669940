"""``python -m streams.cli``: the same as the ``lethe`` command."""

import sys

from streams.cli import main

sys.exit(main())
