"""The GUI programs against `engine.library.FigureLibrary`; the real Library and the GUI tests' fake both fulfil it,
method by method and parameter by parameter, so a test passing on the fake says something about the real one."""

from __future__ import annotations

import inspect

import pytest

from engine.library import FigureLibrary, Library
from tests.app.fake_library import FakeLibrary

PROTOCOL_METHODS = [
    name for name, member in inspect.getmembers(FigureLibrary, inspect.isfunction) if not name.startswith("_")
]


def test_the_protocol_names_what_the_app_uses():
    assert {"search", "ingest", "facets", "collections", "close", "similar_to", "captions_for_image"} <= set(
        PROTOCOL_METHODS
    )


@pytest.mark.parametrize("implementation", [Library, FakeLibrary], ids=["Library", "FakeLibrary"])
@pytest.mark.parametrize("name", PROTOCOL_METHODS)
def test_each_implementation_has_the_protocols_signature(implementation, name):
    expected = inspect.signature(getattr(FigureLibrary, name))
    actual = inspect.signature(getattr(implementation, name))
    assert [(p.name, p.kind) for p in actual.parameters.values()] == [
        (p.name, p.kind) for p in expected.parameters.values()
    ], f"{implementation.__name__}.{name}{actual} differs from FigureLibrary.{name}{expected}"


def test_instances_satisfy_the_runtime_check(tmp_path):
    from tests.engine.library.helpers import new_library

    with new_library(tmp_path / "lib") as library:
        assert isinstance(library, FigureLibrary)
    assert isinstance(FakeLibrary(tmp_path / "fake"), FigureLibrary)
