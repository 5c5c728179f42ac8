"""CLIP-DINOiser maths, teachers and the checkpoint converter (no mmseg needed)."""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from dense_clip.models.dinoiser import (
    BackgroundHead,
    CorrelationHead,
    OracleTeacher,
    ProxyTeacher,
    background_override,
    found_background,
    heads_state_dict,
    pooled_refinement,
    to_authors,
    to_dense_clip,
)
from tests.conftest import load_tool


def test_pooled_refinement_matches_the_loop_formula():
    torch.manual_seed(0)
    feats = torch.randn(2, 5, 3, 4)
    corr = torch.rand(2, 12, 12) * 2 - 1
    got = pooled_refinement(feats, corr, threshold=0.2)
    f = feats.flatten(2)
    for b in range(2):
        for i in range(12):
            c = torch.where(corr[b, i] < 0.2, torch.zeros(()), corr[b, i])
            ref = (c[None] * f[b]).sum(-1) / (c.sum() + 1e-6)
            torch.testing.assert_close(got[b, :, i // 4, i % 4], ref)


def test_correlation_head_gives_cosines_with_replicate_padding():
    head = CorrelationHead(8, 6, 3)
    assert head.conv.padding_mode == 'replicate' and head.conv.padding == (1, 1)
    feats = torch.randn(1, 8, 3, 3)
    corr = head.correlations(feats)
    p = F.normalize(head.conv(feats).flatten(2)[0], dim=0)
    torch.testing.assert_close(corr[0], p.T @ p)
    torch.testing.assert_close(corr[0].diagonal(), torch.ones(9))


def test_background_head_sees_normalised_features():
    head = BackgroundHead(8)
    feats = torch.randn(1, 8, 2, 2)
    torch.testing.assert_close(head(feats), head(feats * 7.0))


def test_background_override_only_on_uncertain_non_salient_cells():
    # 3 names: two background synonyms (class 0) and one object (class 1); 4 cells
    logits = torch.tensor([[0.1, 0.1, 0.1, 0.1], [0.0, 0.0, 0.0, 0.0], [0.5, 0.1, 0.5, 0.1]])
    probs = (100 * logits.reshape(1, 3, 2, 2)).softmax(1)
    fg = torch.tensor([-1.0, -1.0, 1.0, 1.0]).reshape(1, 1, 2, 2)  # cells 0, 1 non-salient
    out = background_override(probs, fg, torch.tensor([0, 0, 1]), 0)
    # cell 0 is certain (prob ~1 on the object); cell 1 is uncertain and non-salient: its
    # background names get probability 1, the object keeps its probability
    assert out[0, :2, 0, 1].eq(1.0).all() and out[0, 2, 0, 1] == probs[0, 2, 0, 1]
    torch.testing.assert_close(out[0, :, 0, 0], probs[0, :, 0, 0])
    torch.testing.assert_close(out[0, :, 1], probs[0, :, 1])  # salient cells untouched


def test_oracle_teacher_targets():
    labels = torch.zeros(1, 8, 8, dtype=torch.long)
    labels[0, :4, :4] = 3
    labels[0, 4:, 4:] = 255
    sample = type('S', (), {})()
    sample.gt_sem_seg = type('P', (), {'data': labels})()
    targets = OracleTeacher()(torch.zeros(1, 3, 8, 8), [sample], (2, 2))
    cells = torch.tensor([3, 0, 0, 255])
    torch.testing.assert_close(targets['valid'][0], cells != 255)
    torch.testing.assert_close(targets['fg'].flatten(), (cells != 0).float())
    assert targets['corr'][0, 1, 2] == 1 and targets['corr'][0, 0, 1] == 0


def test_found_background_follows_the_least_attended_seed():
    # 2 heads, 4 patches: patch 3 gets the least attention; patches 2, 3 share a key direction
    attn = torch.tensor([[0.4, 0.3, 0.2, 0.05], [0.4, 0.3, 0.2, 0.05]]).reshape(1, 2, 2, 2)
    keys = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 1.0]])
    keys = keys[None, None].expand(1, 2, 4, 2)
    mask = found_background(attn, keys, threshold=0.3)
    assert mask.flatten().tolist() == [False, False, True, True]


def test_proxy_teacher_targets_are_binary_on_the_clip_grid():
    teacher = ProxyTeacher(dict(type='dino_vitb8', tiny=True, feature='v'))
    out = teacher(torch.randn(2, 3, 32, 32), None, (2, 2))
    assert out['corr'].shape == (2, 4, 4) and out['fg'].shape == (2, 1, 2, 2)
    assert set(out['corr'].unique().tolist()) <= {0.0, 1.0}
    assert out['corr'][:, range(4), range(4)].eq(1).all()


def authors_checkpoint(width=32, dim=16):
    torch.manual_seed(1)
    return {'epoch': 99, 'model_state_dict': {
        'obj_proj.bias': torch.randn(dim), 'obj_proj.weight': torch.randn(dim, width, 3, 3),
        'bkg_decoder.bias': torch.randn(1), 'bkg_decoder.weight': torch.randn(1, width, 1, 1)}}


def test_key_mapping_round_trip():
    ckpt = authors_checkpoint()
    ours = to_dense_clip(ckpt)
    assert sorted(ours) == ['bkg_head.conv.bias', 'bkg_head.conv.weight', 'corr_head.conv.bias',
                            'corr_head.conv.weight']
    back = to_authors(ours, epoch=99)
    assert back.keys() == ckpt.keys()
    for key, value in ckpt['model_state_dict'].items():
        assert torch.equal(back['model_state_dict'][key], value)
    assert heads_state_dict({'state_dict': {**ours, 'clip_model.x': torch.zeros(1)}}).keys() \
        == ours.keys()


def load_converter():
    return load_tool('model_converters/clip_dinoiser.py')


def test_converter_round_trip_through_files(tmp_path):
    ckpt = authors_checkpoint()
    src = tmp_path / 'last.pt'
    torch.save(ckpt, src)
    tool = load_converter()
    tool.convert(src, tmp_path / 'ours.pth')
    tool.convert(tmp_path / 'ours.pth', tmp_path / 'ours.safetensors')
    tool.convert(tmp_path / 'ours.safetensors', tmp_path / 'back.pt', to_authors_layout=True)
    back = torch.load(tmp_path / 'back.pt', weights_only=True)
    assert sorted(back) == ['epoch', 'model_state_dict']
    for key, value in ckpt['model_state_dict'].items():
        assert torch.equal(back['model_state_dict'][key], value)


def test_converter_cli(tmp_path, monkeypatch, capsys):
    torch.save(authors_checkpoint(), tmp_path / 'last.pt')
    monkeypatch.setattr(sys, 'argv', ['clip_dinoiser.py', str(tmp_path / 'last.pt'),
                                      str(tmp_path / 'ours.pth')])
    load_converter().main()
    assert 'corr_head.conv.weight: (16, 32, 3, 3)' in capsys.readouterr().out
