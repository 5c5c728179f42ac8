"""The model-zoo metafiles: valid model-index, consistent entries, readable by openmim."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from dense_clip.registry import WEIGHT_CONVERTERS
from dense_clip.zoo import ZooError, load_index
from dense_clip.zoo.index import ZooIndex
from tests.conftest import REPO
from tests.zoo.fakes import weight_entry, write_index

#: Converters named by entries whose implementation comes with another package of the project.
CONVERTERS_REGISTERED_ELSEWHERE = {'catseg', 'regionclip', 'clipself', 'fvit_mmdet2'}


@pytest.fixture(scope='module')
def index() -> ZooIndex:
    return load_index(REPO / 'model-index.yml')


def test_every_metafile_is_imported_and_model_index_accepts_it(index):
    from modelindex.load_model_index import load

    metafiles = {str(p.relative_to(REPO)) for p in (REPO / 'configs').glob('*/metafile.yaml')}
    imported = set(yaml.safe_load((REPO / 'model-index.yml').read_text())['Import'])
    assert imported == metafiles
    model_index = load(str(REPO / 'model-index.yml'))
    assert model_index.check(silent=True) == []  # model-index's own validation
    assert len(model_index.models) == len(index.weights) + len(index.configs)


def test_entries_are_complete(index):
    for entry in index.weights.values():
        assert entry.url.startswith('https://'), entry.name
        assert entry.converter is None or WEIGHT_CONVERTERS.get(entry.converter) is not None \
            or entry.converter in CONVERTERS_REGISTERED_ELSEWHERE, entry.converter
        if entry.open_clip:
            import open_clip

            arch, tag = entry.open_clip.split('/')
            assert open_clip.get_pretrained_cfg(arch, tag), entry.open_clip
        if entry.proxy:
            from dense_clip.models.proxy import PROXY_MODELS

            assert entry.proxy in PROXY_MODELS.module_dict, entry.proxy
        if 'openaipublic' in entry.url:  # OpenAI's URLs carry the file's sha256
            assert entry.hashes['sha256'] == entry.url.split('/')[-2]
        if 'segment_anything/' in entry.url:  # SAM's names carry an MD5 prefix
            assert entry.hashes['md5'] == re.search(r'_([0-9a-f]{6})\.pth$', entry.url).group(1)
    for entry in index.configs.values():
        assert (REPO / entry.config).is_file(), entry.config
    for collection in index.collections:
        assert any(e.collection == collection
                   for e in [*index.weights.values(), *index.configs.values()]), collection


def test_the_openai_tags_match_open_clip(index):
    import open_clip

    for entry in index.weights.values():
        if entry.open_clip and 'openaipublic' in entry.url:
            arch, tag = entry.open_clip.split('/')
            assert open_clip.get_pretrained_cfg(arch, tag)['url'] == entry.url


@pytest.mark.parametrize('change, message', [
    (dict(Zoo={'Formt': 'x'}), "unknown Zoo fields \\['Formt'\\]"),
    (dict(Zoo={'SHA256': 'xyz123'}), 'SHA256 must be 6 to 64 hex digits'),
    (dict(Zoo={'Download': 'sometimes'}), "Download must be one of \\('auto', 'manual'\\)"),
    (dict(Zoo={'HF Repo': 'a/b'}), 'give both HF Repo and HF File'),
    (dict(Zoo={'Size': -3}), 'Size must be a positive number'),
    (dict(Weights='ftp://x/y.pth'), 'Weights must be the upstream http'),
])
def test_malformed_weight_entries_are_named(tmp_path, change, message):
    entry = weight_entry('bad', 'https://example.com/bad.pth')
    entry['Metadata']['Zoo'].update(change.get('Zoo', {}))
    entry.update({k: v for k, v in change.items() if k != 'Zoo'})
    path = write_index(tmp_path, [entry])
    with pytest.raises(ZooError, match=f"metafile.yaml: entry 'bad': {message}"):
        ZooIndex(path)


def test_inconsistent_metafiles_are_named(tmp_path):
    good = weight_entry('good', 'https://example.com/good.pth')
    with pytest.raises(ZooError, match="entry 'good': defined twice"):
        ZooIndex(write_index(tmp_path, [good, dict(good)]))
    config = {'Name': 'cfg', 'In Collection': 'Test', 'Config': 'configs/x.py',
              'Metadata': {'Zoo Weights': {'model.clip.pretrained': 'missing'}}}
    with pytest.raises(ZooError, match="maps model.clip.pretrained to 'missing'"):
        ZooIndex(write_index(tmp_path, [good], [config]))
    with pytest.raises(ZooError, match='needs either Config .* or Metadata: Zoo'):
        ZooIndex(write_index(tmp_path, [{'Name': 'neither', 'In Collection': 'Test'}]))
    orphan = weight_entry('orphan', 'https://example.com/o.pth', collection='Nowhere')
    with pytest.raises(ZooError, match="undefined collection 'Nowhere'"):
        ZooIndex(write_index(tmp_path, [orphan]))


def test_index_changes_are_picked_up(tmp_path):
    path = write_index(tmp_path, [weight_entry('one', 'https://example.com/1.pth')])
    assert set(load_index(path).weights) == {'one'}
    write_index(tmp_path, [weight_entry('two', 'https://example.com/2.pth')])
    assert set(load_index(path).weights) == {'two'}


def test_openmim_search_reads_the_metafiles(monkeypatch, index):
    """mim's own search pipeline (parse, filter, sort) on our model-index."""
    from mim.commands import search
    from modelindex.load_model_index import load

    monkeypatch.setattr(search, 'load_metadata',
                        lambda *args, **kwargs: load(str(REPO / 'model-index.yml')))
    frame = search.get_model_info('dense_clip', models=['sclip'], sorted_fields=['voc21/miou'])
    assert 'sclip_vit-b16_voc21' in frame.index
    assert frame.loc['sclip_vit-b16_voc21', 'voc21/miou'] == 59.1
    frame = search.get_model_info('dense_clip', models=['naclip'],
                                  sorted_fields=['voc21/miou'], ascending=False)
    assert list(frame.index[:2]) == ['naclip_vit-b16_voc21', 'naclip-nopamr_vit-b16_voc21']
    assert set(frame.index) == {e.name for e in index.configs.values()
                                if e.collection == 'NACLIP'}


