"""Integrity of weights files: a checksum of the tensor data, a file hash, finite values.

A checksum is stored in a weights file's metadata when it is written (``tensors_sha256``) and
checked when it is loaded, so flipped bytes in the tensor data are an error rather than a
garbage fused image. Bundled files are also checked against a SHA-256 of the whole file shipped
with the package (see ``critnet.weights.BUNDLED_SHA256``).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from critnet.io.checksum import file_sha256 as file_sha256  # re-exported

if TYPE_CHECKING:
    import torch

#: Metadata key of :func:`tensors_sha256`.
CHECKSUM_KEY = "tensors_sha256"


def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of a state dict: every tensor's name, dtype, shape and raw bytes, by name.

    Independent of the file layout, so a file re-serialised by another tool keeps its checksum.
    """
    import torch

    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def first_non_finite(state: dict[str, torch.Tensor]) -> str | None:
    """Name of the first (by name) floating-point tensor holding NaN or ±Inf, or ``None``."""
    import torch

    for name in sorted(state):
        tensor = state[name]
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None
