# NACLIP on PASCAL Context-459: no authors' config; the Context-59 settings carried over.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_context459.py',
    '../_base_/default_runtime_seg.py',
]
