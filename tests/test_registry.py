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
            "from dense_clip.registry import SEG_HEADS, SEG_STEPS, LAST_BLOCKS\n"
            "for r in (SEG_HEADS, SEG_STEPS, LAST_BLOCKS): r.import_from_location()\n"
            "assert 'DINOiserHead' in SEG_HEADS.module_dict\n"
            "assert 'PAMR' in SEG_STEPS.module_dict and 'ProxyCLIP' in LAST_BLOCKS.module_dict\n"
            "assert DATASETS.get('COCOObjectDataset') is not None\n")
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


def test_detection_side_never_imports_mmseg():
    code = ("import sys\n"
            "sys.modules['mmseg'] = None  # any 'import mmseg' now fails\n"
            "import dense_clip.det\n"
            "from mmdet.registry import DATASETS, METRICS, MODELS\n"
            "for name in ('FViT', 'ZeroShotRegionDetector', 'CLIPSelf', 'CLIPViTPyramid',\n"
            "             'FViTRoIHead', 'FViTBBoxHead', 'TextEmbeddingClassifier'):\n"
            "    assert MODELS.get(name) is not None, name\n"
            "assert DATASETS.get('OVCocoDataset') and DATASETS.get('OVLVISDataset')\n"
            "assert METRICS.get('OVDetMetric') and METRICS.get('OVLVISMetric')\n"
            "import dense_clip.apis, dense_clip.models.region\n"
            "assert not any(m == 'mmseg' or m.startswith('mmseg.') for m in sys.modules\n"
            "               if sys.modules[m] is not None)\n")
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize('name', ['LAST_BLOCKS', 'PROXY_MODELS', 'TEACHERS', 'SEG_HEADS',
                                  'SEG_STEPS', 'MASK_GENERATORS'])
def test_component_registries_fill_lazily_and_name_valid_choices(name):
    reg = getattr(registry, name)
    reg.import_from_location()
    assert reg.module_dict, f'{name} is empty after importing its locations'
    with pytest.raises(ValueError, match='valid: ') as info:
        registry.build_component(reg, 'no-such-entry')
    assert sorted(reg.module_dict)[0] in str(info.value)


def test_build_component_is_case_insensitive_and_passes_instances_through():
    from dense_clip.seg.steps import PAMR, SegStep

    step = registry.build_component(registry.SEG_STEPS, dict(type='pamr', num_iter=2))
    assert isinstance(step, PAMR) and step.num_iter == 2
    assert registry.build_component(registry.SEG_STEPS, step, SegStep) is step
    with pytest.raises(ValueError, match='needs a type'):
        registry.build_component(registry.SEG_STEPS, dict(num_iter=2))
