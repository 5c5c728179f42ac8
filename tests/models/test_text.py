"""The text side: templates, vocabularies, shipped class lists, the classifier and its cache."""

from __future__ import annotations

import copy
import logging
import os
import warnings
from pathlib import Path
from unittest import mock

import open_clip
import pytest
import torch
import torch.nn.functional as F
from open_clip.zero_shot_metadata import OPENAI_IMAGENET_TEMPLATES as OPEN_CLIP_TEMPLATES

import dense_clip.models.text.cache as cache_module
from dense_clip.models.text import (
    TEMPLATE_SETS,
    TextEmbeddingCache,
    TextEncoder,
    Vocabulary,
    available_classnames,
    build_text_classifier,
    classnames_path,
    default_cache_dir,
    file_identity,
    get_templates,
    merge_synonyms,
    module_fingerprint,
    reduce_synonyms,
)

TEMPLATES = ('a photo of a {}.', 'a sketch of the {}.', 'itap of my {}.')


@pytest.fixture(scope='module')
def tiny_clip() -> open_clip.CLIP:
    torch.manual_seed(0)
    model = open_clip.CLIP(
        embed_dim=32,
        vision_cfg=dict(image_size=32, layers=2, width=32, patch_size=8, head_width=16),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
    return model.eval()


@pytest.fixture(scope='module')
def tokenizer():
    return open_clip.get_tokenizer('ViT-B-16')  # the BPE vocabulary ships with open_clip


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary(['cat, kitten', 'dog', 'traffic light, stoplight, signal'])


def manual_classifier(model, tokenizer, synonyms, templates) -> torch.Tensor:
    """CLIP's zero-shot recipe, one name at a time."""
    rows = []
    for name in synonyms:
        with torch.no_grad():
            emb = model.encode_text(tokenizer([t.format(name) for t in templates]))
        emb = emb / emb.norm(dim=-1, keepdim=True)
        mean = emb.mean(dim=0)
        rows.append(mean / mean.norm())
    return torch.stack(rows)


# --- templates -------------------------------------------------------------------------------

def test_template_sets_sizes_and_sources():
    assert len(get_templates('openai_imagenet')) == 80
    assert list(get_templates('openai_imagenet')) == [t('{}') for t in OPEN_CLIP_TEMPLATES]
    maskclip = get_templates('maskclip')
    assert len(maskclip) == 85 and len(set(maskclip)) == 85
    assert maskclip[:80] == get_templates('openai_imagenet')
    assert get_templates('single') == ('a photo of a {}.',)
    assert get_templates('catseg') == ('A photo of a {} in the scene',)
    assert all(t.count('{}') == 1 for ts in TEMPLATE_SETS.values() for t in ts)


def test_get_templates_custom_and_errors():
    assert get_templates(['a {}.', 'the {}']) == ('a {}.', 'the {}')
    assert get_templates('a render of a {}.') == ('a render of a {}.',)
    with pytest.raises(ValueError, match='openai_imagenet.*single|maskclip'):
        get_templates('imagenet80')
    with pytest.raises(ValueError, match='placeholder'):
        get_templates(['no placeholder'])
    with pytest.raises(ValueError, match='empty'):
        get_templates([])


# --- vocabulary ------------------------------------------------------------------------------

def test_vocabulary_structure(vocab):
    assert vocab.num_classes == len(vocab) == 3
    assert vocab.class_names == ('cat, kitten', 'dog', 'traffic light, stoplight, signal')
    assert vocab.synonyms == ('cat', 'kitten', 'dog', 'traffic light', 'stoplight', 'signal')
    assert vocab.synonym_to_class == (0, 0, 1, 2, 2, 2)
    assert vocab.synonym_index().tolist() == [0, 0, 1, 2, 2, 2]
    assert vocab.background_index is None
    assert Vocabulary([['cat', ' kitten  cat '], 'dog']).synonyms == ('cat', 'kitten cat', 'dog')


def test_vocabulary_background_and_names():
    vocab = Vocabulary(['cat', 'dog'], background=['sky', 'wall'])
    assert vocab.class_names == ('background', 'cat', 'dog')
    assert vocab.class_synonyms[0] == ('sky', 'wall')
    assert vocab.background_index == 0
    assert Vocabulary(['cat'], background='background').synonyms == ('background', 'cat')
    named = Vocabulary(['person: person, person in shirt', 'bg: sky'])
    assert named.class_names == ('person', 'bg')
    assert named.synonyms == ('person', 'person in shirt', 'sky')


def test_vocabulary_errors(tmp_path):
    with pytest.raises(ValueError, match='empty'):
        Vocabulary([])
    with pytest.raises(ValueError, match=r"duplicate class names.*\['cat'\]"):
        Vocabulary(['cat', 'dog', ' Cat '])
    with pytest.raises(ValueError, match='background'):
        Vocabulary(['background', 'cat'], background='sky')
    with pytest.raises(ValueError, match='empty class name or synonym'):
        Vocabulary(['cat, , kitten'])
    missing = tmp_path / 'nope.txt'
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        Vocabulary.from_file(missing)
    with pytest.raises(FileNotFoundError, match='nope.txt'):
        Vocabulary.load(str(missing))
    blank = tmp_path / 'blank.txt'
    blank.write_text('cat\n\ndog\n')
    with pytest.raises(ValueError, match=r'blank.txt:2: blank line'):
        Vocabulary.from_file(blank)
    with pytest.raises(ValueError, match='empty'):
        (tmp_path / 'empty.txt').write_text('\n')
        Vocabulary.from_file(tmp_path / 'empty.txt')


def test_vocabulary_from_file(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_text('cat, kitten\ndog\n\n')  # trailing blank lines are not classes
    vocab = Vocabulary.from_file(path, background='background')
    assert vocab == Vocabulary(['cat, kitten', 'dog'], background='background')
    assert Vocabulary.load(path) == Vocabulary(['cat, kitten', 'dog'])


# --- shipped class lists ---------------------------------------------------------------------

CLASS_COUNTS = {'voc21': 21, 'voc20': 20, 'context60': 60, 'context59': 59, 'coco_object': 81,
                'coco_stuff171': 171, 'cityscapes': 19, 'ade150': 150, 'ade847': 847,
                'context459': 459, 'synthetic': 25, 'coco80': 80, 'lvis1203': 1203,
                'coco_panoptic133': 133, 'synthetic_seen': 19, 'catseg_coco_stuff171': 171,
                'catseg_ade150': 150, 'catseg_context59': 59, 'catseg_voc20': 20,
                'catseg_voc20b': 21}


def test_all_class_lists_are_checked():
    assert set(available_classnames()) == set(CLASS_COUNTS)


@pytest.mark.parametrize('name', sorted(CLASS_COUNTS))
def test_class_list_counts(name):
    path = classnames_path(name)
    assert path.parent.name == 'classnames' and path.is_file()
    vocab = Vocabulary.load(name)
    assert vocab.num_classes == CLASS_COUNTS[name]
    has_background = name in ('voc21', 'context60', 'coco_object', 'synthetic', 'synthetic_seen',
                              'catseg_voc20b')
    assert (vocab.background_index == 0) == has_background


def test_detection_class_lists_follow_mmdets_dataset_order():
    from mmdet.datasets import CocoDataset, CocoPanopticDataset, LVISV1Dataset

    for name, dataset in (('coco80', CocoDataset), ('lvis1203', LVISV1Dataset),
                          ('coco_panoptic133', CocoPanopticDataset)):
        assert Vocabulary.load(name).class_names == tuple(dataset.METAINFO['classes'])
    assert Vocabulary.load('coco_panoptic133').class_synonyms[-1] == ('rug',)


def test_class_list_contents():
    voc21, voc20 = Vocabulary.load('voc21'), Vocabulary.load('voc20')
    assert voc21.class_names[1:] == voc20.class_names
    assert voc21.class_synonyms[0][:3] == ('sky', 'wall', 'tree')  # SCLIP's background names
    assert voc20.class_names[14] == 'person' and 'person in shirt' in voc20.class_synonyms[14]
    assert Vocabulary.load('context60').class_names[1:] == Vocabulary.load('context59').class_names
    ade847 = Vocabulary.load('ade847')
    assert ade847.class_names[1] == 'building, edifice' and ade847.num_synonyms > 847
    assert Vocabulary.load('context459').class_names[:2] == ('accordion', 'aeroplane')
    with pytest.raises(ValueError, match='voc21'):
        classnames_path('voc22')


# --- classifier ------------------------------------------------------------------------------

def test_classifier_matches_manual_recipe(tiny_clip, tokenizer, vocab):
    out = build_text_classifier(tiny_clip, tokenizer, vocab, TEMPLATES, batch_size=4)
    expected = manual_classifier(tiny_clip, tokenizer, vocab.synonyms, TEMPLATES)
    assert out.shape == (vocab.num_synonyms, 32) and out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(vocab.num_synonyms))
    per_template = build_text_classifier(tiny_clip, tokenizer, ['cat', 'dog'], TEMPLATES,
                                         average_templates=False)
    assert per_template.shape == (2, len(TEMPLATES), 32)
    torch.testing.assert_close(F.normalize(per_template.mean(1), dim=-1), expected[[0, 2]])
    single = build_text_classifier(tiny_clip, tokenizer, ['dog'], 'single')
    torch.testing.assert_close(single, manual_classifier(tiny_clip, tokenizer, ['dog'],
                                                         ['a photo of a {}.']))


def test_reduce_synonyms_max(vocab):
    logits = torch.tensor([[1.0, 3.0, -2.0, 0.5, 4.0, -1.0]]).view(1, 6, 1, 1).repeat(2, 1, 2, 3)
    out = reduce_synonyms(logits, vocab)
    assert out.shape == (2, 3, 2, 3)
    assert torch.equal(out[0, :, 0, 0], torch.tensor([3.0, -2.0, 4.0]))
    mean = reduce_synonyms(logits, vocab, mode='mean')
    torch.testing.assert_close(mean[1, :, 1, 2], torch.tensor([2.0, -2.0, 3.5 / 3]))
    flat = torch.randn(4, 6)
    expected = torch.stack([flat[:, :2].amax(1), flat[:, 2], flat[:, 3:].amax(1)], dim=1)
    assert torch.equal(reduce_synonyms(flat, vocab.synonym_to_class), expected)
    plain = torch.randn(2, 2, 3)
    assert reduce_synonyms(plain, Vocabulary(['a', 'b'])) is plain
    with pytest.raises(ValueError, match='synonym channels'):
        reduce_synonyms(torch.randn(1, 5), vocab)
    with pytest.raises(ValueError, match='max'):
        reduce_synonyms(logits, vocab, mode='median')


def test_merge_synonyms(vocab):
    emb = F.normalize(torch.randn(vocab.num_synonyms, 8), dim=-1)
    merged = merge_synonyms(emb, vocab)
    assert merged.shape == (3, 8)
    torch.testing.assert_close(merged[0], F.normalize(emb[:2].mean(0), dim=0))
    torch.testing.assert_close(merged[1], emb[2])


def test_truncation_warning_names_the_long_class(tiny_clip, tokenizer):
    long_name = 'very ' * 80 + 'long thing'
    vocab = Vocabulary(['cat', f'verbose: {long_name}, thing'])
    with pytest.warns(UserWarning, match='truncated') as record:
        build_text_classifier(tiny_clip, tokenizer, vocab, TEMPLATES)
    message = str(record[0].message)
    assert "'verbose'" in message and "'cat'" not in message
    assert f'{len(TEMPLATES)} of {len(TEMPLATES) * 3} prompts' in message
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        build_text_classifier(tiny_clip, tokenizer, ['cat', 'thing'], TEMPLATES)


# --- cache -----------------------------------------------------------------------------------

def build_cached(cache, model, tokenizer, vocab, templates=TEMPLATES):
    """The cache's result and how many text-tower batches ran (spied on the encoder, so that
    patching ``model.encode_text`` does not switch off the end-of-text shortcut)."""
    with mock.patch.object(TextEncoder, '__call__', autospec=True,
                           side_effect=TextEncoder.__call__) as encode:
        out = cache.get_or_build(model, tokenizer, vocab, templates, model_id='tiny')
    return out, encode.call_count


def test_cache_hit_is_identical_and_skips_the_encoder(tiny_clip, tokenizer, vocab, tmp_path):
    cache = TextEmbeddingCache(tmp_path / 'cache')
    assert not (tmp_path / 'cache').exists()  # nothing on disk before the first use
    first, calls = build_cached(cache, tiny_clip, tokenizer, vocab)
    assert calls > 0
    assert torch.equal(first, build_text_classifier(tiny_clip, tokenizer, vocab, TEMPLATES))
    assert len(list((tmp_path / 'cache').glob('*.safetensors'))) == 1
    second, calls = build_cached(cache, tiny_clip, tokenizer, vocab)
    assert calls == 0
    assert torch.equal(first, second)
    assert [p.name for p in (tmp_path / 'cache').iterdir() if p.suffix == '.tmp'] == []


def test_cache_key_changes_with_inputs(tiny_clip, tokenizer, vocab):
    base = dict(model_id='tiny', weights_id='w', tokenizer_id='t', vocabulary=vocab,
                templates=TEMPLATES, precision='torch.float32')
    key = TextEmbeddingCache.key(**base)
    assert key == TextEmbeddingCache.key(**base)
    for field, value in [('templates', TEMPLATES[:2]), ('vocabulary', ['cat', 'dog']),
                         ('weights_id', 'w2'), ('model_id', 'other'),
                         ('precision', 'torch.float16'), ('tokenizer_id', 't2')]:
        assert TextEmbeddingCache.key(**{**base, field: value}) != key, field
    assert TextEmbeddingCache.key(**base, average_templates=False) != key

    text_changed, visual_changed = copy.deepcopy(tiny_clip), copy.deepcopy(tiny_clip)
    with torch.no_grad():
        text_changed.text_projection.add_(0.01)
        visual_changed.visual.proj.add_(0.01)
    fingerprint = module_fingerprint(tiny_clip)
    assert module_fingerprint(text_changed) != fingerprint
    assert module_fingerprint(visual_changed) == fingerprint  # the image tower is not hashed


def test_cache_recomputes_when_weights_templates_or_vocab_change(tiny_clip, tokenizer, vocab,
                                                                 tmp_path):
    cache = TextEmbeddingCache(tmp_path)
    first, _ = build_cached(cache, tiny_clip, tokenizer, vocab)
    changed = copy.deepcopy(tiny_clip)
    with torch.no_grad():
        changed.text_projection.mul_(-1.0)
    out, calls = build_cached(cache, changed, tokenizer, vocab)
    assert calls > 0 and torch.allclose(out, -first, atol=1e-6)
    assert build_cached(cache, tiny_clip, tokenizer, vocab, TEMPLATES[:1])[1] > 0
    assert build_cached(cache, tiny_clip, tokenizer, ['cat', 'dog'])[1] > 0
    assert len(list(tmp_path.glob('*.safetensors'))) == 4


@pytest.mark.parametrize('damage', ['garbage', 'truncate', 'flip_data_byte'])
def test_corrupt_cache_file_is_recomputed(tiny_clip, tokenizer, vocab, tmp_path, caplog, damage):
    cache = TextEmbeddingCache(tmp_path)
    first, _ = build_cached(cache, tiny_clip, tokenizer, vocab)
    (path,) = tmp_path.glob('*.safetensors')
    data = path.read_bytes()
    if damage == 'garbage':
        path.write_bytes(b'not a safetensors file')
    elif damage == 'truncate':
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:])
    with caplog.at_level(logging.WARNING, logger=cache_module.__name__):
        out, calls = build_cached(cache, tiny_clip, tokenizer, vocab)
    assert calls > 0 and torch.equal(out, first)
    assert 'corrupt' in caplog.text and path.name in caplog.text
    assert build_cached(cache, tiny_clip, tokenizer, vocab)[1] == 0  # rewritten, valid again


