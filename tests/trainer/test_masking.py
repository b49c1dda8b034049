"""Whole-word MLM masking: the reference's statistics, label construction and (seed, epoch, index) determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.models.tokenizer import CLS_ID, MASK_ID, PAD_ID, SEP_ID, build_vocab, load_tokenizer, tokenize
from trainer.masking import MASK_TOKEN, PAD_TOKEN, WholeWordMasker, replacement_vocabulary, sample_rng

VOCAB_TEXT = (
    "chest radiograph showing bright lesion upper left lobe fluorescence micrograph green cells bar chart red "
    "bars western blot lane band histology nuclei dense sparse tissue scan patient tumour section stained"
)
WORDS = VOCAB_TEXT.split()


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vocab")
    build_vocab([" ".join(WORDS)], folder)
    return load_tokenizer(folder)


def random_captions(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(5, 15)))) for _ in range(count)]


def test_sample_rng_is_a_pure_function_of_seed_epoch_index_stream():
    a = sample_rng(0, 1, 2, 0).random(5)
    assert np.array_equal(a, sample_rng(0, 1, 2, 0).random(5))
    for other in [(1, 1, 2, 0), (0, 2, 2, 0), (0, 1, 3, 0), (0, 1, 2, 1)]:
        assert not np.array_equal(a, sample_rng(*other).random(5))


def test_selection_and_80_10_10_rates_match_the_reference(tokenizer):
    # Every word in WORDS is one vocabulary token, so input and label strings align word for word.
    masker = WholeWordMasker(tokenizer, mask_ratio=0.15)
    words = selected = masked = replaced = kept = 0
    for index, caption in enumerate(random_captions(3000)):
        result = masker.mask_text(caption, sample_rng(7, 0, index, 0))
        original, inputs, labels = caption.split(), result.input_text.split(), result.label_text.split()
        assert len(inputs) == len(labels) == len(original)
        words += len(original)
        for word, inp, lab in zip(original, inputs, labels, strict=True):
            if lab == PAD_TOKEN:
                assert inp == word  # not selected: the input keeps the word
                continue
            assert lab == word  # selected: the label is the original word
            selected += 1
            if inp == MASK_TOKEN:
                masked += 1
            elif inp == word:
                kept += 1  # includes the rare random draw of the same word (1/vocab of the 10 %)
            else:
                replaced += 1
        assert result.selected_words == sum(lab != PAD_TOKEN for lab in labels)
    assert words > 25000
    assert selected / words == pytest.approx(0.15, abs=0.01)
    assert masked / selected == pytest.approx(0.8, abs=0.025)
    assert replaced / selected == pytest.approx(0.1, abs=0.02)
    assert kept / selected == pytest.approx(0.1, abs=0.02)


def test_a_masked_word_becomes_one_mask_per_subtoken(tokenizer):
    # "lobster" is not in the vocabulary: WordPiece spells it from single characters, l ##o ##b ##s ##t ##e ##r.
    masker = WholeWordMasker(tokenizer, mask_ratio=1.0)
    n_pieces = masker.subtoken_count("lobster")
    assert n_pieces == len(tokenizer.tokenize("lobster")) > 1
    caption = "lobster cells"
    for index in range(200):
        result = masker.mask_text(caption, sample_rng(0, 0, index, 0))
        if result.input_text.split()[0] == MASK_TOKEN:
            assert result.input_text.split()[:n_pieces] == [MASK_TOKEN] * n_pieces
            assert result.label_text.split()[0] == "lobster"
            ids, labels, _ = masker.encode(caption, sample_rng(0, 0, index, 0))
            original = tokenize(tokenizer, [caption])[0]
            assert torch.equal(ids[1 : 1 + n_pieces], torch.full((n_pieces,), MASK_ID))
            assert torch.equal(labels[1 : 1 + n_pieces], original[1 : 1 + n_pieces])
            return
    pytest.fail("no sample masked the first word in 200 tries at ratio 1.0")


def test_label_ids_align_with_input_ids(tokenizer):
    """Where lengths agree (always, except a random replacement with another sub-token count), label ids are the
    original ids at selected positions, 0 elsewhere, and [CLS]/[SEP] keep ids 2/3 as in the reference."""
    masker = WholeWordMasker(tokenizer, mask_ratio=0.3)
    captions = [c + " lobster" for c in random_captions(300, seed=1)]
    originals = tokenize(tokenizer, captions)
    checked = 0
    for index, caption in enumerate(captions):
        ids, labels, _ = masker.encode(caption, sample_rng(0, 3, index, 0))
        original = originals[index]
        if (ids != PAD_ID).sum() != (original != PAD_ID).sum():
            continue
        checked += 1
        sep = int((original == SEP_ID).nonzero()[0])
        assert labels[0] == CLS_ID and labels[sep] == SEP_ID
        assert torch.all(labels[sep + 1 :] == PAD_ID)
        body = slice(1, sep)
        selected = labels[body] != PAD_ID
        assert torch.equal(labels[body][selected], original[body][selected])
        assert torch.equal(ids[body][~selected], original[body][~selected])  # unselected tokens untouched
        assert torch.all(selected[ids[body] == MASK_ID])  # every [MASK] has a label
    assert checked > 250


def test_zero_ratio_leaves_captions_alone_and_labels_only_cls_sep(tokenizer):
    masker = WholeWordMasker(tokenizer, mask_ratio=0.0)
    caption = "bright lesion upper left lobe"
    ids, labels, result = masker.encode(caption, sample_rng(0, 0, 0, 0))
    assert result.selected_words == 0
    assert torch.equal(ids, tokenize(tokenizer, [caption])[0])
    assert labels.tolist()[:8] == [CLS_ID, 0, 0, 0, 0, 0, SEP_ID, 0]
    assert int(labels.count_nonzero()) == 2


def test_masking_depends_only_on_seed_epoch_index_not_on_order(tokenizer):
    masker = WholeWordMasker(tokenizer, mask_ratio=0.15)
    captions = random_captions(64, seed=2)
    forward = {i: masker.encode(c, sample_rng(5, 2, i, 0))[0] for i, c in enumerate(captions)}
    fresh = WholeWordMasker(tokenizer, mask_ratio=0.15)  # another worker's copy, other order
    for i in reversed(range(len(captions))):
        assert torch.equal(forward[i], fresh.encode(captions[i], sample_rng(5, 2, i, 0))[0])
    next_epoch = [masker.encode(c, sample_rng(5, 3, i, 0))[0] for i, c in enumerate(captions)]
    assert sum(not torch.equal(forward[i], next_epoch[i]) for i in range(len(captions))) > 20


def test_random_replacements_are_ordinary_tokens(tokenizer):
    vocab = replacement_vocabulary(tokenizer)
    assert vocab and not any(t.startswith("##") or t.startswith("[") for t in vocab)
    assert "lesion" in vocab


def test_mask_ratio_out_of_range_is_refused(tokenizer):
    with pytest.raises(ValueError):
        WholeWordMasker(tokenizer, mask_ratio=1.5)
