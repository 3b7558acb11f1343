"""Property tests draw the same examples on every run (a CI verdict must not change from one run
of the same code to the next); ``HYPOTHESIS_PROFILE=explore`` draws fresh ones, to hunt for new
failures on purpose."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))
