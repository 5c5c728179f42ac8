# Trident with the authors' SAM refinement (eval.py --sam_refine): the coarse map's regions prompt
# SAM ViT-B (the segmentor's). coarse_thresh from YuHengsss/Trident configs/cfg_ade20k.py;
# sam_iou_thresh 0.8, minimal_area 225 (configs/base_config.py), sam_mask_coff 0.005.
_base_ = './trident_vit-b16_ade150.py'
model = dict(steps=[dict(type='TridentSAMRefine', coarse_thresh=0.05)])
