"""The zoo's CAT-Seg and RegionCLIP entries: the authors' file is served by a local server,
fetched, converted once by the registered converter and loaded through ``zoo://NAME``; the
result equals loading the authors' file directly."""

from __future__ import annotations

import io

import torch

from dense_clip.models.catseg.checkpoint import load_catseg_weights
from dense_clip.models.clip import read_state_dict
from dense_clip.models.clip_source import CLIPSource
from dense_clip.models.region.regionclip_checkpoint import (
    convert_regionclip,
    read_regionclip_checkpoint,
)
from dense_clip.testing import tiny_clip_resnet
from dense_clip.testing.catseg import seeded_authors_catseg
from dense_clip.testing.regionclip import save_regionclip_checkpoint
from dense_clip.zoo import resolve
from tests.tools.test_catseg_converter import SIZES, tiny_segmentor
from tests.zoo.fakes import sha256, weight_entry, write_index


def _bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_catseg_weights_by_zoo_name_equal_the_authors_file(zoo_env, server, tmp_path):
    authors = {'model': seeded_authors_catseg(SIZES, seed=7), 'iteration': 3}
    content = _bytes(authors)
    url = server.add('/catseg/model_tiny.pth', content)
    write_index(zoo_env / 'index', [weight_entry('catseg_tiny', url, SHA256=sha256(content),
                                                 Convert='catseg')])
    by_zoo = tiny_segmentor(weights='zoo://catseg_tiny')
    by_zoo.init_weights()
    local = tmp_path / 'model_tiny.pth'
    local.write_bytes(content)
    direct = tiny_segmentor()
    load_catseg_weights(direct.catseg, local)
    for key, value in direct.catseg.state_dict().items():
        assert torch.equal(by_zoo.catseg.state_dict()[key], value), key
    converted = zoo_env / 'cache' / 'zoo' / 'catseg_tiny' / 'catseg_tiny.safetensors'
    assert converted.is_file()
    by_zoo.init_weights()  # the second use reads the converted file, no new request
    assert server.gets('/catseg/model_tiny.pth') == [None]


def test_regionclip_clip_by_zoo_name_equals_the_converted_file(zoo_env, server, tmp_path):
    src = save_regionclip_checkpoint(tiny_clip_resnet(layers=(1, 2, 1, 1), image_size=64,
                                                      seed=9), tmp_path / 'rc_tiny.pth')
    content = src.read_bytes()
    heads = dict(vision_heads=4, text_heads=2)
    url = server.add('/regionclip/rc_tiny.pth', content)
    write_index(zoo_env / 'index', [weight_entry('regionclip_tiny', url, SHA256=sha256(content),
                                                 Convert='regionclip',
                                                 **{'Convert Args': {'head_counts': heads}})])
    source = CLIPSource(model_name=None, pretrained='zoo://regionclip_tiny')
    model, _ = source.build()
    source.load_weights(model)
    expected, _ = convert_regionclip(read_regionclip_checkpoint(src), None, heads)
    state = model.state_dict()
    for key, value in expected.items():
        if key in ('vision_heads', 'text_heads'):
            continue
        assert torch.equal(state[key].float(), value.float()), key
    assert model.visual.attnpool.num_heads == 4
    stored = read_state_dict(resolve('regionclip_tiny'))
    assert int(stored['vision_heads']) == 4 and set(stored) == set(expected)
