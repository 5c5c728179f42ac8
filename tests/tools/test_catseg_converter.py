"""tools/model_converters/catseg.py and the conversion it wraps: every key of the authors' layout
maps, the round trip is exact, the converted model equals the natively loaded one, bad
checkpoints are one clear error (another tower named with both sizes; unknown keys listed)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from mmengine.registry import init_default_scope

from dense_clip.models.catseg import CATSegModel, build_aggregator
from dense_clip.models.catseg.checkpoint import load_catseg_weights
from dense_clip.models.catseg.convert import AGGREGATOR_RULES, _compile, from_authors, to_authors
from dense_clip.testing.catseg import AuthorsCATSegSizes, seeded_authors_catseg
from dense_clip.utils.checkpoint import CheckpointError
from tests.conftest import REPO, load_tool

SIZES = AuthorsCATSegSizes(vision_layers=4, vision_width=64, text_width=32, text_layers=1)


def tiny_segmentor(**kwargs):
    """A CATSegSegmentor whose sizes match ``SIZES`` (guidance blocks 1 and 2)."""
    from dense_clip.seg.catseg import CATSegSegmentor

    init_default_scope('mmseg')
    s = SIZES
    clip_cfg = dict(embed_dim=s.embed_dim, quick_gelu=True,
                    vision_cfg=dict(image_size=s.image_resolution, patch_size=s.patch,
                                    width=s.vision_width, layers=s.vision_layers, head_width=64),
                    text_cfg=dict(context_length=77, vocab_size=49408, width=s.text_width,
                                  heads=1, layers=s.text_layers))
    aggregator = dict(hidden_dim=s.hidden_dim, num_layers=s.num_layers, num_heads=4,
                      window_size=s.window_size, pooling_size=(1, 1), pad_len=8,
                      text_proj_dim=s.text_proj_dim, appearance_proj_dim=s.appearance_proj_dim,
                      decoder_dims=s.decoder_dims, decoder_guidance_dims=s.decoder_guidance_dims,
                      decoder_guidance_proj_dims=s.decoder_guidance_proj_dims)
    return CATSegSegmentor(clip=dict(model_cfg=clip_cfg), clip_resolution=24 * s.patch,
                           guidance_layers=(1, 2), guidance_dims=s.decoder_guidance_dims,
                           aggregator=aggregator, text=dict(vocabulary=['cat', 'sky, heaven']),
                           test_cfg=dict(mode='whole'), **kwargs).eval()


@pytest.fixture(scope='module')
def authors_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('authors') / 'model_tiny.pth'
    torch.save({'model': seeded_authors_catseg(SIZES, seed=3), 'iteration': 10}, path)
    return path


def test_every_authors_key_maps_and_the_round_trip_is_exact():
    authors = seeded_authors_catseg(SIZES, seed=3)
    ours = from_authors(authors)
    model = tiny_segmentor().catseg
    assert set(ours) == set(model.state_dict())  # every key maps, none is left over
    for key, value in ours.items():
        assert value.shape == model.state_dict()[key].shape, key
    back = to_authors(ours)
    assert set(back) == set(authors)
    for key in authors:
        assert torch.equal(back[key], authors[key]), key


def test_each_key_matches_exactly_one_rule_per_direction():
    ours = from_authors(seeded_authors_catseg(SIZES))
    authors = [k.removeprefix('sem_seg_head.predictor.transformer.')
               for k in seeded_authors_catseg(SIZES) if '.transformer.' in k
               and not k.startswith('sem_seg_head.predictor.clip_model.')
               and not k.endswith('attn_mask')]
    mine = [k.removeprefix('aggregator.') for k in ours if k.startswith('aggregator.')]
    for keys, side in ((authors, 0), (mine, 1)):
        for key in keys:
            hits = [rule for rule in AGGREGATOR_RULES if _compile(rule[side]).match(key)]
            assert len(hits) == 1, (key, hits)


def test_converted_model_equals_natively_loaded(tmp_path, authors_file):
    cli = load_tool('model_converters/catseg.py')
    converted = tmp_path / 'converted.pth'
    cli.main([str(authors_file), str(converted)])
    image = torch.randn(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    native = tiny_segmentor(weights=str(authors_file))
    native.init_weights()
    via_file = tiny_segmentor()
    checkpoint = torch.load(converted, map_location='cpu', weights_only=True)['state_dict']
    via_file.load_state_dict(checkpoint)  # strict: every key, as tools/test.py loads it
    torch.testing.assert_close(via_file.predict(image)[0].seg_logits.data,
                               native.predict(image)[0].seg_logits.data, atol=0, rtol=0)
    back = tmp_path / 'back.pth'
    cli.main([str(converted), str(back), '--to-authors'])
    original = torch.load(authors_file, weights_only=True)['model']
    again = torch.load(back, weights_only=True)['model']
    assert set(again) == set(original)
    assert all(torch.equal(again[k], original[k]) for k in original)


def test_cli_errors_are_one_line(tmp_path, tool_env):
    bad = tmp_path / 'bad.pth'
    state = seeded_authors_catseg(SIZES)
    state['sem_seg_head.predictor.transformer.extra.weight'] = torch.zeros(1)
    state['backbone.stem.weight'] = torch.zeros(1)
    torch.save({'model': state}, bad)
    result = subprocess.run([sys.executable, 'tools/model_converters/catseg.py', str(bad),
                             str(tmp_path / 'out.pth')], cwd=REPO, env=tool_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and 'Traceback' not in result.stderr
    assert "2 key(s) of no known CAT-Seg layout" in last
    assert 'backbone.stem.weight' in last and 'transformer.extra.weight' in last


def test_an_l14_checkpoint_into_a_b16_config_names_both_towers(tmp_path):
    """Shapes only: an authors' L/14 layout (image tower keys) against a real B/16 CAT-Seg built
    on the meta device (no memory, no weights)."""
    import open_clip

    with torch.device('meta'):
        clip = open_clip.CLIP(**open_clip.get_model_config('ViT-B-16'))
        model = CATSegModel(clip, build_aggregator(1, 512))
    prefix = 'sem_seg_head.predictor.clip_model.visual.'
    state = {f'{prefix}conv1.weight': torch.zeros(1024, 3, 14, 14),
             f'{prefix}positional_embedding': torch.zeros(577, 1024)}
    for i in range(24):
        state[f'{prefix}transformer.resblocks.{i}.ln_1.weight'] = torch.zeros(1024)
    path = tmp_path / 'model_large.pth'
    torch.save({'model': state}, path)
    with pytest.raises(CheckpointError) as err:
        load_catseg_weights(model, path)
    message = str(err.value)
    assert 'ViT-L/14 (width 1024, 24 blocks, patch 14, input 336)' in message
    assert 'ViT-B/16 (width 768, 12 blocks, patch 16, input 224)' in message
    assert re.search(r'model_large\.pth', message)


def test_a_wrong_mask_or_a_missing_qkv_part_is_an_error():
    state = seeded_authors_catseg(SIZES)
    key = 'sem_seg_head.predictor.transformer.layers.0.swin_block.block_2.attn_mask'
    broken = dict(state)
    broken[key] = torch.zeros_like(state[key])
    with pytest.raises(CheckpointError, match='shifted-window mask of a 24x24 grid'):
        from_authors(broken)
    broken = dict(state)
    prefix = 'sem_seg_head.predictor.clip_model.visual.transformer.resblocks.0.attn.'
    del broken[prefix + 'k_proj_weight']
    with pytest.raises(CheckpointError, match=r"resblocks.0.attn lacks \['k_proj_weight'\]"):
        from_authors(broken)
