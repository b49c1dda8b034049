"""PMC-CLIP's text and image features computed the way the released model was trained (pmc-clip.md §1.3, §1.9)."""

from __future__ import annotations

import pytest
import torch

from engine.models import PMCClipConfig, resolve
from engine.models.tokenizer import PAD_ID, load_tokenizer, tokenize
from tests.engine.models.tiny_models import CAPTIONS, tiny_model, tiny_vocab


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return load_tokenizer(tiny_vocab(tmp_path_factory.mktemp("vocab")))


def test_text_feature_is_cls_state_without_mask_times_projection(tokenizer):
    model = tiny_model(seed=1)
    ids = tokenize(tokenizer, CAPTIONS[:2])
    assert (ids == PAD_ID).any(), "the captions must be padded for this test to mean anything"
    with torch.inference_mode():
        hidden = model.text_encoder(input_ids=ids).last_hidden_state  # no attention mask: pads are attended
        by_hand = hidden[:, 0] @ model.text_projection
        assert torch.allclose(model.encode_text(ids), by_hand, atol=1e-6)
        # The trained model attends to pads, so masking them (what a "correct-looking" BERT call does) differs.
        masked = model.text_encoder(input_ids=ids, attention_mask=(ids != PAD_ID).long()).last_hidden_state
        assert not torch.allclose(masked[:, 0] @ model.text_projection, by_hand, atol=1e-3)


def test_padding_length_changes_the_text_feature(tokenizer):
    """Without a mask the number of pad tokens is part of the input: 77-padding is what the weights expect."""
    model = tiny_model(seed=1)
    padded_77 = tokenize(tokenizer, CAPTIONS[:1], context_length=77)
    padded_20 = tokenize(tokenizer, CAPTIONS[:1], context_length=20)
    assert torch.equal(padded_77[:, :20][padded_20 != PAD_ID], padded_20[padded_20 != PAD_ID])
    with torch.inference_mode():
        f77, f20 = model.encode_text(padded_77), model.encode_text(padded_20)
    assert not torch.allclose(f77, f20, atol=1e-3)


def test_projection_is_right_multiplied(tokenizer):
    model = tiny_model(seed=2)
    with torch.no_grad():
        model.text_projection.copy_(torch.triu(torch.randn(32, 32)) + torch.eye(32))  # clearly non-symmetric
    ids = tokenize(tokenizer, CAPTIONS[:3])
    with torch.inference_mode():
        cls = model.text_encoder(input_ids=ids).last_hidden_state[:, 0]
        got = model.encode_text(ids)
        projection = model.text_projection
        assert torch.allclose(got, cls @ projection, atol=1e-6)
        assert not torch.allclose(got, cls @ projection.T, atol=1e-2)


def test_defaults_are_the_training_configuration():
    config = PMCClipConfig()
    assert config.vision.heads == 32 and config.text.pooling == "cls" and not config.text.use_attention_mask
    entry = resolve("pmc-clip").pmc_clip_config
    assert entry.vision.heads == 32 and entry.text.pooling == "cls" and entry.embed_dim == 768
    assert entry.vision.layers == (3, 4, 6, 3) and entry.text.context_length == 77


def test_notebook_variant_has_8_heads_and_pooler_and_differs(tokenizer):
    notebook = resolve("pmc-clip-notebook").pmc_clip_config
    assert notebook.vision.heads == 8 and notebook.text.pooling == "pooler"
    trained = tiny_model(seed=4)
    variant = tiny_model(seed=4, heads=8, pooling="pooler")
    assert variant.visual.attnpool.num_heads == 8 and trained.visual.attnpool.num_heads == 32
    variant.load_state_dict(trained.state_dict())  # same tensors: only heads and pooling differ
    images = torch.randn(2, 3, 64, 64)
    ids = tokenize(tokenizer, CAPTIONS[:2])
    with torch.inference_mode():
        assert not torch.allclose(trained.encode_image(images), variant.encode_image(images), atol=1e-3)
        assert not torch.allclose(trained.encode_text(ids), variant.encode_text(ids), atol=1e-3)
        pooled = variant.text_encoder(input_ids=ids).pooler_output @ variant.text_projection
        assert torch.allclose(variant.encode_text(ids), pooled, atol=1e-6)