def _copy_source(dst: Path) -> Path:
    ignore = shutil.ignore_patterns('.git', '.venv', 'work_dirs', 'data', '__pycache__', 'build',
                                    '*.egg-info', '.mim', '.ruff_cache', '.pytest_cache')
    shutil.copytree(REPO, dst, ignore=ignore)
    return dst


def test_mim_search_finds_an_installed_wheel(tmp_path):
    """A built wheel carries model-index.yml and configs in dense_clip/.mim (setup.py), where
    ``mim search`` and ``dense_clip.zoo`` find them."""
    source = _copy_source(tmp_path / 'checkout')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
                    '--no-build-isolation', '-w', str(tmp_path / 'dist'), str(source)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / 'dist').glob('dense_clip-*.whl'))
    site = tmp_path / 'site'
    zipfile.ZipFile(wheel).extractall(site)
    assert (site / 'dense_clip' / '.mim' / 'configs' / 'sclip' / 'metafile.yaml').is_file()
    env = {'PYTHONPATH': str(site), 'PATH': str(Path(sys.executable).parent),
           'HOME': str(tmp_path)}
    mim = Path(sys.executable).parent / 'mim'
    result = subprocess.run([str(mim), 'search', 'dense_clip', '--model', 'proxyclip',
                             '--display-width', '400'],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert 'proxyclip_vit-b16_voc21' in result.stdout and 'dino_vitb8' in result.stdout
    code = ('import dense_clip.zoo as z; i = z.load_index(); '
            'print(i.path, len(i.weights), len(i.configs))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    index = load_index(REPO / 'model-index.yml')
    assert result.stdout.split() == [str(site / 'dense_clip' / '.mim' / 'model-index.yml'),
                                     str(len(index.weights)), str(len(index.configs))]