def test_interrupted_write_keeps_the_old_file(tiny_clip, tokenizer, vocab, tmp_path,
                                              monkeypatch, caplog):
    cache = TextEmbeddingCache(tmp_path)
    first, _ = build_cached(cache, tiny_clip, tokenizer, vocab)
    (path,) = tmp_path.glob('*.safetensors')
    key = path.stem

    def fail(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(cache_module.os, 'replace', fail)
    with pytest.raises(OSError, match='disk full'):
        cache.save(key, torch.zeros_like(first))
    assert torch.equal(cache.load(key), first)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary left
    with caplog.at_level(logging.WARNING, logger=cache_module.__name__):
        out, _ = build_cached(TextEmbeddingCache(tmp_path / 'new'), tiny_clip, tokenizer, vocab)
    assert torch.equal(out, first) and 'could not write' in caplog.text


def test_cache_locations_and_file_identity(tmp_path, monkeypatch):
    monkeypatch.setenv('DENSE_CLIP_CACHE', str(tmp_path / 'root'))
    assert default_cache_dir() == tmp_path / 'root' / 'text_embeddings'
    assert TextEmbeddingCache().cache_dir == tmp_path / 'root' / 'text_embeddings'
    monkeypatch.delenv('DENSE_CLIP_CACHE')
    monkeypatch.setenv('HOME', str(tmp_path))
    assert default_cache_dir() == tmp_path / '.cache' / 'dense_clip' / 'text_embeddings'
    assert TextEmbeddingCache(tmp_path / 'x').cache_dir == tmp_path / 'x'
    checkpoint = tmp_path / 'weights.bin'
    checkpoint.write_bytes(b'1234')
    identity = file_identity(checkpoint)
    assert str(checkpoint.resolve()) in identity
    checkpoint.write_bytes(b'12345')
    os.utime(checkpoint, ns=(1, 1))
    assert file_identity(checkpoint) != identity
    assert Path(identity.split(':')[1]).name == 'weights.bin'
