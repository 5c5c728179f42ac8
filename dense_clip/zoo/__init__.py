"""The model zoo: every method's weights by name (``zoo://NAME``), fetched, checked, converted.

Entries live in OpenMMLab model-index metafiles (``model-index.yml`` and
``configs/*/metafile.yaml``; ``dense_clip.zoo.index`` describes the fields). ``resolve(name)``
returns a verified local file, downloading it on first use (plain URLs with resume, retries and
checksums into ``$DENSE_CLIP_CACHE/zoo``; Hugging Face files through ``huggingface_hub``) and
converting it once when the upstream format differs (converters registered in
``dense_clip.registry.WEIGHT_CONVERTERS``). Wherever dense_clip takes a weights path or tag,
``zoo://NAME`` works too: ``CLIPSource(pretrained=...)``, ``load_clip``, proxy ``checkpoint``,
CLIP-DINOiser's ``head.checkpoint``, mmengine ``load_from`` / ``init_cfg`` and
``tools/test.py CONFIG zoo://NAME``. ``tools/download.py NAME|CONFIG [--dry-run]`` fetches ahead
of time; ``tools/make_model_zoo.py`` writes MODEL_ZOO.md from the same metafiles.
"""

from .errors import ZooError
from .index import (
    ZOO_SCHEME,
    ConfigEntry,
    Result,
    WeightEntry,
    ZooIndex,
    default_index_path,
    is_zoo_uri,
    load_index,
    strip_scheme,
)
from .resolve import PlannedFile, get_converter, plan, resolve

__all__ = [
    'ZOO_SCHEME',
    'ConfigEntry',
    'PlannedFile',
    'Result',
    'WeightEntry',
    'ZooError',
    'ZooIndex',
    'default_index_path',
    'get_converter',
    'is_zoo_uri',
    'load_index',
    'plan',
    'resolve',
    'strip_scheme',
]
