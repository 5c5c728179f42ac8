# CLIPSelf with region proposals (scripts/train_clipself_coco_region_proposals_eva_vitb16.sh):
# the regions are the boxes of a COCO-format proposal file (the authors' coco_proposals.json),
# areas 8^2..1024^2, at most 20 per image, crops enlarged 1.5x.
_base_ = './clipself_vit-b16_6e_coco-patches.py'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='CLIPSelfCrops', mode='boxes', max_boxes=20, crop_size=224, crop_scale=1.5,
         min_size=8, max_size=1024),
    dict(type='Resize', scale=(1024, 1024), keep_ratio=True, interpolation='bicubic'),
    dict(type='Pad', size=(1024, 1024), pad_val=dict(img=0)),
    dict(type='PackCLIPSelfInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(dataset=dict(ann_file='coco_proposals.json', pipeline=train_pipeline))
