# RegionCLIP RN50, zero-shot detection on OV-COCO from a COCO-format proposal file
# ("RN50, RPN, COCO" of test_zeroshot_inference.sh: MULTIPLY_RPN_SCORE True, i.e. the score is
# sqrt(class probability x proposal score)). The authors' proposals come from their LVIS-866 RPN
# (rpn_lvis_866.pth, NMS 0.9, 1000 per image); dump them to COCO json (README).
_base_ = './regionclip_rn50_zeroshot-gt_ov-coco.py'
model = dict(proposals='file', test_cfg=dict(proposal_score='geometric'))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='LoadProposals', num_max_proposals=1000),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
val_dataloader = dict(dataset=dict(proposal_file='proposals/rpn_lvis_866_val2017.json',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader
