"""Fuzz profiles: `ci` (the default, a short run inside `make test`) and `fuzz` (`make fuzz`,
bounded by FUZZ_EXAMPLES examples per target, no deadline)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=_SLOW)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=_SLOW,
    print_blob=True,
)
settings.load_profile(os.environ.get("CITYBRAIN_FUZZ_PROFILE", "ci"))

# The web fuzz targets run over the same small store as the web unit tests.
from tests.unit.web.conftest import store  # noqa: E402, F401
