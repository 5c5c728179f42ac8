"""CLIP's image statistics (OpenAI CLIP ``_transform``), on the two scales the code uses.

``CLIP_MEAN`` / ``CLIP_STD`` are on the 0-255 scale rounded to three decimals, as in the
MaskCLIP / mmseg configs the training-free methods come from; ``CLIP_MEAN_01`` / ``CLIP_STD_01``
are OpenAI's exact values on the 0-1 scale (x 255 gives CAT-Seg's ``PIXEL_MEAN`` / ``PIXEL_STD``).
"""

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'CLIP_MEAN_01', 'CLIP_STD_01']

CLIP_MEAN_01 = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD_01 = (0.26862954, 0.26130258, 0.27577711)
CLIP_MEAN = [122.771, 116.746, 104.094]
CLIP_STD = [68.501, 66.632, 70.323]
