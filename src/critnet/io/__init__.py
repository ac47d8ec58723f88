"""Image input and output: the one place where images are read, converted and written.

- :mod:`critnet.io.read`: file readers, one per contract — :func:`read_image` (float in [0, 1]
  for fusion, visible), :func:`read_ir` (the same with the IR normalisation), :func:`read_raw`
  (stored ``uint8``/``uint16`` samples) and :func:`read_gray_uint8` (MATLAB-exact gray for
  metrics, benchmarks and training; its docstring says why training uses it too).
- :mod:`critnet.io.levels`: sample values of a decoded image and their scaling to [0, 1].
- :mod:`critnet.io.kinds`: path / array / PIL / tensor inputs ↔ float arrays and tensors.
- :mod:`critnet.io.write`: atomic writing, format by suffix.

Identifiers spell *gray* and *color* (as the ``--gray`` flag users know, PIL and MATLAB do).
"""

from critnet.io.levels import (
    NORMALIZATIONS,
    PERCENTILES,
    ImageInfo,
    default_normalization,
    image_levels,
    normalize_levels,
)
from critnet.io.read import (
    MAX_PIXELS,
    check_pixel_count,
    open_image,
    read_gray_uint8,
    read_image,
    read_ir,
    read_raw,
)
from critnet.io.write import WRITE_FORMATS, check_output_suffix, to_uint, write_image

__all__ = ["MAX_PIXELS", "NORMALIZATIONS", "PERCENTILES", "WRITE_FORMATS", "ImageInfo",
           "check_output_suffix", "check_pixel_count", "default_normalization", "image_levels",
           "normalize_levels", "open_image", "read_gray_uint8", "read_image", "read_ir", "read_raw",
           "to_uint", "write_image"]
