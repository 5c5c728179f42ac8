"""The shipped CAT-Seg weights: their record, their file, and that they load into the config."""

from __future__ import annotations

import hashlib
import json
import shlex

from dense_clip.models.catseg.checkpoint import EMBEDDED_WEIGHTS, read_catseg_state

WEIGHTS = EMBEDDED_WEIGHTS['dense_clip:catseg-tiny-synth']
RECORD = json.loads(WEIGHTS.with_suffix('.json').read_text())


def test_record_matches_the_file():
    data = WEIGHTS.read_bytes()
    assert RECORD['bytes'] == len(data) < 5_000_000
    assert RECORD['sha256'] == hashlib.sha256(data).hexdigest()
    argv = shlex.split(RECORD['command'])
    assert argv[:2] == ['python', 'tools/train_catseg_synthetic.py']


def test_recorded_metrics_meet_the_targets():
    metrics = RECORD['metrics']
    assert metrics['mIoU'] >= 55 and metrics['mIoU_unseen'] >= 40
    assert metrics['mIoU_seen'] > metrics['mIoU_unseen']


def test_weights_hold_the_trained_parts_only():
    state, partial = read_catseg_state('dense_clip:catseg-tiny-synth')
    assert partial
    clip = [k for k in state if k.startswith('clip_model.')]
    assert clip and all(k.endswith('attn.in_proj_weight') for k in clip)
    assert len(clip) == 2 + 4  # two image blocks, four text blocks
    assert any(k.startswith('aggregator.layers.') for k in state)
    assert any(k.startswith('guidance_upsample.') for k in state)
