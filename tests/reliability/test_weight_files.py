"""Weight files: stored architectures, guesses that warn or refuse, corrupt and unsafe files.

Files are written in their real formats by the tests (safetensors with and without metadata,
torch pickles, TorchScript archives, truncated and random bytes, ``__reduce__`` payloads).
"""

from __future__ import annotations

import os
import random

import open_clip
import pytest
import torch

from dense_clip.models.clip import load_clip
from dense_clip.models.clip.embedded import EMBEDDED_MODELS, load_embedded
from dense_clip.models.clip_source import CLIPSource
from dense_clip.testing import register_open_clip_config, save_torchscript, tiny_vit_config
from dense_clip.utils.checkpoint import CheckpointError
from tests.conftest import load_tool
from tests.reliability.conftest import cli_error, warnings_of

EMBEDDED = EMBEDDED_MODELS['dense_clip:tiny-clip-synth']
# The embedded CLIP's traits that its weights do not show: 4 heads of 32, GELU, average pool.
GELU_4_HEADS = dict(embed_dim=32, vision_cfg=dict(layers=2, width=128, head_width=32,
                                                  patch_size=8, image_size=32, pool_type='avg'),
                    text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                                  layers=1))


def outputs(model: torch.nn.Module, size: int, tokens: torch.Tensor) -> tuple:
    torch.manual_seed(0)
    with torch.no_grad():
        return model.encode_image(torch.randn(2, 3, size, size)), model.encode_text(tokens)


def assert_same_outputs(model, reference, size):
    tokens = open_clip.tokenize(['a red dotted thing', 'a blue plain thing'],
                                context_length=reference.context_length)
    for got, expected in zip(outputs(model, size, tokens), outputs(reference, size, tokens)):
        assert torch.equal(got, expected)


def gelu_model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return open_clip.CLIP(**GELU_4_HEADS).eval()


# ------------------------------------------------------------------ architecture (item 2)
def test_embedded_clip_file_loads_as_itself_without_a_model_name():
    reference, _ = load_embedded('dense_clip:tiny-clip-synth')
    model, tokenizer = load_clip(None, str(EMBEDDED))
    assert_same_outputs(model, reference, 64)
    assert tokenizer(['a cat']).shape == (1, 32)


def test_a_file_this_codebase_writes_keeps_heads_activation_and_pooling(tmp_path):
    from dense_clip.models.clip import save_clip_safetensors

    reference = gelu_model()
    path = save_clip_safetensors(reference, tmp_path / 'gelu.safetensors')
    model, _ = load_clip(None, str(path))
    assert_same_outputs(model, reference, 32)
    source = CLIPSource(pretrained=str(path))  # the tools' way (--pretrained FILE)
    built, _ = source.build()
    assert_same_outputs(built, reference, 32)


def test_a_torchscript_archive_states_its_heads_and_activation(tmp_path):
    reference = gelu_model()
    path = save_torchscript(reference, tmp_path / 'gelu.pt')
    model, _ = load_clip(None, str(path))
    assert_same_outputs(model, reference, 32)


def test_weights_of_unknown_shape_without_architecture_are_refused_with_options(tmp_path):
    path = tmp_path / 'tiny_plain.pth'
    torch.save(gelu_model().state_dict(), path)  # what torch.save(model.state_dict()) gives
    with pytest.raises(ValueError) as err:
        load_clip(None, str(path))
    message = str(err.value)
    assert str(path) in message and '4 heads of 32' in message and '2 heads of 64' in message
    assert 'QuickGELU' in message and 'model_name' in message
    assert 'save_clip_safetensors' in message


def test_openai_sized_weights_without_architecture_load_with_a_warning(mm_log):
    from dense_clip.models.clip.architecture import guess_architecture

    with torch.device('meta'):  # shapes only: the guess reads no values
        state = open_clip.CLIP(**open_clip.get_model_config('ViT-B-32')).state_dict()
    config = guess_architecture(state, {}, 'b32.pth')
    assert config['quick_gelu'] is True and config['vision_cfg']['head_width'] == 64
    warned = warnings_of(mm_log)
    assert 'b32.pth' in warned and "OpenAI's ViT-B-32" in warned
    assert '12 vision heads of 64' in warned and 'QuickGELU' in warned and 'GELU' in warned


def test_stored_heads_leave_only_the_activation_to_a_warning(tmp_path, mm_log):
    model = open_clip.CLIP(**tiny_vit_config()).eval()  # QuickGELU, 2 heads of 16
    state = dict(model.state_dict(), vision_heads=torch.tensor(2), text_heads=torch.tensor(2))
    path = tmp_path / 'hinted.pth'
    torch.save(state, path)
    loaded, _ = load_clip(None, str(path))
    assert_same_outputs(loaded, model, 32)
    warned = warnings_of(mm_log)
    assert str(path) in warned and 'QuickGELU' in warned and 'heads of' not in warned


def test_a_named_model_that_contradicts_the_file_is_refused(tmp_path):
    from dense_clip.models.clip import save_clip_safetensors

    name = 'reliability-tiny-quickgelu'
    register_open_clip_config(name, dict(GELU_4_HEADS, quick_gelu=True), tmp_path)
    path = save_clip_safetensors(gelu_model(), tmp_path / 'gelu.safetensors')
    with pytest.raises(ValueError) as err:
        load_clip(name, str(path))
    message = str(err.value)
    assert str(path) in message and 'quick_gelu False in the file' in message


# ------------------------------------------------------------------ corrupt files (7, 8)
def truncated(src, dst):
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


class Payload:
    """Pickles as a call to os.system: what a malicious checkpoint holds."""

    def __reduce__(self):
        return (os.system, ('echo this should never run',))


@pytest.fixture(scope='module')
def bad_files(tmp_path_factory):
    from safetensors.torch import save_file

    root = tmp_path_factory.mktemp('bad')
    good = root / 'good.safetensors'
    save_file(gelu_model().state_dict(), str(good))
    files = {
        'truncated.safetensors': truncated(good, root / 'truncated.safetensors'),
        'random.safetensors': root / 'random.safetensors',
        'random.pth': root / 'random.pth',
        'payload.pth': root / 'payload.pth',
    }
    noise = random.Random(0)
    files['random.safetensors'].write_bytes(noise.randbytes(4096))
    files['random.pth'].write_bytes(noise.randbytes(4096))
    torch.save({'state_dict': {'w': torch.zeros(2)}, 'hook': Payload()}, files['payload.pth'])
    return files


EXPECTED = {
    'truncated.safetensors': 'not a readable safetensors file',
    'random.safetensors': 'not a readable safetensors file',
    'random.pth': 'not a readable torch checkpoint',
    'payload.pth': 'needs posix.system',
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bad_clip_weights_are_one_error_line_in_the_demo(name, bad_files, tmp_path, capsys,
                                                         monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'cache'))
    demo = load_tool('demo.py')
    line = cli_error(demo.main, ['--pretrained', str(bad_files[name]), '--out',
                                 str(tmp_path / 'o.png')], capsys, monkeypatch)
    assert str(bad_files[name]) in line and EXPECTED[name] in line
    if name == 'payload.pth':
        assert 'could run code' in line and '.safetensors' in line


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bad_head_files_name_themselves(name, bad_files):
    from tests.zoo.test_converters import tiny_dinoiser

    model = tiny_dinoiser(checkpoint=str(bad_files[name]))
    with pytest.raises(CheckpointError) as err:
        model.init_weights()
    assert str(bad_files[name]) in str(err.value) and EXPECTED[name] in str(err.value)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bad_test_checkpoints_are_one_error_line(name, bad_files, tmp_path, capsys,
                                                monkeypatch):
    from tests.conftest import REPO

    test_tool = load_tool('test.py')
    config = str(REPO / 'configs/toy/fcn_tiny-resnet18_toy-seg-32x32.py')
    line = cli_error(test_tool.main, [config, str(bad_files[name]), '--work-dir', str(tmp_path)],
                     capsys, monkeypatch)
    assert str(bad_files[name]) in line and EXPECTED[name] in line


# ------------------------------------------------------------------ head shapes (item 9)
def test_dinoiser_heads_for_another_backbone_name_file_head_and_widths(tmp_path):
    from tests.zoo.test_converters import authors_heads, tiny_dinoiser

    path = tmp_path / 'heads_for_64.pt'
    torch.save(authors_heads(width=64, corr_dim=16), path)  # made for a 64-wide backbone
    model = tiny_dinoiser(checkpoint=str(path))  # its CLIP is 32 wide
    with pytest.raises(CheckpointError) as err:
        model.init_weights()
    message = str(err.value)
    assert str(path) in message and '64-wide' in message and '32 wide' in message
    assert 'corr_head.conv.weight' in message and 'bkg_head.conv.weight' in message


def test_dinoiser_heads_that_fit_still_load(tmp_path):
    from tests.zoo.test_converters import authors_heads, tiny_dinoiser

    path = tmp_path / 'heads.pt'
    heads = authors_heads(width=32, corr_dim=16)
    torch.save(heads, path)
    model = tiny_dinoiser(checkpoint=str(path))
    model.init_weights()
    assert torch.equal(model.head.corr_head.conv.weight,
                       heads['model_state_dict']['obj_proj.weight'])
