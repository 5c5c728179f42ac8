"""The ``test_cfg`` of the open-vocabulary segmentor: how one image becomes a prediction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

__all__ = ['MODES', 'PATCH_REMAINDERS', 'PROBS_MODES', 'InferenceSettings']

MODES = ('slide', 'whole')
PATCH_REMAINDERS = ('drop', 'pad', 'pad_stretch')
PROBS_MODES = ('full', 'top', 'auto')


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else tuple(int(v) for v in value)


@dataclass(frozen=True)
class InferenceSettings:
    """Validated ``test_cfg`` of :class:`OpenVocabSegmentor`.

    Attributes:
        mode: 'slide' (mmseg's window grid, scores averaged) or 'whole' (one pass).
        crop_size, stride: (h, w) of the windows and their step.
        windows_per_batch: Windows encoded in one pass.
        patch_remainder: Sizes that are not a multiple of the patch: 'drop' (NACLIP: the patch
            conv drops the remainder, the smaller grid is upsampled over the whole window),
            'pad' (ClearCLIP: zero-pad the normalised window evenly on both sides, crop the
            scores back) or 'pad_stretch' (CLIP-DINOiser: pad black pixels at the right and
            bottom, resize the padded grid's scores over the unpadded window).
        probs: What ``seg_logits`` holds. 'full' (default, exact): the (C, H, W) class
            probabilities; refused with a clear error when one (names, H, W) float32 score
            map would exceed ``max_probs_mb``. 'top': (1, H, W), the probability of each
            pixel's class; scores are rendered one chunk of classes at a time and never held
            for every class at once (``dense_clip.seg.top_class``), labels equal 'full''s
            but where two classes' probabilities tie to float precision. 'auto': 'full' when
            it fits ``max_probs_mb``, else 'top', with a log line.
        max_probs_mb: The largest per-name score map 'full' may hold, in MB.
        max_tokens: 'whole' mode refuses, before encoding, an image whose patch grid has more
            cells (attention over N tokens takes heads x N^2 floats per map).
    """

    mode: str = 'slide'
    crop_size: tuple[int, int] = (224, 224)
    stride: tuple[int, int] = (112, 112)
    windows_per_batch: int = 4
    patch_remainder: str = 'drop'
    probs: str = 'full'
    max_probs_mb: float = 2048.0
    max_tokens: int = 4096

    @classmethod
    def from_cfg(cls, test_cfg: dict | None) -> InferenceSettings:
        """Builds the settings from a config dict; unknown keys and bad values are errors."""
        given = dict(test_cfg or {})
        valid = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(valid))
        if unknown:
            raise ValueError(f'unknown test_cfg setting(s) {unknown}; valid: {sorted(valid)}')
        for key, choices in (('mode', MODES), ('patch_remainder', PATCH_REMAINDERS),
                             ('probs', PROBS_MODES)):
            if key in given and given[key] not in choices:
                raise ValueError(f'test_cfg.{key} must be one of {choices}, got {given[key]!r}')
        for key in ('max_probs_mb', 'max_tokens'):
            if key in given and not given[key] > 0:
                raise ValueError(f'test_cfg.{key} must be positive, got {given[key]!r}')
        for key in ('crop_size', 'stride'):
            if key in given:
                given[key] = _pair(given[key])
        if 'windows_per_batch' in given:
            given['windows_per_batch'] = max(int(given['windows_per_batch']), 1)
        for key, kind in (('max_probs_mb', float), ('max_tokens', int)):
            if key in given:
                given[key] = kind(given[key])
        return cls(**given)
