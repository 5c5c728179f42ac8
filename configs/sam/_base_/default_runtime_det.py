# Runtime of the SAM detection-side configs (mmdet 3.x scope, test only): the detection runtime
# with dense_clip.sam_det as the one package imported. Never imports mmseg.
_base_ = ['../../_base_/default_runtime_det.py']
custom_imports = dict(imports=['dense_clip.sam_det'], allow_failed_imports=False)
