"""Every segmentation method's outputs on a fixed image, pinned as regression data.

Each case in ``tests/data/regression/cases.json`` builds a method's real config with the embedded
tiny CLIP (or a tiny ResNet CLIP), a small vocabulary with synonyms and background, small
windows, and weights that depend only on a seed (``dense_clip.testing.seeded_state_dict``), then
runs one fixed image. The patch-grid scores of every window (before any upsampling) and the final
probabilities and labels must match the stored ones: a refactor that changes a number fails here.

Regenerate after an intended change (and say why in the commit):
``python -m tests.seg.test_regression --write [CASE ...]``.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import open_clip
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.utils import import_modules_from_strings
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from dense_clip.models.proxy import shrink_proxies
from dense_clip.seg.inference import window_grid
from dense_clip.testing import seeded_state_dict, tiny_resnet_config

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / 'tests' / 'data' / 'regression'
SPEC = json.loads((DATA / 'cases.json').read_text())
CLIP_MEAN = torch.tensor([122.771, 116.746, 104.094])[:, None, None]
CLIP_STD = torch.tensor([68.501, 66.632, 70.323])[:, None, None]


def fixed_image(scale: int = 1) -> torch.Tensor:
    """The regression image (1, 3, H, W), CLIP-normalised."""
    source = SPEC['image']
    image = Image.open(REPO / source['source']).convert('RGB').crop(tuple(source['crop_box']))
    rgb = torch.from_numpy(np.asarray(image).copy()).permute(2, 0, 1).float()
    x = ((rgb - CLIP_MEAN) / CLIP_STD)[None]
    if scale != 1:
        x = F.interpolate(x, scale_factor=scale, mode='bilinear', align_corners=False)
    return x


def build_case(name: str, tmp_dir: Path) -> nn.Module:
    """The case's segmentor, weights loaded, in eval mode."""
    case = SPEC['cases'][name]
    cfg = Config.fromfile(str(REPO / case['config']))
    import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
    init_default_scope('mmseg')
    from mmseg.registry import MODELS

    model_cfg = copy.deepcopy(cfg.model)
    if case.get('clip') == 'tiny_resnet':
        path = tmp_dir / 'tiny_resnet.safetensors'
        save_file(seeded_state_dict(open_clip.CLIP(**tiny_resnet_config()), 1), str(path))
        model_cfg.clip = dict(model_cfg=tiny_resnet_config(), pretrained=str(path))
    else:
        model_cfg.clip = dict(model_name='dense_clip:tiny-clip-synth')
    if 'last_block' in case:
        model_cfg.encoder.last_block = case['last_block']
    classes = SPEC['vocabulary'][case['vocabulary']]
    if case['vocabulary'] == 'with_background':
        vocabulary = dict(classnames=classes[1:], background=classes[0])
    else:
        vocabulary = list(classes)
    model_cfg.text.update(vocabulary=vocabulary, cache_dir=False)
    window = case.get('window', SPEC['window'])
    model_cfg.test_cfg.update(crop_size=window['crop'], stride=window['stride'])
    if model_cfg.head.type == 'DINOiserHead':
        model_cfg.head.update(feats_block=-2, checkpoint=None)
    model = MODELS.build(shrink_proxies(model_cfg))
    model.init_weights()
    if model_cfg.head.type == 'DINOiserHead':
        heads = nn.ModuleDict({'corr_head': model.head.corr_head, 'bkg_head': model.head.bkg_head})
        heads.load_state_dict(seeded_state_dict(heads, 2))
    proxy = getattr(model.encoder.last_block, 'proxy', None)
    if proxy is not None:
        proxy.load_state_dict(seeded_state_dict(proxy, 3))
    return model.eval()


@torch.no_grad()
def run_case(name: str, tmp_dir: Path) -> dict[str, torch.Tensor]:
    """Patch-grid scores of every window batch, final probabilities and labels."""
    case = SPEC['cases'][name]
    model = build_case(name, tmp_dir)
    image = fixed_image(case.get('image_scale', 1))
    if model.mode == 'whole':
        patch = [model.window_scores(image, upsample=False).scores]
    else:
        boxes = window_grid(*image.shape[-2:], model.crop_size, model.stride)
        patch = []
        for start in range(0, len(boxes), model.windows_per_batch):
            chunk = boxes[start:start + model.windows_per_batch]
            windows = torch.cat([image[..., y1:y2, x1:x2] for y1, y2, x1, x2 in chunk])
            patch.append(model.window_scores(windows, upsample=False).scores)
    sample = model.predict(image.clone())[0]
    return {'patch_logits': torch.cat(patch).float().contiguous(),
            'probs': sample.seg_logits.data.float().contiguous(),
            'labels': sample.pred_sem_seg.data.to(torch.uint8).contiguous()}


@pytest.mark.parametrize('name', sorted(SPEC['cases']))
def test_outputs_match_pinned(name, tmp_path):
    expected = load_file(str(DATA / f'{name}.safetensors'))
    got = run_case(name, tmp_path)
    for key in ('patch_logits', 'probs'):
        assert got[key].shape == expected[key].shape, key
        diff = (got[key] - expected[key]).abs().max().item()
        assert diff <= 1e-5, f'{name}: {key} differs by {diff:.3g}'
    assert torch.equal(got['labels'], expected['labels'].to(torch.uint8)), f'{name}: labels'


if __name__ == '__main__':  # python -m tests.seg.test_regression --write [CASE ...]
    import tempfile

    if '--write' not in sys.argv:
        sys.exit('usage: python -m tests.seg.test_regression --write [CASE ...]')
    names = [a for a in sys.argv[1:] if a != '--write'] or sorted(SPEC['cases'])
    with tempfile.TemporaryDirectory() as tmp:
        for case_name in names:
            result = run_case(case_name, Path(tmp))
            save_file(result, str(DATA / f'{case_name}.safetensors'))
            print(f'wrote {case_name}')
