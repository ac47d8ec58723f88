"""The trainer's batch source: preloaded crops cut on the device, or streamed ones read ahead."""

from __future__ import annotations

import torch

from critnet.train.data.device_crops import DeviceCrops
from critnet.train.data.roadscene import RoadSceneCrops
from critnet.train.data.streamed import Plan, StreamedBatches, StreamedCrops


def batches_for(crops: RoadSceneCrops, device: torch.device, plan: Plan, stop: int,
                workers: int) -> DeviceCrops | StreamedBatches:
    """:class:`DeviceCrops` for preloaded ``crops``; :class:`StreamedBatches` (``workers``
    DataLoader processes following the trainer's step ``plan`` up to ``stop``) for streamed."""
    if isinstance(crops, StreamedCrops):
        return StreamedBatches(crops, device, plan, stop, workers)
    return DeviceCrops(crops, device)
