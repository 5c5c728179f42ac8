"""Registry wiring: task registries resolve lazily; the segmentation side runs without mmdet."""

import subprocess
import sys

import pytest

import dense_clip.registry as registry
from tests.conftest import REPO


def test_task_registries_are_the_frameworks_own():
    import mmdet.registry
    import mmseg.registry

    assert registry.SEG_MODELS is mmseg.registry.MODELS
    assert registry.DET_MODELS is mmdet.registry.MODELS
    with pytest.raises(AttributeError):
        registry.NOT_A_REGISTRY  # noqa: B018


def test_segmentation_side_works_without_mmdet():
    # mmseg itself imports mmdet when it is installed (optional MaskFormer heads), so the check
    # is that dense_clip.seg and every segmentation config's modules load with mmdet blocked.
    code = ("import sys\n"
            "sys.modules['mmdet'] = None  # any 'import mmdet' now fails\n"
            "import dense_clip.seg\n"
            "from mmseg.registry import DATASETS, MODELS\n"
            "assert MODELS.get('OpenVocabSegmentor') is not None\n"
            "assert MODELS.get('CLIPDINOiserSegmentor') is not None\n"
            "assert DATASETS.get('COCOObjectDataset') is not None\n")
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
