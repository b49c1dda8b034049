"""Test-wide settings: Qt offscreen, and every test gets its own data dir so none touches the user's files."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test may reach a model hub: the download tests set HF_ENDPOINT to a local server themselves.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("pmc-search-home")
    monkeypatch.setenv("PMC_SEARCH_HOME", str(home))
    return home
