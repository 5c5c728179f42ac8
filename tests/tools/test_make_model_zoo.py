"""tools/make_model_zoo.py: MODEL_ZOO.md and the README tables follow the metafiles."""

from __future__ import annotations

import shutil

import pytest

from dense_clip.zoo import load_index
from tests.conftest import REPO, load_tool

TOOL = load_tool('make_model_zoo.py')


def test_model_zoo_page_and_readme_tables_are_up_to_date():
    index = load_index(REPO / 'model-index.yml')
    for path, content in TOOL.outputs(index).items():
        assert path.read_text() == content, (
            f'{path.name} is stale: run python tools/make_model_zoo.py')


def test_a_changed_number_makes_the_files_stale_and_the_tool_rewrites_them(tmp_path):
    root = tmp_path / 'repo'
    shutil.copytree(REPO / 'configs', root / 'configs',
                    ignore=shutil.ignore_patterns('*.py', '__pycache__'))
    for name in ('model-index.yml', 'README.md', 'MODEL_ZOO.md'):
        shutil.copy(REPO / name, root / name)
    metafile = root / 'configs' / 'sclip' / 'metafile.yaml'
    metafile.write_text(metafile.read_text().replace('mIoU: 59.1', 'mIoU: 59.7'))
    index = load_index(root / 'model-index.yml')
    expected = TOOL.outputs(index, root)
    assert all(path.read_text() != content for path, content in expected.items())
    readme = expected[root / 'README.md']
    assert '| SCLIP | CLIP ViT-B/16 | 59.7 | 30.4 |' in readme
    assert '| SCLIP | CLIP ViT-B/16 | 59.7 | 30.4 |' in expected[root / 'MODEL_ZOO.md']


def test_pages_state_sources_reproduction_and_pending_converters():
    page = TOOL.model_zoo_page(load_index(REPO / 'model-index.yml'))
    assert '| MaskCLIP | dense_clip:tiny-clip-synth (embedded) | 36.87 |' in page
    assert 'measured: python tools/benchmark_synthetic.py' in page
    assert '`catseg` (not registered yet)' in page or '`catseg` |' in page
    assert '`configs/sclip/sclip_vit-b16_*.py` (8)' in page
    assert 'md5 prefix 01ec64' in page and 'git-sha1 0b6c94d9c439' in page


def test_missing_readme_markers_are_named():
    with pytest.raises(ValueError, match='model-zoo:training-free'):
        TOOL.update_readme('# no tables here\n', load_index(REPO / 'model-index.yml'))
