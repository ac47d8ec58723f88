"""What a camera file holds for fusion: the measured frame, its unit, and the visible photo."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CELSIUS = "°C"
RAW_COUNTS = "raw counts"


@dataclass(frozen=True)
class CameraFrame:
    """A radiometric camera file, read.

    Attributes:
        values: H×W float32, temperatures in °C or raw sensor counts (see ``unit``).
        unit: :data:`CELSIUS` or :data:`RAW_COUNTS`.
        camera: what wrote the file (``"FLIR E40"``, ``"DJI"``...), for messages.
        photo: the embedded visible photo placed on the thermal grid (H×W×3 float32 in
            [0, 1], same H×W as ``values``), or ``None`` when the file holds none.
    """

    values: np.ndarray
    unit: str
    camera: str
    photo: np.ndarray | None = None
