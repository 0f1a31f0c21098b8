"""The test tiers of tests/conftest.py: each test is in exactly one, and the in-process tier
(``make check``) refuses a test that starts a local stack instead of silently slowing down."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from localcloud.process import LocalStackProcess
from tests.conftest import TIER_OF_FOLDER, TIERS, tier_of

TESTS = Path(__file__).resolve().parent.parent


class FakeItem(SimpleNamespace):
    def get_closest_marker(self, name):
        return name if name in self.markers else None


def item(folder: str, *markers: str) -> FakeItem:
    return FakeItem(path=TESTS / folder / "test_x.py", markers=set(markers), nodeid=f"{folder}/test_x.py::t")


@pytest.mark.parametrize("folder", sorted(TIER_OF_FOLDER))
def test_a_test_takes_its_folders_tier_unless_its_module_names_one(folder):
    assert tier_of(item(folder)) == TIER_OF_FOLDER[folder]
    for tier in TIERS:
        assert tier_of(item(folder, tier, "timeout")) == tier


def test_every_test_folder_has_a_tier():
    folders = {path.parent.name for path in TESTS.glob("*/test_*.py")}
    assert folders <= set(TIER_OF_FOLDER), folders - set(TIER_OF_FOLDER)


def test_two_tiers_on_one_test_is_a_usage_error():
    with pytest.raises(pytest.UsageError, match="several tiers"):
        tier_of(item("unit", "inprocess", "stack"))


def test_this_test_is_in_the_inprocess_tier(request):
    assert request.node.get_closest_marker("inprocess") is not None
    assert request.node.get_closest_marker("stack") is None


def test_an_inprocess_test_cannot_start_a_local_stack():
    with pytest.raises(RuntimeError, match=r"pytestmark = pytest\.mark\.stack"), LocalStackProcess(["--quiet"]):
        pass
