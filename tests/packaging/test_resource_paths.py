"""Every file the program ships with is found through engine.paths.resource_path, in a checkout and in a bundle."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from engine import paths

SHIPPED = [
    ("style.qss",),
    ("icons", "pmc-figure-search-256.png"),
    ("icons", "pmc-figure-search.ico"),
    ("icons", "pmc-figure-search.icns"),
    ("demo-model", "config.json"),
    ("demo-model", "model.safetensors"),
    ("demo-figures", "chest_radiograph-01.jpg"),
    ("selftest", "chest-ct.dcm"),
    ("model-configs", "pretrained.json"),
    ("prompt-sets", "modality.json"),
]


@pytest.mark.parametrize("parts", SHIPPED, ids="/".join)
def test_every_shipped_resource_exists_in_the_source_tree(parts):
    assert paths.resource_path(*parts).is_file()


def test_inside_a_bundle_resources_resolve_under_meipass_with_the_same_layout(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.install_root() == tmp_path
    assert paths.resource_path("style.qss") == tmp_path / "resources" / "style.qss"
    assert paths.resource_path("model-configs", "pretrained.json") == tmp_path / "engine/models/configs/pretrained.json"
    assert paths.resource_path("prompt-sets") == tmp_path / "engine" / "models" / "prompts"


def test_model_registry_and_prompt_sets_read_through_the_helper():
    from engine.modality import MODALITY_PROMPTS, load_prompt_set
    from engine.models import registry

    assert paths.resource_path("model-configs") == registry.CONFIG_DIR
    raw = json.loads(paths.resource_path("prompt-sets", "modality.json").read_text(encoding="utf-8"))
    assert list(load_prompt_set()) == list(raw["classes"]) == list(MODALITY_PROMPTS)
    assert MODALITY_PROMPTS["CT"][0] == "a CT scan" and MODALITY_PROMPTS["Other"]


def test_logs_go_to_the_platform_log_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(paths.HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    if sys.platform.startswith("linux"):
        assert paths.log_dir() == tmp_path / "state" / paths.APP_NAME / "log"
    import platformdirs

    assert paths.log_dir() == platformdirs.user_log_path(paths.APP_NAME, appauthor=False)


def test_pmc_search_home_moves_the_logs_too(isolated_home):
    assert paths.log_dir() == isolated_home / "logs"


def test_configure_logging_writes_into_the_log_folder_and_says_where(isolated_home):
    from engine.logsetup import configure_logging

    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        log_file = configure_logging("pmc-search-test", console=False)
        logging.getLogger("tests.packaging").info("hello from the test")
        for handler in root.handlers:
            handler.flush()
        assert log_file == isolated_home / "logs" / "pmc-search-test.log"
        assert "hello from the test" in log_file.read_text(encoding="utf-8")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
            handler.close()
        for handler in saved:
            root.addHandler(handler)
