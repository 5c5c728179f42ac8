"""Per-name probabilities (``to_name_probs``): every path, in place or not, gives the plain
softmax's values, and only a handed-over float32 map is overwritten."""

from __future__ import annotations

import pytest
import torch

from dense_clip.seg.steps.base import softmax_in_place, to_name_probs


@pytest.mark.parametrize('shape', [(1, 1, 5, 6), (1, 7, 13, 17), (2, 59, 9, 40), (1, 300, 3, 4)])
@pytest.mark.parametrize('channels_last', [False, True])
def test_softmax_in_place_equals_softmax(shape, channels_last):
    torch.manual_seed(0)
    x = torch.randn(shape) * 30
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    expected = x.softmax(dim=1)
    keep, contiguous = x.clone(), x.is_contiguous()  # one channel: both layouts at once
    got = softmax_in_place(x)
    assert torch.equal(got, expected)
    if not contiguous:  # aliasing would be wrong here: a new tensor, the input untouched
        assert torch.equal(x, keep) and got.data_ptr() != x.data_ptr()
    else:
        assert got.data_ptr() == x.data_ptr()  # written over its input


@pytest.mark.parametrize('space', ['cosine', 'logit', 'prob'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_to_name_probs_reuse_changes_nothing_but_the_handed_over_map(space, dtype):
    torch.manual_seed(0)
    scores = torch.randn(1, 6, 8, 9).to(dtype)
    keep = scores.clone()
    x = scores.float()
    expected = {'cosine': (x * 40.0).softmax(dim=1), 'logit': x.softmax(dim=1), 'prob': x}[space]
    assert torch.equal(to_name_probs(scores, space, 40.0), expected)
    assert torch.equal(scores, keep)  # not handed over: untouched
    assert torch.equal(to_name_probs(scores, space, 40.0, reuse=True), expected)
    if dtype == torch.bfloat16 or space == 'prob':
        assert torch.equal(scores, keep)  # a float32 copy was made (or nothing to compute)
    with pytest.raises(ValueError, match='unknown score space'):
        to_name_probs(scores, 'logits', 40.0)
