"""The end-of-text shortcut of the text tower: same embeddings as the full-length forward, on a
tiny tower of each kind open_clip builds; the full length, logged, where it would not be exact."""

from __future__ import annotations

import copy

import open_clip
import pytest
import torch
import torch.nn.functional as F
from open_clip.model import CLIP, CustomTextCLIP
from torch import nn

import dense_clip.models.text.text_tower as text_tower
from dense_clip.models.text import build_text_classifier
from dense_clip.models.text.text_tower import eot_positions, text_encoder_for

TEMPLATES = ('a photo of a {}.', 'itap of my {}.', 'a low resolution photo of the {} in the scene.')
CLASSES = ['cat, kitten', 'dog', 'traffic light, stoplight, signal', 'a very long name ' * 3]
VISION = dict(image_size=32, layers=1, width=32, patch_size=16, head_width=16)
EOT = 49407


def _text_cfg(**changes) -> dict:
    return dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2, **changes)


def _build(cls: type, seed: int = 0, **text_changes) -> nn.Module:
    torch.manual_seed(seed)
    model = cls(embed_dim=24, vision_cfg=dict(VISION), text_cfg=_text_cfg(**text_changes))
    with torch.no_grad():  # non-trivial biases and norms everywhere
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model.eval()


# Towers whose embeddings must not change with the shortcut: open_clip's CLIP (OpenAI layout),
# the separate TextTransformer of CustomTextCLIP, 'eos' pooling, layer scale, and the custom
# attention block (qk-norm), which runs through the tower's own forward with a sliced mask.
EXACT_TOWERS = {
    'clip': lambda: _build(CLIP),
    'clip_eos_pool': lambda: _build(CLIP, pool_type='eos', eos_id=EOT),
    'clip_layer_scale': lambda: _build(CLIP, ls_init_value=0.5),
    'custom_text_clip': lambda: _build(CustomTextCLIP),
    'custom_text_clip_qk_norm': lambda: _build(CustomTextCLIP, qk_norm=True),
}


@pytest.fixture(scope='module')
def tokenizer():
    return open_clip.get_tokenizer('ViT-B-16')


def full_length_classifier(model, tokenizer, classes, templates) -> torch.Tensor:
    """The plain path: every prompt at the full context length, in vocabulary order."""
    from dense_clip.models.text import Vocabulary

    synonyms = Vocabulary(classes).synonyms
    prompts = [t.replace('{}', name) for name in synonyms for t in templates]
    with torch.no_grad():
        embeddings = F.normalize(model.encode_text(tokenizer(prompts)).float(), dim=-1)
    embeddings = embeddings.view(len(synonyms), len(templates), -1).mean(dim=1)
    return F.normalize(embeddings, dim=-1)


@pytest.mark.parametrize('kind', sorted(EXACT_TOWERS))
def test_shortcut_matches_the_full_length_forward(kind, tokenizer):
    model = EXACT_TOWERS[kind]()
    encoder = text_encoder_for(model)
    assert encoder.trimmed, encoder.reason
    got = build_text_classifier(model, tokenizer, CLASSES, TEMPLATES, batch_size=5)
    expected = full_length_classifier(model, tokenizer, CLASSES, TEMPLATES)
    assert (got - expected).abs().max().item() <= 1e-6
    # per prompt too, unnormalised, in an unsorted batch
    tokens = tokenizer(['a cat.', 'a photo of a very long and winding road to nowhere.', 'x'])
    with torch.no_grad():
        torch.testing.assert_close(encoder(tokens), model.encode_text(tokens), rtol=0, atol=2e-6)


