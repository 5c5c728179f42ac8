"""Training and testing machinery shared by the segmentation and detection sides."""

from .config import TASKS, DictAction, apply_dataset_vocabulary, load_config, parse_tool_args
from .model_wrappers import CPUDistributedDataParallel
from .runner_setup import prepare_distributed, setup_checkpoint_loading

__all__ = [
    'TASKS',
    'DictAction',
    'CPUDistributedDataParallel',
    'apply_dataset_vocabulary',
    'load_config',
    'parse_tool_args',
    'prepare_distributed',
    'setup_checkpoint_loading',
]
