"""``python -m mmh_bench``: the ``mmh-bench`` command."""

import sys

from .cli import main

sys.exit(main())
