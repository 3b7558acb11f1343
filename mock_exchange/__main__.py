"""``python -m mock_exchange --config venue.json`` (or the venue flags): see :mod:`mock_exchange.cli`."""

import sys

from mock_exchange.cli import main

if __name__ == "__main__":
    sys.exit(main())
