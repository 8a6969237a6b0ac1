"""tests/winsim (the WinRM server) and this folder (the fake host) on sys.path."""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WINSIM = os.path.abspath(os.path.join(HERE, "..", "..", "winsim"))
for path in (WINSIM, HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from fakehost import PASSWORD, USER, FakeHost  # noqa: E402
import wsman  # noqa: E402


@pytest.fixture
def fake_host():
    return FakeHost("win01")


@pytest.fixture
def server(fake_host):
    srv = wsman.serve(fake_host, 0, USER, PASSWORD)
    yield srv
    srv.stop()
