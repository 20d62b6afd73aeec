"""Shared fixtures: the Qiqihar scenario, prepared once per session."""

from __future__ import annotations

import pytest

from simulator.experiments.prepared import prepare
from tests.helpers import QIQIHAR


@pytest.fixture(scope="session")
def qiqihar():
    """The validated Qiqihar scenario (build models with ``qiqihar.model(k)``)."""
    return prepare(QIQIHAR)
