"""tools/model_converters/regionclip.py on tiny checkpoints in RegionCLIP's detectron2 layout: every
key maps or is a known dropped group, unknown keys are named, and the converted CLIP's region
embeddings equal RegionCLIP's own computation on the original tensors."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import roi_align

from dense_clip.models.clip import CLIPDenseEncoder, build_openai_model, read_state_dict
from dense_clip.models.region import RegionEncoder
from dense_clip.models.region.regionclip_checkpoint import (
    convert_regionclip,
    read_regionclip_checkpoint,
)
from dense_clip.testing import save_openai_state_dict, tiny_clip_resnet
from dense_clip.testing.regionclip import regionclip_state_dict, save_regionclip_checkpoint
from tests.conftest import REPO, load_tool


# -- RegionCLIP's region feature written out from the raw detectron2 tensors (clip_backbone.py:
# FrozenBatchNorm2d, Bottleneck with avg-pool strides, AttentionPool2d; CLIPRes5ROIHeads with
# ROIAlignV2 = aligned RoIAlign, adaptive sampling) ---------------------------------------------
def _bn(x, sd, p, eps=1e-5):
    scale = sd[f'{p}.weight'] * (sd[f'{p}.running_var'] + eps).rsqrt()
    shift = sd[f'{p}.bias'] - sd[f'{p}.running_mean'] * scale
    return x * scale[None, :, None, None] + shift[None, :, None, None]


def _block(x, sd, p, stride):
    out = F.relu(_bn(F.conv2d(x, sd[f'{p}.conv1.weight']), sd, f'{p}.bn1'))
    out = F.relu(_bn(F.conv2d(out, sd[f'{p}.conv2.weight'], padding=1), sd, f'{p}.bn2'))
    if stride > 1:
        out = F.avg_pool2d(out, stride)
    out = _bn(F.conv2d(out, sd[f'{p}.conv3.weight']), sd, f'{p}.bn3')
    identity = x
    if f'{p}.downsample.0.weight' in sd:
        identity = F.avg_pool2d(x, stride) if stride > 1 else x
        identity = _bn(F.conv2d(identity, sd[f'{p}.downsample.0.weight']), sd,
                       f'{p}.downsample.1')
    return F.relu(out + identity)


def _layer(x, sd, name):
    blocks = sorted({int(k.split('.')[2]) for k in sd if k.startswith(f'{name}.')})
    for i in blocks:
        x = _block(x, sd, f'{name}.{i}', 2 if (i == 0 and name != 'backbone.layer1') else 1)
    return x


def _attnpool(x, sd, heads):
    p = 'backbone.attnpool'
    x = x.flatten(2).permute(2, 0, 1)
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + sd[f'{p}.positional_embedding'][:, None, :]
    out, _ = F.multi_head_attention_forward(
        query=x, key=x, value=x, embed_dim_to_check=x.shape[-1], num_heads=heads,
        q_proj_weight=sd[f'{p}.q_proj.weight'], k_proj_weight=sd[f'{p}.k_proj.weight'],
        v_proj_weight=sd[f'{p}.v_proj.weight'], in_proj_weight=None,
        in_proj_bias=torch.cat([sd[f'{p}.q_proj.bias'], sd[f'{p}.k_proj.bias'],
                                sd[f'{p}.v_proj.bias']]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
        out_proj_weight=sd[f'{p}.c_proj.weight'], out_proj_bias=sd[f'{p}.c_proj.bias'],
        use_separate_proj_weight=True, training=False, need_weights=False)
    return out[0]


def regionclip_regions(sd, images, boxes, pooler, heads):
    x = images
    for i, stride in ((1, 2), (2, 1), (3, 1)):
        x = F.relu(_bn(F.conv2d(x, sd[f'backbone.conv{i}.weight'], stride=stride, padding=1),
                       sd, f'backbone.bn{i}'))
    x = F.avg_pool2d(x, 2)
    for name in ('layer1', 'layer2', 'layer3'):
        x = _layer(x, sd, f'backbone.{name}')
    crops = roi_align(x, boxes, (pooler, pooler), 1 / 16, 0, True)
    return _attnpool(_layer(crops, sd, 'backbone.layer4'), sd, heads)


# Tiny towers break OpenAI's width // 64 head rule; the released RN50 / RN50x4 follow it.
HEADS = dict(vision_heads=4, text_heads=2)


@pytest.fixture(scope='module')
def tiny_rn():
    return tiny_clip_resnet(layers=(1, 2, 1, 1), image_size=64, seed=5)


def test_every_key_maps_and_the_regions_match_regionclip(tiny_rn, tmp_path):
    path = save_regionclip_checkpoint(tiny_rn, tmp_path / 'regionclip_pretrained-cc_tiny.pth')
    source = read_regionclip_checkpoint(path)
    converted, report = convert_regionclip(source, head_counts=HEADS)
    assert report.renamed + sum(report.dropped.values()) == len(source)  # none left over
    assert set(report.dropped) == {'teacher_backbone.', 'offline_backbone.',
                                   'offline_proposal_generator.'}
    model = build_openai_model(dict(converted))  # strict: every tensor has its place
    reference = tiny_rn.state_dict()
    for key, value in model.state_dict().items():
        if key != 'logit_scale':
            torch.testing.assert_close(value, reference[key], msg=key)

    encoder = CLIPDenseEncoder(model)
    region = RegionEncoder(encoder)  # 2 x the 2x2 attention-pool grid = 4
    torch.manual_seed(0)
    images = torch.randn(2, 3, 96, 128)
    boxes = [torch.tensor([[3.0, 5.0, 90.0, 70.0]]),
             torch.tensor([[0.0, 0.0, 128.0, 96.0], [40.0, 10.0, 64.0, 50.0]])]
    with torch.no_grad():
        ours = region(encoder(images, request=region.request), boxes, (96, 128))
        native = regionclip_regions(source, images, boxes, 4, tiny_rn.visual.attnpool.num_heads)
    torch.testing.assert_close(ours, native, atol=1e-4, rtol=1e-4)


def test_unknown_keys_are_named_and_text_can_come_from_openai(tiny_rn, tmp_path):
    state = regionclip_state_dict(tiny_rn)
    state['roi_heads.box_predictor.bbox_pred.weight'] = torch.zeros(4, 8)  # known: dropped
    state['extra_head.fc.weight'] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r'unknown keys.*extra_head\.fc\.weight'):
        convert_regionclip(state)
    no_text = regionclip_state_dict(tiny_rn, text=False)
    with pytest.raises(ValueError, match='no text encoder'):
        convert_regionclip(no_text)
    openai = read_state_dict(save_openai_state_dict(tiny_rn, tmp_path / 'rn.pt'))
    converted, report = convert_regionclip(no_text, text_from=openai, head_counts=HEADS)
    build_openai_model(dict(converted))
    assert 'token_embedding.weight' in report.added


def test_cli_writes_a_loadable_checkpoint_and_errors_in_one_line(tiny_rn, tmp_path, tool_env):
    src = save_regionclip_checkpoint(tiny_rn, tmp_path / 'rc.pth')
    dst = tmp_path / 'out' / 'rc_openai.safetensors'
    tool = load_tool('model_converters/regionclip.py')
    summary = tool.convert(src, dst, head_counts=HEADS)
    assert dst.is_file() and 'dropped teacher_backbone.*' in summary
    from dense_clip.models.clip_source import CLIPSource

    source = CLIPSource(model_name=None, pretrained=str(dst))
    model, _ = source.build()
    assert model.visual.attnpool.c_proj.out_features == 32
    bad = tmp_path / 'bad.pth'
    torch.save({'model': {'head.weight': torch.zeros(1)}}, bad)
    result = subprocess.run([sys.executable, 'tools/model_converters/regionclip.py', str(bad),
                             str(tmp_path / 'x.pt')], cwd=REPO, env=tool_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('error:') and 'head.weight' in last
