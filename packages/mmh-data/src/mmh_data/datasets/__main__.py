"""``python -m mmh_data.datasets``."""

import sys

from .cli import main

sys.exit(main())
