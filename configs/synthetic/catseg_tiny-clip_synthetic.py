# CAT-Seg on the synthetic benchmark with the embedded tiny CLIP and the shipped weights
# (dense_clip/data/catseg/catseg_tiny_synth.safetensors, trained on the seen classes by
# tools/train_catseg_synthetic.py; its JSON records the command and the metrics).
_base_ = [
    '../catseg/_base_/catseg_tiny-clip-synth.py',
    '../_base_/datasets/synthetic.py',
    '../_base_/default_runtime_seg.py',
]
model = dict(weights='dense_clip:catseg-tiny-synth')
test_evaluator = dict(type='SplitIoUMetric', iou_metrics=['mIoU'],
                      unseen=['red plain', 'orange striped', 'yellow dotted', 'green checkered',
                              'blue plain', 'purple striped'])
val_evaluator = test_evaluator
