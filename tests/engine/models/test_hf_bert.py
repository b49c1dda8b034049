"""`model.text.init: hf:<repo>`: a BERT in PubMedBERT's layout is fetched through engine.hub and loaded strictly."""

from __future__ import annotations

import pytest
import torch
from transformers import BertModel

from engine.errors import CheckpointKeyError, ConfigError, OfflineError
from engine.models.hf_bert import HfBertSource, bert_state_dict, fetch_hf_bert, load_hf_bert
from tests.fake_hf_bert import REPO, make_fake_bert, serve_fake_bert
from tests.local_hub import serving


@pytest.fixture
def hub(monkeypatch):
    with serving(monkeypatch) as hub:
        yield hub


def _tower(fake) -> BertModel:
    torch.manual_seed(123)  # weights unlike the checkpoint's, so a key that did not load shows
    return BertModel(fake.text.bert_config(), add_pooling_layer=True)


def _assert_loaded(tower: BertModel, fake) -> None:
    loaded = tower.state_dict()
    compared = 0
    for key, tensor in fake.state.items():
        if key.startswith("cls."):
            continue
        name = key.removeprefix("bert.")
        assert torch.equal(loaded[name], tensor), name
        compared += 1
    assert compared == len([k for k in loaded if k not in ("embeddings.position_ids", "embeddings.token_type_ids")])


@pytest.mark.parametrize("layout", ["safetensors", "bin"])
def test_repo_is_fetched_and_every_tensor_lands(hub, layout):
    fake = make_fake_bert(safetensors=layout == "safetensors", bin=layout == "bin")
    spec = serve_fake_bert(hub, fake)
    progress = []

    folder = fetch_hf_bert(HfBertSource.parse(spec), progress=progress.append)
    tower = _tower(fake)
    report = load_hf_bert(tower, folder, fake.text)

    _assert_loaded(tower, fake)
    assert {p.filename for p in progress} >= {"config.json", "vocab.txt"}
    assert all(k.startswith("cls.") for k in report.dropped if not k.startswith("embeddings."))
    assert sum(k.startswith("cls.") for k in report.dropped) == sum(k.startswith("cls.") for k in fake.state)
    if layout == "bin":  # the missing safetensors was asked for, then the .bin was used
        assert hub.gets("model.safetensors") == [] and hub.gets("pytorch_model.bin")


def test_second_fetch_works_offline_from_the_cache(hub, monkeypatch):
    fake = make_fake_bert()
    folder = fetch_hf_bert(HfBertSource.parse(serve_fake_bert(hub, fake)))
    n = len(hub.log)
    assert fetch_hf_bert(HfBertSource.parse(f"hf:{REPO}"), offline=True) == folder
    assert len(hub.log) == n


def test_offline_without_a_copy_names_the_file(isolated_home):
    with pytest.raises(OfflineError, match="config.json"):
        fetch_hf_bert(HfBertSource.parse(f"hf:{REPO}"), offline=True)


def test_an_unexpected_key_is_an_error_that_names_it(hub, tmp_path):
    fake = make_fake_bert()
    fake.state["bert.encoder.layer.0.adapter.weight"] = torch.zeros(3)
    folder = _write(tmp_path, fake)
    with pytest.raises(CheckpointKeyError, match="encoder.layer.0.adapter.weight"):
        load_hf_bert(_tower(fake), folder, fake.text)


def test_a_missing_key_is_an_error_that_names_it(tmp_path):
    fake = make_fake_bert()
    del fake.state["bert.pooler.dense.weight"]
    with pytest.raises(CheckpointKeyError, match="pooler.dense.weight"):
        load_hf_bert(_tower(fake), _write(tmp_path, fake), fake.text)


def test_a_config_that_disagrees_with_model_text_names_the_field(tmp_path):
    fake = make_fake_bert()
    folder = _write(tmp_path, fake)
    other = make_fake_bert(hidden=48).text
    with pytest.raises(ConfigError, match="hidden_size = 48"):
        load_hf_bert(BertModel(other.bert_config()), folder, other)


def test_the_prefix_mapping_keeps_bare_keys_and_drops_only_cls():
    mapped, dropped = bert_state_dict(
        {
            "bert.embeddings.word_embeddings.weight": torch.ones(1),
            "pooler.dense.bias": torch.ones(1),
            "cls.predictions.bias": torch.ones(1),
            "cls.seq_relationship.weight": torch.ones(1),
        }
    )
    assert sorted(mapped) == ["embeddings.word_embeddings.weight", "pooler.dense.bias"]
    assert dropped == ("cls.predictions.bias", "cls.seq_relationship.weight")


@pytest.mark.parametrize("spec", ["microsoft/x", "hf:", "hf:noslash", "hf:a/b/c", "s3:a/b"])
def test_malformed_init_specs_are_config_errors(spec):
    with pytest.raises(ConfigError):
        HfBertSource.parse(spec)


def test_revision_after_at():
    assert HfBertSource.parse("hf:microsoft/x@abc123") == HfBertSource("microsoft/x", "abc123")


def _write(folder, fake):
    from safetensors.torch import save_file

    for name, content in fake.files.items():
        if name != "model.safetensors":
            (folder / name).write_bytes(content)
    save_file(fake.state, str(folder / "model.safetensors"))
    return folder
