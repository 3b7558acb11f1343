"""``python -m acme_oms`` (from ``examples/``)."""

from .cli import main

raise SystemExit(main())
