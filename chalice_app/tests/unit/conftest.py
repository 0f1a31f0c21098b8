"""Unit-suite fixtures: the shared app fixtures (tests/app_fixtures.py). Event builders
live in tests/unit/support.py."""

from tests.app_fixtures import (  # noqa: F401 (fixtures are found by name)
    capture_app_logs,
    clean_app_env,
    client,
    frames,
    set_env,
    shared_botocore_loader,
)
