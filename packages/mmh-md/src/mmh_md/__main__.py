"""``python -m mmh_md``: the mmh-md command line."""

from .cli import main

raise SystemExit(main())
