"""Distributed data parallel on CPU (gloo) through mmengine's Runner."""

from __future__ import annotations

from mmengine.model import MMDistributedDataParallel

from dense_clip.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for modules whose parameters live on the CPU.

    mmengine's Runner always passes ``device_ids=[LOCAL_RANK]``, which torch refuses for CPU
    modules. This wrapper drops ``device_ids`` (and ``output_device``) when the module has no
    CUDA parameters, so ``tools/dist_train.sh`` works with the gloo backend on CPU machines.
    """

    def __init__(self, module, detect_anomalous_params: bool = False, **kwargs) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            kwargs.pop('device_ids', None)
            kwargs.pop('output_device', None)
        super().__init__(module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)
