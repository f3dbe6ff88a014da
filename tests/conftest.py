"""Fixtures shared by every test tier."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import netnslib


@pytest.fixture
def netns_factory() -> Iterator[netnslib.NetnsFactory]:
    """Make namespaces with ``netns_factory("prefix")``; all are removed after the test."""
    yield from netnslib.netns_factory_fixture()
