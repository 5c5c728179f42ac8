"""tools/test.py runs the SAM-refined configs (configs/sam/) on tiny copies of the benchmarks.

As tests/seg/test_benchmark_configs.py: the config's CLIP is a tiny random one, its templates a
single one, its resize 160 px; its SAM becomes a tiny random one whose automatic generator keeps
every mask (random SAM weights cannot pass the released thresholds). The rest of the protocol
is the config's own.
"""

from __future__ import annotations

import sys

import pytest

from dense_clip.testing import TINY_VIT_CFG as TINY_VIT
from dense_clip.testing.datasets import write_benchmark_dataset
from tests.conftest import REPO, load_tool

BENCHMARKS = ('voc21', 'context60', 'coco_object', 'voc20', 'context59', 'coco_stuff171',
              'cityscapes', 'ade150', 'ade847', 'context459')
# SCLIP on every benchmark; each other method on one.
CASES = [('sclip', b) for b in BENCHMARKS] + [
    ('maskclip', 'voc21'), ('clearclip', 'context60'), ('naclip', 'coco_object'),
    ('proxyclip', 'ade150')]
TINY_GENERATOR = dict(type='SAMAutomaticMasks', sam=dict(tiny=True), points_per_side=4,
                      pred_iou_thresh=0.0, stability_score_thresh=0.0)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('benchmarks')
    for name in BENCHMARKS:
        write_benchmark_dataset(name, root)
    return root


@pytest.mark.parametrize(('method', 'benchmark'), CASES)
def test_tools_test_runs_sam_refined_configs(method, benchmark, data_dir, tmp_path, monkeypatch,
                                             capsys):
    config = REPO / 'configs' / 'sam' / f'{method}-sam_vit-b16_{benchmark}.py'
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    assert cfg.model.steps[-1].type == 'SAMRefine'
    assert cfg.model.steps[-1].generator.sam.checkpoint == 'zoo://sam_vit_b'
    plain = Config.fromfile(REPO / 'configs' / method / f'{method}_vit-b16_{benchmark}.py')
    assert cfg.model.steps[:-1] == plain.model.steps  # the method's own steps come first
    proxy = 'encoder=dict(last_block=dict(proxy=dict(tiny=True))), ' \
        if method == 'proxyclip' else ''
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{config}']\n"
        'steps = _base_.model.steps[:-1] + [\n'
        f'    dict(_base_.model.steps[-1], generator={TINY_GENERATOR!r})]\n'
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT!r}),\n'
        f"             text=dict(templates='single', cache_dir=False), {proxy}\n"
        '             steps=steps, test_cfg=dict(windows_per_batch=8))\n'
        "pipeline = [dict(s, scale=(2048, 160)) if s['type'] == 'Resize' else s\n"
        "            for s in _base_.test_dataloader.dataset.pipeline]\n"
        'test_dataloader = dict(dataset=dict(pipeline=pipeline))\n')
    data_root = cfg.test_dataloader.dataset.data_root
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={data_dir / data_root.removeprefix("data/")}',
        'test_dataloader.num_workers=0', f'experiment_name=sam_{method}_{benchmark}'])
    metrics = load_tool('test.py').main()
    assert 0.0 <= metrics['mIoU'] <= 100.0
    assert 'mIoU' in capsys.readouterr().out


def test_a_sam_checkpoint_of_another_type_is_one_error_line_before_any_image(
        tmp_path, monkeypatch, capsys):
    import torch

    from dense_clip.utils.cli import run_cli

    # The authors' vit_l layout given to a config that builds vit_b (tiny sizes, same check).
    state = {f'image_encoder.blocks.{i}.norm1.weight': torch.ones(1024) for i in range(24)}
    checkpoint = tmp_path / 'sam_vit_l_0b3195.pth'
    torch.save(state, checkpoint)
    config = REPO / 'configs' / 'sam' / 'sclip-sam_vit-b16_voc21.py'
    generator = dict(TINY_GENERATOR, sam=dict(model_type='vit_b', checkpoint=str(checkpoint),
                                              arch=dict(img_size=64, patch_size=8, embed_dim=32,
                                                        depth=2, num_heads=2,
                                                        global_attn_indexes=(1,),
                                                        window_size=4, prompt_dim=32,
                                                        mask_in_chans=8, decoder_mlp_dim=64,
                                                        decoder_heads=2, iou_hidden_dim=32)))
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{config}']\n"
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT!r}),\n'
        f"             text=dict(templates='single', cache_dir=False),\n"
        f"             steps=[dict(type='SAMRefine', generator={generator!r})])\n")
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={tmp_path / "nowhere"}',
        'experiment_name=sam_wrong_type'])
    with pytest.raises(SystemExit):
        run_cli(load_tool('test.py').main)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith('error: ValueError: SAM checkpoint')
    assert 'vit_l (width 1024, 24 blocks)' in err and 'builds an unreleased size (width 32' in err


def test_tools_test_runs_the_mask_voting_config(data_dir, tmp_path, monkeypatch):
    config = REPO / 'configs' / 'sam' / 'maskclip-samvote_vit-b16_coco_object.py'
    from mmengine.config import Config

    cfg = Config.fromfile(config)
    assert cfg.model.steps[-1].type == 'MaskClassify' and cfg.model.test_cfg.mode == 'whole'
    tiny = tmp_path / 'tiny.py'
    tiny.write_text(
        f"_base_ = ['{config}']\n"
        f'model = dict(clip=dict(_delete_=True, model_cfg={TINY_VIT!r}),\n'
        f"             text=dict(templates='single', cache_dir=False),\n"
        f"             steps=[dict(type='MaskClassify', generator={TINY_GENERATOR!r})])\n"
        "pipeline = [dict(s, scale=(2048, 160)) if s['type'] == 'Resize' else s\n"
        "            for s in _base_.test_dataloader.dataset.pipeline]\n"
        'test_dataloader = dict(dataset=dict(pipeline=pipeline))\n')
    data_root = cfg.test_dataloader.dataset.data_root
    monkeypatch.setattr(sys, 'argv', [
        'tools/test.py', str(tiny), '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'test_dataloader.dataset.data_root={data_dir / data_root.removeprefix("data/")}',
        'test_dataloader.num_workers=0', 'experiment_name=sam_vote'])
    assert 0.0 <= load_tool('test.py').main()['mIoU'] <= 100.0
