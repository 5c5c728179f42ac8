"""The text-embedding cache never hands one model's embeddings to another (item: cache key).

Entries are keyed by a digest of the text tower, so random weights from two seeds, or a weights
file replaced by another of the same size and modification time, get entries of their own.
"""

from __future__ import annotations

import copy
import os

import torch

from dense_clip.models.text import build_text_classifier
from dense_clip.testing import TINY_VIT_CFG, build_from_config, save_safetensors, tiny_segmentor


def fresh_embeddings(segmentor) -> torch.Tensor:
    """What the segmentor's text embeddings must be: computed now, no cache."""
    return build_text_classifier(segmentor.clip_model, segmentor.tokenizer,
                                 segmentor.vocabulary, segmentor.templates)


def test_random_weights_from_two_seeds_get_their_own_entries(tmp_path):
    cache = tmp_path / 'cache'
    first, second = (tiny_segmentor(seed=seed, text=dict(cache_dir=str(cache)))
                     for seed in (0, 1))  # pretrained=None: random weights, one per seed
    for segmentor in (first, second):
        segmentor.init_weights()
    first_embeddings = first.text_embeddings(first.vocabulary)
    second_embeddings = second.text_embeddings(second.vocabulary)
    torch.testing.assert_close(second_embeddings, fresh_embeddings(second))
    assert not torch.allclose(first_embeddings, second_embeddings)
    assert len(list(cache.glob('*.safetensors'))) == 2
    again = tiny_segmentor(seed=1, text=dict(cache_dir=str(cache)))  # same weights: a hit
    again.init_weights()
    torch.testing.assert_close(again.text_embeddings(again.vocabulary), second_embeddings)
    assert len(list(cache.glob('*.safetensors'))) == 2


def test_a_weights_file_replaced_with_the_same_size_and_date_is_not_confused(tmp_path):
    cache, path = tmp_path / 'cache', tmp_path / 'clip.safetensors'
    clip = dict(model_cfg=copy.deepcopy(TINY_VIT_CFG), pretrained=str(path))

    def segment_with(seed: int):
        save_safetensors(build_from_config(TINY_VIT_CFG, seed=seed), path)
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        segmentor = tiny_segmentor(clip=copy.deepcopy(clip), text=dict(cache_dir=str(cache)))
        segmentor.init_weights()
        return segmentor, path.stat()

    first, first_stat = segment_with(seed=3)
    first_embeddings = first.text_embeddings(first.vocabulary)
    second, second_stat = segment_with(seed=4)
    assert (second_stat.st_size, second_stat.st_mtime_ns) == (first_stat.st_size,
                                                              first_stat.st_mtime_ns)
    second_embeddings = second.text_embeddings(second.vocabulary)
    torch.testing.assert_close(second_embeddings, fresh_embeddings(second))
    assert not torch.allclose(first_embeddings, second_embeddings)
