"""``gameday contract check``: probe a running OMS against the SUT contract (docs/contracts.md §4).

Modules: :mod:`~gameday.contract.checks` (the checks as data, pure shape validators),
:mod:`~gameday.contract.http` (bounded requests that never raise), :mod:`~gameday.contract.instance`
and :mod:`~gameday.contract.orders` (the probes), :mod:`~gameday.contract.run` (one check of a stack),
:mod:`~gameday.contract.report` (the verdict as data, then as tables), :mod:`~gameday.contract.cli`.
"""
