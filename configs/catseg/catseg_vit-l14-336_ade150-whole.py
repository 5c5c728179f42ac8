# CAT-Seg (L) on A-150 with the authors' whole-image path (TEST.SLIDING_WINDOW False: one
# view, padded to 32, resized to the CLIP resolution) instead of eval.sh's sliding window.
_base_ = ['./catseg_vit-l14-336_ade150.py']
model = dict(test_cfg=dict(mode='whole'))
