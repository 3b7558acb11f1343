"""A small OMS with a cold standby, written apart from the reference stack (see README.md).

Run it as a script (``python examples/cold_standby_oms/oms.py --help``, from any directory)
or, from ``examples/``, as ``python -m cold_standby_oms``.
"""
