"""Training and testing machinery shared by the segmentation and detection sides."""

from .checkpoint_saving import setup_checkpoint_saving
from .config import (
    TASKS,
    DictAction,
    apply_dataset_vocabulary,
    load_config,
    parse_tool_args,
    read_config,
)
from .model_wrappers import CPUDistributedDataParallel
from .per_class_hook import PerClassResultsHook
from .per_class_metric import PerClassMetric, PerClassScores
from .runner_setup import check_resume_checkpoint, prepare_distributed, setup_checkpoint_loading
from .test_outputs import TestOutputs, configure_test_outputs, display_available

__all__ = [
    'TASKS',
    'DictAction',
    'CPUDistributedDataParallel',
    'apply_dataset_vocabulary',
    'check_resume_checkpoint',
    'PerClassMetric',
    'PerClassResultsHook',
    'PerClassScores',
    'TestOutputs',
    'configure_test_outputs',
    'display_available',
    'load_config',
    'parse_tool_args',
    'prepare_distributed',
    'read_config',
    'setup_checkpoint_loading',
    'setup_checkpoint_saving',
]
