"""CAT-Seg's q/v-only fine-tuning on open_clip's packed in_proj_weight, with mmengine's optimiser.

One AdamW step with the training configs' ``optim_wrapper`` (0.01x on the CLIP, no decay on the
packed attention weights, gradient clipping): the q and v rows move, the k rows and every other
CLIP tensor stay bit-identical. Without the no-decay rule the k rows would move (weight decay), so
the rule is what keeps them.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from torch import nn

from dense_clip.models.catseg import CATSegModel, apply_finetune, build_aggregator, qv_row_mask
from dense_clip.testing import tiny_clip_vit
from tests.conftest import REPO

TRAIN_BASE = REPO / 'configs' / 'catseg' / '_base_' / 'catseg_train_coco-stuff171-384.py'
AGG = dict(hidden_dim=32, num_layers=1, num_heads=4, window_size=4, pooling_size=(2, 2),
           pad_len=8, text_proj_dim=16, appearance_proj_dim=16, decoder_dims=(16, 16),
           decoder_guidance_dims=(12, 8), decoder_guidance_proj_dims=(4, 4))


class Wrapper(nn.Module):
    """Puts the model under ``catseg.`` as the segmentor does (the config's keys match)."""

    def __init__(self) -> None:
        super().__init__()
        clip = tiny_clip_vit(width=64, layers=3, heads=2, image_size=32, embed_dim=32)
        self.catseg = CATSegModel(clip, build_aggregator(1, 32, **AGG), guidance_layers=(0, 1),
                                  guidance_dims=(12, 8), clip_resolution=(64, 64))
        self.trainable = apply_finetune(clip, 'attention')

    def loss(self) -> torch.Tensor:
        clip = self.catseg.clip_model
        tokens = torch.randint(1, 400, (3, 77), generator=torch.Generator().manual_seed(0))
        tokens[:, 10] = 49407  # end of text
        text = F.normalize(clip.encode_text(tokens), dim=-1)[:, None]  # (K, 1, D), with grad
        images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
        labels = torch.randint(0, 3, (2, 32, 32), generator=torch.Generator().manual_seed(2))
        logits = self.catseg(images, text)
        return F.binary_cross_entropy_with_logits(
            logits, F.one_hot(labels, 3).permute(0, 3, 1, 2).float())


def step(model: Wrapper, optim_cfg: dict) -> dict[str, torch.Tensor]:
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optim = build_optim_wrapper(model, copy.deepcopy(optim_cfg))
    model.train()
    optim.update_params(model.loss())
    return before


def test_only_packed_attention_weights_train():
    model = Wrapper()
    trainable = [n for n, p in model.catseg.clip_model.named_parameters() if p.requires_grad]
    assert trainable == model.trainable and len(trainable) == 3 + 1  # 3 image, 1 text block
    assert all(name.endswith('attn.in_proj_weight') for name in trainable)
    assert qv_row_mask(torch.zeros(6, 2)).flatten().tolist() == [1, 1, 0, 0, 1, 1]
    with pytest.raises(ValueError, match='valid'):
        apply_finetune(model.catseg.clip_model, 'prompt')


def test_one_step_moves_q_and_v_rows_only():
    cfg = Config.fromfile(str(TRAIN_BASE)).optim_wrapper
    model = Wrapper()
    before = step(model, cfg)
    after = model.state_dict()
    clip_keys = [k for k in after if k.startswith('catseg.clip_model.')]
    moved = []
    for key in clip_keys:
        if not key.endswith('in_proj_weight'):
            assert torch.equal(after[key], before[key]), key  # frozen, bit-identical
            continue
        c = after[key].shape[1]
        assert torch.equal(after[key][c:2 * c], before[key][c:2 * c]), f'{key}: k rows moved'
        q_moved = not torch.equal(after[key][:c], before[key][:c])
        v_moved = not torch.equal(after[key][2 * c:], before[key][2 * c:])
        moved.append((key, q_moved, v_moved))
    # Every block's v rows train; q rows too, except in the dense last image block, whose
    # output does not depend on q (CATSegDense keeps each token's own value).
    last = 'catseg.clip_model.visual.transformer.resblocks.2.attn.in_proj_weight'
    for key, q_moved, v_moved in moved:
        assert v_moved, key
        assert q_moved == (key != last), key
    agg = [k for k in after if k.startswith('catseg.aggregator.') and 'weight' in k]
    assert any(not torch.equal(after[k], before[k]) for k in agg)


def test_weight_decay_alone_would_move_k_rows():
    """The no-decay rule is needed: with decay on the packed weights the k rows shrink."""
    cfg = Config.fromfile(str(TRAIN_BASE)).optim_wrapper
    del cfg.paramwise_cfg.custom_keys['attn.in_proj_weight']
    cfg.optimizer.weight_decay = 0.5  # large enough to see after one step
    model = Wrapper()
    before = step(model, cfg)
    key = 'catseg.clip_model.transformer.resblocks.0.attn.in_proj_weight'
    c = before[key].shape[1]
    assert not torch.equal(model.state_dict()[key][c:2 * c], before[key][c:2 * c])
