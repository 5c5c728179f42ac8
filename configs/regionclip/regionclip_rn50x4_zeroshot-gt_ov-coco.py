# RegionCLIP RN50x4 (regionclip_pretrained-cc_rn50x4.pth), ground-truth boxes on OV-COCO:
# POOLER_RESOLUTION 18 = twice the 9x9 attention-pool grid (the region encoder's default).
_base_ = './regionclip_rn50_zeroshot-gt_ov-coco.py'
model = dict(clip=dict(pretrained='zoo://regionclip_rn50x4_cc'))
