# maskclip on the synthetic benchmark with the embedded tiny CLIP (tools/benchmark_synthetic.py).
_base_ = [
    '../_base_/models/ov_segmentor_tiny-clip-synth.py',
    '../_base_/datasets/synthetic.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(encoder=dict(last_block='maskclip'))
