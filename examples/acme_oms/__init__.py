"""Acme: the cold-standby OMS's desk behind an HTTP API of another shape, graded through an adapter.

Run it as a script (``python examples/acme_oms/oms.py --help``, from any directory) or, from
``examples/``, as ``python -m acme_oms``. See README.md.
"""
