# RegionCLIP RN50, zero-shot box classification on LVIS v1 val with ground-truth boxes
# (test_zeroshot_inference.sh "RN50, GT, LVIS": CLIP_fast_rcnn_R_50_C4_zsinf.yaml, score
# threshold 0.0001, NMS 0.5, 300 detections per image). Boxes only: mask AP is not defined here.
_base_ = [
    './_base_/regionclip_rn50_zeroshot.py',
    '../_base_/datasets/ov_lvis_detection.py',
    '../_base_/default_runtime_det.py',
]
model = dict(test_cfg=dict(score_thr=0.0001, max_per_img=300))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric=['bbox'])
test_evaluator = val_evaluator
