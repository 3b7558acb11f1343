"""Load from locustfiles during a game day, recorded and graded.

A scenario's ``load:`` section (:class:`gameday.scenario.load_spec.LoadSpec`) runs a locustfile
through locust's library API in a child process of its own (``python -m gameday.load.child``), so
locust's gevent world never meets the harness's asyncio loop. The modules:

- :mod:`gameday.load.stats`: the per-second statistics the child writes and the checkers read
  (pure: no locust, no gevent);
- :mod:`gameday.load.plan`: what the child is told (locustfile, hosts, schedule) from a scenario and
  a stack's endpoints;
- :mod:`gameday.load.run`: :class:`~gameday.load.run.LoadRun`, the async context manager that starts
  the child, copies its statistics into the history and always stops it;
- :mod:`gameday.load.child`: the child itself, the only module that imports locust.

This package's ``__init__`` imports nothing, so a checker can read :mod:`gameday.load.stats`
without pulling in the runner (or locust).
"""
