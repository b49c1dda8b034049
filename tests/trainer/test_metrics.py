"""Retrieval metrics against hand-computed rankings."""

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
    m = retrieval_metrics(images, texts, ks=(1, 5))
    assert m["image_to_text_R@1"] == pytest.approx(2 / 6)
    assert m["image_to_text_R@5"] == pytest.approx(2 / 6)
    assert m["image_to_text_mean_rank"] == pytest.approx((1 + 6 + 6 + 1 + 6 + 6) / 6)
    assert m["image_to_text_median_rank"] == 6.0


def test_collapsed_features_score_zero_not_perfect():
    ones = torch.ones(20, 4)
    m = retrieval_metrics(ones, ones)
    assert m["image_to_text_R@1"] == 0.0 and m["text_to_image_R@10"] == 0.0
    assert m["image_to_text_mean_rank"] == 20.0


def test_matches_a_brute_force_argsort_and_chunking_does_not_matter():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(57, 8)).astype(np.float32)
    texts = (images + rng.normal(scale=1.5, size=images.shape)).astype(np.float32)
    m = retrieval_metrics(images, texts, chunk_size=7)  # numpy in, odd chunks
    assert m == retrieval_metrics(torch.from_numpy(images), torch.from_numpy(texts), chunk_size=1000)
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