def test_batches_run_only_up_to_their_last_eot(tokenizer):
    model = _build(CLIP)
    lengths = []
    model.token_embedding.register_forward_hook(lambda m, args, out: lengths.append(
        args[0].shape[1]))
    build_text_classifier(model, tokenizer, CLASSES, TEMPLATES, batch_size=4)
    prompts = [t.replace('{}', n) for n in ['cat', 'kitten', 'dog', 'traffic light', 'stoplight',
                                            'signal', 'a very long name ' * 3] for t in TEMPLATES]
    eots = sorted(eot_positions(tokenizer(prompts), 'argmax').tolist())
    # prompts sorted by length: each batch of 4 runs to its own longest EOT (rounded up to a
    # multiple of 16), not to 77
    assert lengths == [-(-(max(eots[i:i + 4]) + 1) // 16) * 16 for i in range(0, len(eots), 4)]
    assert set(lengths) == {16, 32}


def test_rows_come_back_in_vocabulary_order(tokenizer):
    model = _build(CLIP)
    forward = build_text_classifier(model, tokenizer, CLASSES, TEMPLATES)
    backward = build_text_classifier(model, tokenizer, CLASSES[::-1], TEMPLATES)
    # 'cat, kitten' has two rows; reversing the classes reverses the blocks of rows
    rows = {0: [0, 1], 1: [2], 2: [3, 4, 5], 3: [6]}
    reversed_rows = [r for c in (3, 2, 1, 0) for r in rows[c]]
    torch.testing.assert_close(backward, forward[reversed_rows], rtol=0, atol=1e-6)


class _NotATextTransformer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.context_length, self.vocab_size = 77, 49408
        self.proj = nn.Embedding(49408, 24)

    def forward(self, text):
        return self.proj(text).mean(dim=1)


class _OverridingCLIP(CLIP):
    def encode_text(self, text, normalize: bool = False):
        return super().encode_text(text, normalize) * 2


def _foreign_tower() -> nn.Module:
    model = _build(CustomTextCLIP)
    model.text = _NotATextTransformer()
    return model


FALLBACKS = {
    'bidirectional_last_pool': (lambda: _build(CustomTextCLIP, no_causal_mask=True,
                                               pool_type='last'), 'pooling'),
    'bidirectional_argmax': (lambda: _build(CustomTextCLIP, no_causal_mask=True), 'not causal'),
    'class_token': (lambda: _build(CustomTextCLIP, embed_cls=True), 'class token'),
    'foreign_tower': (_foreign_tower, 'not an open_clip TextTransformer'),
    'overridden_encode_text': (lambda: _build(_OverridingCLIP), 'overrides encode_text'),
    'not_open_clip': (lambda: _NotATextTransformer(), 'not an open_clip'),
}


@pytest.mark.parametrize('kind', sorted(FALLBACKS))
def test_other_towers_run_at_full_length_and_say_so(kind, tokenizer, monkeypatch):
    monkeypatch.setattr(text_tower, '_logged', set())
    build, words = FALLBACKS[kind]
    model = build()
    if not hasattr(model, 'encode_text'):
        model.encode_text = model.forward
    messages = []
    encoder = text_encoder_for(model, log=messages.append)
    assert not encoder.trimmed and words in encoder.reason
    assert len(messages) == 1 and words in messages[0] and 'full context length' in messages[0]
    text_encoder_for(model, log=messages.append)
    assert len(messages) == 1  # once per kind of model
    tokens = tokenizer(['a cat.', 'two dogs on a long road.'])
    with torch.no_grad():
        assert torch.equal(encoder(tokens), model.encode_text(tokens))
    lengths = []
    handle = next(m for m in model.modules() if isinstance(m, nn.Embedding)).register_forward_hook(
        lambda m, args, out: lengths.append(args[0].shape[1]))
    build_text_classifier(model, tokenizer, CLASSES[:2], TEMPLATES)
    handle.remove()
    assert set(lengths) == {77}


def test_bf16_tower_uses_the_shortcut_and_stays_close_to_fp32(tokenizer):
    model = _build(CLIP)
    reference = build_text_classifier(model, tokenizer, CLASSES, TEMPLATES)
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    assert text_encoder_for(bf16).trimmed
    got = build_text_classifier(bf16, tokenizer, CLASSES, TEMPLATES)
    assert got.dtype == torch.float32
    cosine = (got * reference).sum(dim=-1)
    assert cosine.min().item() > 0.999


def test_eot_positions_rules():
    tokens = torch.tensor([[49406, 320, 49407, 0, 0], [49406, 5, 6, 7, 49407]])
    assert eot_positions(tokens, 'argmax').tolist() == [2, 4]
    assert eot_positions(tokens, 'eos', eos_id=49407).tolist() == [2, 4]
    assert eot_positions(tokens, 'first').tolist() == [0, 0]
    with pytest.raises(ValueError, match='pool_type must be one of'):
        eot_positions(tokens, 'last')
    with pytest.raises(ValueError, match='needs eos_id'):
        eot_positions(tokens, 'eos')
