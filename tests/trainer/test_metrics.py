"""Retrieval metrics against hand-computed rankings, and the official rule against a re-implementation of it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.metrics import retrieval_metrics, true_item_ranks


def test_hand_computed_three_pairs():
    # Images are the unit axes. Text 2 points mostly along axis 1, so as a QUERY text 2 prefers image 1:
    #   image→text: each image's own caption scores highest in its row   → ranks 1, 1, 1
    #   text→image: text 2 scores 0.994 with image 1 and 0.110 with image 2 → ranks 1, 2, 1
    images = torch.eye(3)
    texts = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    m = retrieval_metrics(images, texts, ks=(1, 2))
    assert m["image_to_text_R@1"] == 1.0 and m["image_to_text_mean_rank"] == 1.0
    assert m["text_to_image_R@1"] == pytest.approx(2 / 3)
    assert m["text_to_image_R@2"] == 1.0
    assert m["text_to_image_mean_rank"] == pytest.approx(4 / 3)
    assert m["text_to_image_median_rank"] == 1.0
    assert m["chance_R@1"] == pytest.approx(1 / 3) and m["chance_R@2"] == pytest.approx(2 / 3)
    assert m["chance_mean_rank"] == 2.0 and m["num_samples"] == 3.0


def test_shuffled_pairs_rank_last_and_ties_count_against():
    # Caption i describes image perm[i]. Orthogonal features: the true pair scores 1 only where perm[i] == i;
    # elsewhere it scores 0 and ties with N-1 other zeros, so its rank is N (pessimistic ties).
    n = 6
    perm = [0, 2, 1, 3, 5, 4]
    images = torch.eye(n)
    texts = images[perm]
    ranks = true_item_ranks(images, texts)
    assert ranks.tolist() == [1, n, n, 1, n, n]
    m = retrieval_metrics(images, texts, ks=(1, 5), ties="pessimistic")
    assert m["image_to_text_R@1"] == pytest.approx(2 / 6)
    assert m["image_to_text_R@5"] == pytest.approx(2 / 6)
    assert m["image_to_text_mean_rank"] == pytest.approx((1 + 6 + 6 + 1 + 6 + 6) / 6)
    assert m["image_to_text_median_rank"] == 6.0


def test_collapsed_features_score_zero_not_perfect():
    ones = torch.ones(20, 4)
    m = retrieval_metrics(ones, ones, ties="pessimistic")
    assert m["image_to_text_R@1"] == 0.0 and m["text_to_image_R@10"] == 0.0
    assert m["image_to_text_mean_rank"] == 20.0


def test_matches_a_brute_force_argsort_and_chunking_does_not_matter():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(57, 8)).astype(np.float32)
    texts = (images + rng.normal(scale=1.5, size=images.shape)).astype(np.float32)
    m = retrieval_metrics(images, texts, chunk_size=7, ties="pessimistic")  # numpy in, odd chunks
    same = retrieval_metrics(torch.from_numpy(images), torch.from_numpy(texts), chunk_size=1000, ties="pessimistic")
    assert m == same
    assert m == retrieval_metrics(images, texts, chunk_size=7)  # no ties: both rules agree
    a = images / np.linalg.norm(images, axis=1, keepdims=True)
    b = texts / np.linalg.norm(texts, axis=1, keepdims=True)
    for name, sims in (("image_to_text", a @ b.T), ("text_to_image", b @ a.T)):
        order = np.argsort(-sims, axis=1)
        ranks = np.array([int(np.where(order[i] == i)[0][0]) + 1 for i in range(len(sims))])
        for k in (1, 5, 10):
            assert m[f"{name}_R@{k}"] == pytest.approx(float(np.mean(ranks <= k)))
        assert m[f"{name}_mean_rank"] == pytest.approx(ranks.mean())
        assert m[f"{name}_median_rank"] == pytest.approx(float(np.median(ranks)))
    assert 0 < m["image_to_text_R@1"] < 1  # the data are neither trivial nor hopeless


def test_feature_scale_does_not_matter():
    rng = np.random.default_rng(1)
    images, texts = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    scales = rng.uniform(0.1, 10, size=(30, 1))
    assert retrieval_metrics(images, texts) == retrieval_metrics(images * scales, texts)


@pytest.mark.parametrize("shapes", [((4, 3), (5, 3)), ((4,), (4,)), ((0, 3), (0, 3))])
def test_unpaired_or_empty_features_are_refused(shapes):
    with pytest.raises(ValueError):
        retrieval_metrics(torch.zeros(shapes[0]), torch.zeros(shapes[1]))


def official_get_metrics(image_features: torch.Tensor, text_features: torch.Tensor) -> dict[str, float]:
    """The reference's `get_metrics` rules, written out from its description (pmc-clip.md §5.1): full-matrix
    argsort, position of the diagonal, mean = mean(pos) + 1, median = floor(median(pos)) + 1, R@k = mean(pos < k)."""
    logits_per_image = image_features @ text_features.t()
    out = {}
    for name, logit in (("image_to_text", logits_per_image), ("text_to_image", logits_per_image.t())):
        ranking = torch.argsort(logit, descending=True)
        preds = torch.where(ranking == torch.arange(len(logit)).view(-1, 1))[1].numpy()
        out[f"{name}_mean_rank"] = preds.mean() + 1
        out[f"{name}_median_rank"] = np.floor(np.median(preds)) + 1
        for k in (1, 5, 10):
            out[f"{name}_R@{k}"] = np.mean(preds < k)
    return out


def _with_duplicates(n_unique: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs drawn with replacement from n_unique distinct pairs, as the reference's 2k subset is: duplicates tie."""
    g = torch.Generator().manual_seed(seed)
    base_img = torch.nn.functional.normalize(torch.randn(n_unique, 16, generator=g), dim=-1)
    base_txt = torch.nn.functional.normalize(base_img + 0.8 * torch.randn(n_unique, 16, generator=g), dim=-1)
    draw = torch.randint(0, n_unique, (n,), generator=g)
    return base_img[draw], base_txt[draw]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_official_rule_equals_the_reference_rules_on_a_matrix_with_duplicates(seed):
    images, texts = _with_duplicates(60, 200, seed)
    expected = official_get_metrics(images, texts)
    got = retrieval_metrics(images, texts, chunk_size=64)
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value)), key
    # duplicates exist and the two rules really disagree on them
    assert len(set(map(tuple, images.tolist()))) < 200
    assert retrieval_metrics(images, texts, ties="pessimistic")["image_to_text_R@1"] < got["image_to_text_R@1"]


