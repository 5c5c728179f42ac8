# OV-LVIS (ViLD's protocol, used by F-ViT): LVIS v1, train on frequent + common categories (the
# 337 rare ones are novel), report box and mask APr and AP with LVIS's federated evaluation.
# Files (data/lvis_v1): annotations/lvis_v1_{train,val}.json and the COCO 2017 image folders
# train2017/, val2017/ (LVIS images are COCO images; paths come from coco_url).
dataset_type = 'OVLVISDataset'
data_root = 'data/lvis_v1/'
class_split = 'ov_lvis'
backend_args = None
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, class_split=class_split,
                 ann_file='annotations/lvis_v1_val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='OVLVISMetric', ann_file=data_root + 'annotations/lvis_v1_val.json',
                     metric=['bbox', 'segm'], max_dets=300)
test_evaluator = val_evaluator
