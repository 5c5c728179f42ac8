# NACLIP on ADE20K-847: no authors' config; the ADE20K settings carried over.
# Test resize: short side 336.
_base_ = [
    '../_base_/methods/naclip.py',
    '../_base_/datasets/ov_ade847.py',
    '../_base_/default_runtime_seg.py',
]
