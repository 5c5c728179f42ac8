"""Images of a COCO-format file with their boxes, whatever the categories (CLIPSelf's data)."""

from __future__ import annotations

from mmdet.datasets import CocoDataset

from dense_clip.registry import DET_DATASETS

from .ov_coco import lvis_file_name

__all__ = ['CocoRegionsDataset']


@DET_DATASETS.register_module()
class CocoRegionsDataset(CocoDataset):
    """A COCO-format file read with every category it lists (labels follow the file's order).

    For data whose boxes are regions rather than labelled objects: CLIPSelf's COCO images
    (``instances_train2017.json``, boxes unused in grid mode) or a COCO-format proposal file
    (``'boxes'`` mode). ``metainfo`` classes are taken from the file, not from the config.
    LVIS files (images by ``coco_url``) work too.
    """

    def load_data_list(self) -> list[dict]:
        api = type(self).COCOAPI

        def reading_api(path: str):
            coco = api(path)
            self._metainfo['classes'] = tuple(coco.cats[i]['name'] for i in sorted(coco.cats))
            return coco

        self.COCOAPI = reading_api
        try:
            return super().load_data_list()
        finally:
            del self.COCOAPI

    def parse_data_info(self, raw_data_info: dict) -> dict:
        lvis_file_name(raw_data_info['raw_img_info'], self.ann_file)
        return super().parse_data_info(raw_data_info)
