"""mmseg's local visualizer drawing image | prediction | ground truth with a class legend."""

from __future__ import annotations

import numpy as np
from mmseg.visualization import SegLocalVisualizer
from PIL import Image

from dense_clip.registry import SEG_VISUALIZERS
from dense_clip.utils.overlay import palette, render_panels


@SEG_VISUALIZERS.register_module()
class SegSideBySideVisualizer(SegLocalVisualizer):
    """Draws one test sample as image | prediction | ground truth plus a legend.

    The legend lists the classes present in the prediction or the ground truth with their
    pixel shares in each. Class names and colours come from the dataset's metainfo (set by
    mmengine's test loop); without a palette (or with too short a one) dense_clip's
    :func:`~dense_clip.utils.overlay.palette` is used. Ground-truth ignore values (255, 65535)
    are drawn uncoloured.

    Args:
        name: Instance name (mmengine's managed visualizers are looked up by name).
        alpha: Opacity of the colour layer, 0 to 1.
        min_width: Small images are upscaled (nearest) to this width per panel.
        **kwargs: Passed to ``SegLocalVisualizer`` (``vis_backends``, ``save_dir``).
    """

    def __init__(self, name: str = 'visualizer', alpha: float = 0.55, min_width: int = 256,
                 **kwargs) -> None:
        super().__init__(name=name, alpha=alpha, **kwargs)
        self.min_width = min_width

    def _names_and_colours(self, data_sample, num_labels: int) -> tuple[list[str], np.ndarray]:
        meta = self.dataset_meta or {}
        names = meta.get('classes')
        vocabulary = data_sample.metainfo.get('vocabulary') if data_sample is not None else None
        if vocabulary is not None:  # a per-image vocabulary (the demos) wins
            names = vocabulary.class_names
        names = list(names) if names is not None else [str(i) for i in range(num_labels)]
        colours = meta.get('palette')
        if colours is None or len(colours) < len(names) or vocabulary is not None:
            colours = palette(len(names))
        return names, np.asarray(colours, np.uint8)

    def add_datasample(self, name: str, image: np.ndarray, data_sample=None,
                       draw_gt: bool = True, draw_pred: bool = True, show: bool = False,
                       wait_time: float = 0, out_file: str | None = None, step: int = 0,
                       with_labels: bool | None = True) -> None:
        """Draws the sample; shows it, writes ``out_file`` or hands it to the vis backends.

        Args:
            name: Window or image name.
            image: ``(H, W, 3)`` uint8 RGB, the image at the size of the label maps.
            data_sample: A ``SegDataSample`` with ``pred_sem_seg`` and/or ``gt_sem_seg``.
            draw_gt: Whether to draw the ground truth.
            draw_pred: Whether to draw the prediction.
            show: Open a window (cv2) for ``wait_time`` seconds (0: until a key is pressed).
            wait_time: Seconds to show the window.
            out_file: PNG path to write instead of the vis backends.
            step: Global step for the vis backends.
            with_labels: Unused (the legend names every class present).
        """
        panels = []
        if data_sample is not None:
            for wanted, key, title in ((draw_pred, 'pred_sem_seg', 'prediction'),
                                       (draw_gt, 'gt_sem_seg', 'ground truth')):
                if wanted and key in data_sample:
                    labels = data_sample.get(key).data.squeeze(0).cpu().numpy()
                    panels.append((title, labels.astype(np.int64)))
        num_labels = 1 + max([int(p[1].max()) for p in panels if p[1].size] + [0])
        names, colours = self._names_and_colours(data_sample, num_labels)
        image = np.ascontiguousarray(image[..., :3]).astype(np.uint8)
        if panels and panels[0][1].shape != image.shape[:2]:
            height, width = panels[0][1].shape
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
        drawn = render_panels(image, panels, names, colours, self.alpha, self.min_width)
        self.set_image(drawn)
        if show:  # mmengine's cv2 backend shows the array as it is: hand it BGR
            self.show(np.ascontiguousarray(drawn[..., ::-1]), win_name=name,
                      wait_time=wait_time, backend='cv2')
        if out_file is not None:
            Image.fromarray(drawn).save(out_file)
        else:
            self.add_image(name, drawn, step)
