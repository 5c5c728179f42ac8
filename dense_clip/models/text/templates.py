"""Prompt template sets for building text classifiers, kept as data.

Every template holds exactly one ``{}`` where the class name goes.

Sources:
    * ``'openai_imagenet'``: the 80 templates of OpenAI's CLIP ImageNet zero-shot notebook
      (``notebooks/Prompt_Engineering_for_ImageNet.ipynb``), in its order. The same list ships as
      ``open_clip.zero_shot_metadata.OPENAI_IMAGENET_TEMPLATES`` and in SCLIP/NACLIP/ClearCLIP's
      ``prompts/imagenet_template.py``; it is the default of the training-free methods.
    * ``'maskclip'``: MaskCLIP's 85 (chongzhou96/MaskCLIP,
      ``tools/maskclip_utils/prompt_engineering.py``): the 80 above plus five "in the scene" ones.
    * ``'single'``: ``'a photo of a {}.'``, the simplest CLIP prompt.
    * ``'catseg'``: CAT-Seg's single training/inference template. The paper writes
      "A photo of a {} in the scene."; the released code (cvlab-kaist/CAT-Seg,
      ``cat_seg/modeling/transformer/cat_seg_predictor.py``, ``prompt_ensemble_type='single'``)
      uses it WITHOUT the final period, and the released weights were trained with that text,
      so the set follows the code. ``'catseg_paper'`` is the paper's spelling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

__all__ = ['OPENAI_IMAGENET_TEMPLATES', 'MASKCLIP_TEMPLATES', 'TEMPLATE_SETS', 'get_templates']

OPENAI_IMAGENET_TEMPLATES: tuple[str, ...] = (
    'a bad photo of a {}.',
    'a photo of many {}.',
    'a sculpture of a {}.',
    'a photo of the hard to see {}.',
    'a low resolution photo of the {}.',
    'a rendering of a {}.',
    'graffiti of a {}.',
    'a bad photo of the {}.',
    'a cropped photo of the {}.',
    'a tattoo of a {}.',
    'the embroidered {}.',
    'a photo of a hard to see {}.',
    'a bright photo of a {}.',
    'a photo of a clean {}.',
    'a photo of a dirty {}.',
    'a dark photo of the {}.',
    'a drawing of a {}.',
    'a photo of my {}.',
    'the plastic {}.',
    'a photo of the cool {}.',
    'a close-up photo of a {}.',
    'a black and white photo of the {}.',
    'a painting of the {}.',
    'a painting of a {}.',
    'a pixelated photo of the {}.',
    'a sculpture of the {}.',
    'a bright photo of the {}.',
    'a cropped photo of a {}.',
    'a plastic {}.',
    'a photo of the dirty {}.',
    'a jpeg corrupted photo of a {}.',
    'a blurry photo of the {}.',
    'a photo of the {}.',
    'a good photo of the {}.',
    'a rendering of the {}.',
    'a {} in a video game.',
    'a photo of one {}.',
    'a doodle of a {}.',
    'a close-up photo of the {}.',
    'a photo of a {}.',
    'the origami {}.',
    'the {} in a video game.',
    'a sketch of a {}.',
    'a doodle of the {}.',
    'a origami {}.',
    'a low resolution photo of a {}.',
    'the toy {}.',
    'a rendition of the {}.',
    'a photo of the clean {}.',
    'a photo of a large {}.',
    'a rendition of a {}.',
    'a photo of a nice {}.',
    'a photo of a weird {}.',
    'a blurry photo of a {}.',
    'a cartoon {}.',
    'art of a {}.',
    'a sketch of the {}.',
    'a embroidered {}.',
    'a pixelated photo of a {}.',
    'itap of the {}.',
    'a jpeg corrupted photo of the {}.',
    'a good photo of a {}.',
    'a plushie {}.',
    'a photo of the nice {}.',
    'a photo of the small {}.',
    'a photo of the weird {}.',
    'the cartoon {}.',
    'art of the {}.',
    'a drawing of the {}.',
    'a photo of the large {}.',
    'a black and white photo of a {}.',
    'the plushie {}.',
    'a dark photo of a {}.',
    'itap of a {}.',
    'graffiti of the {}.',
    'a toy {}.',
    'itap of my {}.',
    'a photo of a cool {}.',
    'a photo of a small {}.',
    'a tattoo of the {}.',
)

MASKCLIP_TEMPLATES: tuple[str, ...] = OPENAI_IMAGENET_TEMPLATES + (
    'there is a {} in the scene.',
    'there is the {} in the scene.',
    'this is a {} in the scene.',
    'this is the {} in the scene.',
    'this is one {} in the scene.',
)

TEMPLATE_SETS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    'openai_imagenet': OPENAI_IMAGENET_TEMPLATES,
    'maskclip': MASKCLIP_TEMPLATES,
    'single': ('a photo of a {}.',),
    'catseg': ('A photo of a {} in the scene',),
    'catseg_paper': ('A photo of a {} in the scene.',),
})


def _check_template(template: str) -> str:
    if not isinstance(template, str):
        raise TypeError(f'a template must be a string, got {type(template).__name__}: {template!r}')
    if template.count('{}') != 1:
        raise ValueError(f'a template must contain exactly one "{{}}" placeholder: {template!r}')
    return template


def get_templates(name_or_list: str | Sequence[str]) -> tuple[str, ...]:
    """Resolves a template set.

    Args:
        name_or_list: The name of a set in :data:`TEMPLATE_SETS` (``'openai_imagenet'``,
            ``'maskclip'``, ``'single'``, ``'catseg'``, ``'catseg_paper'``), one template
            string containing ``{}``, or a sequence of template strings.

    Returns:
        The templates, each with exactly one ``{}``.

    Raises:
        ValueError: If the name is unknown (the message lists the valid names), the sequence
            is empty, or a template does not hold exactly one ``{}``.
    """
    if isinstance(name_or_list, str):
        if name_or_list in TEMPLATE_SETS:
            return TEMPLATE_SETS[name_or_list]
        if '{}' in name_or_list:
            return (_check_template(name_or_list),)
        raise ValueError(f'unknown template set {name_or_list!r}; valid names: '
                         f'{", ".join(sorted(TEMPLATE_SETS))} (or a template string with "{{}}")')
    templates = tuple(_check_template(t) for t in name_or_list)
    if not templates:
        raise ValueError('the template list is empty')
    return templates
