# naclip on the synthetic benchmark with the embedded tiny CLIP (tools/benchmark_synthetic.py).
_base_ = [
    '../_base_/models/ov_segmentor_tiny-clip-synth.py',
    '../_base_/datasets/synthetic.py',
    '../_base_/default_runtime_seg.py',
]
# NACLIP's own protocol refines with PAMR (10 steps, dilations 8 and 16).
model = dict(
    encoder=dict(last_block='naclip'),
    steps=[dict(type='PAMR', num_iter=10, dilations=(8, 16))],
)
