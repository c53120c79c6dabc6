"""Settings for every test area: the hypothesis profiles. Fixtures live in each area's conftest."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("ci", deadline=None, print_blob=True)
settings.register_profile("thorough", deadline=None, max_examples=5000)
settings.load_profile("ci")
