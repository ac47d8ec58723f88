"""The training crops cut on the device (docs/training.md, "Keeping a GPU busy").

:class:`DeviceCrops` holds every pair of a :class:`~critnet.train.data.roadscene.RoadSceneCrops`
(both
images and both saliency maps, as float32) resident on the training device, flattened into one
4×P tensor (P: the pixels of all pairs, no padding). A batch is one gather from it: the crop
windows are drawn on the host exactly as :meth:`RoadSceneCrops.window` draws them, so a batch
equals :meth:`RoadSceneCrops.batch` bit for bit (tested), and only B×4 integers cross to the
device per step (asynchronously from pinned memory on CUDA).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from critnet.train.data.roadscene import RoadSceneCrops

KEYS = ("ir", "vis", "sal_ir", "sal_vis")


class DeviceCrops:
    """``crops``' samples, sliced and flipped on ``device``.

    Args:
        crops: the preloaded pairs and the crop rule (size, flips, seed).
        device: where the pixels live and the batches are cut.
    """

    def __init__(self, crops: RoadSceneCrops, device: torch.device | str = "cpu") -> None:
        self.crops = crops
        self.device = torch.device(device)
        shapes = [pair.ir.shape for pair in crops.pairs]
        sizes = [h * w for h, w in shapes]
        teachers = all(pair.teacher is not None for pair in crops.pairs)
        self.keys = (*KEYS, "teacher") if teachers else KEYS
        # the images as RoadSceneCrops.sample scales them (float32 / 255 on the host: same bits)
        flat = np.empty((len(self.keys), sum(sizes)), np.float32)
        start = 0
        for pair, size in zip(crops.pairs, sizes, strict=True):
            for row, image in ((0, pair.ir), (1, pair.vis)):  # float images: already in [0, 1]
                scale = 255.0 if image.dtype == np.uint8 else 1.0
                flat[row, start:start + size] = image.astype(np.float32).ravel() / scale
            flat[2, start:start + size] = pair.sal_ir.ravel()
            flat[3, start:start + size] = pair.sal_vis.ravel()
            if teachers:
                flat[4, start:start + size] = pair.teacher.ravel()
            start += size
        self.pixels = torch.from_numpy(flat).to(self.device)
        offsets = np.cumsum([0, *sizes[:-1]])
        widths = [w for _, w in shapes]
        self._offsets = torch.tensor(offsets, dtype=torch.int64, device=self.device)
        self._widths = torch.tensor(widths, dtype=torch.int64, device=self.device)
        self._span = torch.arange(crops.crop, device=self.device)

    def __len__(self) -> int:
        return len(self.crops)

    def batch(self, epoch: int, indices: list[int]) -> dict[str, Tensor]:
        """The samples ``indices`` of ``epoch``: four B×1×S×S float32 tensors on the device
        (``ir``, ``vis``, ``sal_ir``, ``sal_vis``), equal to ``crops.batch(epoch, indices)``."""
        windows = [self.crops.window(epoch, i) for i in indices]
        table = torch.tensor([[i, w.top, w.left, w.flip_h, w.flip_v]
                              for i, w in zip(indices, windows, strict=True)], dtype=torch.int64)
        if self.device.type == "cuda":
            table = table.pin_memory()
        index, top, left, flip_h, flip_v = table.to(self.device, non_blocking=True).unbind(1)
        last = self.crops.crop - 1
        rows = top[:, None] + torch.where(flip_v[:, None] == 1, last - self._span, self._span)
        cols = left[:, None] + torch.where(flip_h[:, None] == 1, last - self._span, self._span)
        # B×S×S positions in the flat pixel table
        address = (self._offsets[index, None, None]
                   + rows[:, :, None] * self._widths[index, None, None] + cols[:, None, :])
        patches = self.pixels[:, address]  # 4×B×S×S, one gather
        return {key: patches[k].unsqueeze(1) for k, key in enumerate(self.keys)}