def test_official_median_is_floored_on_zero_based_positions():
    # Four queries with true items at positions 0, 0, 1, 2 (ranks 1, 1, 2, 3): median(pos) = 0.5 -> floor 0 -> 1.
    images = torch.eye(4)
    texts = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0.9, 0, 0.1, 0], [0.9, 0.2, 0, 0.05]])
    m = retrieval_metrics(images, texts, ks=(1,))
    assert m["text_to_image_median_rank"] == 1.0
    assert retrieval_metrics(images, texts, ks=(1,), ties="pessimistic")["text_to_image_median_rank"] == 1.5


def test_unknown_tie_rule_is_refused():
    with pytest.raises(ValueError, match="ties"):
        retrieval_metrics(torch.eye(3), torch.eye(3), ties="optimistic")


def test_duplicate_captions_hand_computed_under_both_rules():
    # Images 0 and 1 share one caption ("Western blot."): texts 0 and 1 are the same vector, and so are the score
    # rows of images 0 and 1. Pessimistic: both duplicates rank 2. Official: the two identical rows are sorted the
    # same way, so exactly one of the pair is first and the other second, whatever torch does with the tie.
    images = torch.eye(3)
    shared = torch.tensor([1.0, 1.0, 0.0])
    texts = torch.stack([shared, shared, torch.tensor([0.0, 0.0, 1.0])])
    pessimistic = retrieval_metrics(images, texts, ks=(1, 2), ties="pessimistic")
    official = retrieval_metrics(images, texts, ks=(1, 2))
    for direction in ("image_to_text", "text_to_image"):
        assert pessimistic[f"{direction}_R@1"] == pytest.approx(1 / 3)
        assert pessimistic[f"{direction}_mean_rank"] == pytest.approx(5 / 3)
        assert pessimistic[f"{direction}_median_rank"] == 2.0
        assert official[f"{direction}_R@1"] == pytest.approx(2 / 3)
        assert official[f"{direction}_R@2"] == 1.0
        assert official[f"{direction}_mean_rank"] == pytest.approx(4 / 3)
        assert official[f"{direction}_median_rank"] == 1.0
