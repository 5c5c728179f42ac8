# RegionCLIP RN50, zero-shot box classification on OV-COCO with ground-truth boxes (the paper's
# Table 4 protocol; test_zeroshot_inference.sh, "RN50, GT, COCO"): 800 short side / 1333 long.
_base_ = [
    './_base_/regionclip_rn50_zeroshot.py',
    '../_base_/datasets/ov_coco_detection.py',
    '../_base_/default_runtime_det.py',
]
