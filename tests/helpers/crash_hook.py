"""A hook that kills the training process hard right after a given iteration (tests only)."""

import os

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class CrashAfterIterHook(Hook):
    """Ends the process with ``os._exit`` once ``iteration`` iterations are done.

    Runs after the checkpoint hook (give it priority 'LOWEST'), like a kill arriving just after
    a checkpoint was written: no clean-up, no final checkpoint.
    """

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter + 1 == self.iteration:
            os._exit(17)
