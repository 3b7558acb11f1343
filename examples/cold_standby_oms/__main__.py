"""``python -m cold_standby_oms`` (from ``examples/``)."""

from .cli import main

raise SystemExit(main())
