"""Registration of a misaligned IR image onto the visible image (pure functions on arrays).

- :mod:`~critnet.pipeline.registration.transform`: :class:`Registration`, :func:`warp_ir`,
  corner errors, the edge images;
- :mod:`~critnet.pipeline.registration.ecc`: ECC on edge images, one start or several
  (``ecc``, ``ecc-multi``);
- :mod:`~critnet.pipeline.registration.search`: a coarse scale × translation search by
  normalised cross-correlation of the edge images, then ECC (``search``, the default);
- :mod:`~critnet.pipeline.registration.mattes`: SimpleITK's Mattes mutual information
  (``mattes``, needs ``critnet[register]``);
- :mod:`~critnet.pipeline.registration.measure`: the edge correlation that decides;
- :mod:`~critnet.pipeline.registration.estimate`: :func:`estimate_transform`, which keeps the
  identity (or the plain resize) unless the estimate beats it.

Needs OpenCV (``pip install critnet[video]``).
"""

from critnet.pipeline.registration.ecc import MAX_ANISOTROPY
from critnet.pipeline.registration.estimate import (
    DEFAULT_METHOD,
    METHODS,
    MIN_CORRELATION,
    MOTIONS,
    TOLERANCE,
    estimate_transform,
)
from critnet.pipeline.registration.transform import (
    Registration,
    corner_distances,
    corner_error,
    cv2_module,
    edge_image,
    resize_matrix,
    warp_ir,
)

__all__ = ["DEFAULT_METHOD", "MAX_ANISOTROPY", "METHODS", "MIN_CORRELATION", "MOTIONS",
           "TOLERANCE", "Registration", "corner_distances", "corner_error", "cv2_module",
           "edge_image", "estimate_transform", "resize_matrix", "warp_ir"]
