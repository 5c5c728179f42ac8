"""Trident: the authors' resize, window splicing, SAM's last-block attention and affinity, and
the segmentor on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dense_clip.models.sam import build_sam
from dense_clip.models.sam.affinity import SAMAttention, sam_affinity, sam_last_attention
from dense_clip.seg.segmentors.trident_segmentor import splice_windows, trident_input_size


def test_input_size_follows_the_authors_preprocess_image():
    # seg_utils/utils.py preprocess_image: unchanged when both sides are multiples of the patch;
    # else the longer side rounds up, the shorter scales (truncated) and rounds up, both >= crop.
    assert trident_input_size(320, 480, 16, (336, 336)) == (320, 480)
    assert trident_input_size(375, 500, 16, (336, 336)) == (384, 512)
    assert trident_input_size(300, 200, 16, (336, 336)) == (336, 336)
    assert trident_input_size(448, 597, 16, (336, 336)) == (464, 608)  # int(456.25) -> 464


def test_splicing_averages_overlapping_windows():
    maps = torch.stack([torch.full((2, 2, 2), 1.0), torch.full((2, 2, 2), 3.0)])
    spliced = splice_windows(maps, [(0, 16, 0, 16), (0, 16, 8, 24)], (8, 8), (16, 24), 1)
    assert spliced.shape == (2, 2, 3)
    assert spliced[0, 0].tolist() == [1.0, 2.0, 3.0]
    doubled = splice_windows(torch.ones(1, 1, 4, 4), [(0, 16, 0, 16)], (8, 8), (16, 16), 2)
    assert doubled.shape == (1, 4, 4)
    with pytest.raises(ValueError, match='patch grid'):
        splice_windows(maps[:1], [(0, 16, 4, 20)], (8, 8), (16, 24), 1)


def _authors_affinity(attn, values, cos_fac, refine_neg_cos):
    # The maths of get_sam_sim (YuHengsss/Trident open_clip/transformer.py), all heads at once.
    v = F.normalize(values[None], dim=-1)  # (1, heads, N, d)
    sim = torch.einsum('bhmc,bhnc->bhmn', v, v)
    thresh = cos_fac * sim.mean(dim=1, keepdim=True).mean(dim=-1, keepdim=True)
    if not refine_neg_cos:
        thresh = torch.where(thresh < 0.0, 0.6, thresh)
    thresh = torch.where(thresh > 0.9, 0.9, thresh)
    kept = torch.where(sim > thresh, attn[None], torch.zeros_like(attn[None])).mean(dim=1)
    return (kept / kept.sum(dim=-1, keepdim=True))[0]


@pytest.mark.parametrize(('cos_fac', 'refine'), [(1.2, True), (0.0, True), (3.0, False)])
def test_affinity_matches_the_authors_formula(cos_fac, refine):
    torch.manual_seed(0)
    attn = torch.rand(3, 20, 20).softmax(dim=-1)
    values = torch.randn(3, 20, 8)
    values[1] -= 2 * values[1].mean(dim=0)  # some negative mean similarities
    ours = sam_affinity(SAMAttention(attn, values, (4, 5)), cos_fac, refine)
    torch.testing.assert_close(ours, _authors_affinity(attn, values, cos_fac, refine))
    torch.testing.assert_close(ours.sum(dim=-1), torch.ones(20))


def test_last_block_attention_reproduces_sams_own_block_output():
    torch.manual_seed(0)
    sam = build_sam('vit_b', tiny=True)
    rgb = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    outputs = {}
    last = sam.image_encoder.blocks[-1]
    handle = last.register_forward_hook(lambda m, i, o: outputs.update(x=i[0], y=o))
    with torch.no_grad():
        from segment_anything.utils.transforms import ResizeLongestSide

        pixels = torch.as_tensor(ResizeLongestSide(64).apply_image(rgb)).permute(2, 0, 1)[None]
        sam.image_encoder(sam.preprocess(pixels.float()))
    handle.remove()
    attention = sam_last_attention(sam, rgb)
    assert attention.grid == (8, 8)
    torch.testing.assert_close(attention.attn.sum(dim=-1), torch.ones(2, 64))  # no padding
    heads, n, d = attention.values.shape
    mixed = (attention.attn @ attention.values).reshape(heads, 8, 8, d)
    mixed = mixed.permute(1, 2, 0, 3).reshape(1, 8, 8, heads * d)
    x = outputs['x']
    y = x + last.attn.proj(mixed)
    y = y + last.mlp(last.norm2(y))
    torch.testing.assert_close(y, outputs['y'], atol=1e-5, rtol=1e-5)


def test_attention_is_cut_to_the_valid_grid_of_a_wide_image():
    torch.manual_seed(0)
    sam = build_sam('vit_b', tiny=True)
    rgb = np.random.default_rng(1).integers(0, 256, (20, 64, 3), dtype=np.uint8)
    attention = sam_last_attention(sam, rgb)
    assert attention.grid == (2, 8)  # resized to 20x64 of the padded 64x64 input, patch 8
    assert attention.attn.shape == (2, 16, 16) and attention.values.shape == (2, 16, 16)
    assert (attention.attn.sum(dim=-1) < 1).all()  # softmax ran over the padded grid too


@pytest.mark.parametrize(('method', 'benchmark'), [
    ('trident', 'voc21'), ('trident', 'voc20'), ('trident', 'cityscapes'), ('trident', 'ade150'),
    ('trident-samrefine', 'voc21'), ('trident-samrefine', 'cityscapes')])
def test_tools_test_runs_trident_configs(method, benchmark, tmp_path, monkeypatch, capsys):
    import sys

    from mmengine.config import Config

    from dense_clip.testing import TINY_VIT_CFG
    from dense_clip.testing.datasets import write_benchmark_dataset
    from tests.conftest import REPO, load_tool

    config = REPO / 'configs' / 'trident' / f'{method}_vit-b16_{benchmark}.py'
    cfg = Config.fromfile(config)
    assert cfg.model.type == 'TridentSegmentor' and cfg.model.sam.checkpoint == 'zoo://sam_vit_b'
    assert cfg.model.encoder.last_block.proxy.type == 'dino_vitb16'
    refine = [s for s in cfg.model.get('steps', []) if s['type'] == 'TridentSAMRefine']
    assert len(refine) == (method == 'trident-samrefine')  # the segmentor's SAM is shared
    write_benchmark_dataset(benchmark, tmp_path / 'data')
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{config}']\n"
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT_CFG!r}),\n'
        "             text=dict(templates='single', cache_dir=False),\n"
        "             encoder=dict(last_block=dict(proxy=dict(tiny=True))),\n"
        "             sam=dict(tiny=True), test_cfg=dict(crop_size=64, stride=32))\n"
        "pipeline = [dict(s, scale=(2048, 96)) if s['type'] == 'Resize' else s\n"
        "            for s in _base_.test_dataloader.dataset.pipeline]\n"
        'test_dataloader = dict(dataset=dict(pipeline=pipeline))\n')
    data_root = cfg.test_dataloader.dataset.data_root.removeprefix('data/')
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path / "data" / data_root}',
        'test_dataloader.num_workers=0', f'experiment_name=trident_{benchmark}'])
    metrics = load_tool('test.py').main()
    assert 0.0 <= metrics['mIoU'] <= 100.0
    assert 'mIoU' in capsys.readouterr().out
