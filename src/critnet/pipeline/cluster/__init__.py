"""Fusing an archive on a Ray cluster (``critnet fuse --engine ray``), and critnet as a step in
your own Ray Data pipeline.

- :func:`fuse_folder_ray`: :func:`~critnet.pipeline.folder.fuse_folder` on Ray Data — the same
  pairs, options, output files and report; folders on a shared mount or fsspec URLs.
- :class:`FusePairs`, :class:`FuseImages`: callable classes for ``map_batches`` (the model is
  loaded once per worker). Ray itself is imported only by :func:`fuse_folder_ray`.

Needs ``pip install 'critnet[cluster]'`` (Ray Data; fsspec and s3fs for ``s3://`` URLs).
docs/inference.md, "Many machines".
"""

from critnet.pipeline.cluster.run import (
    MISSING_RAY,
    RETRIES,
    ClusterError,
    fuse_folder_ray,
    require_ray,
)
from critnet.pipeline.cluster.workers import FuseImages, FusePairs, load_worker_model

__all__ = ["MISSING_RAY", "RETRIES", "ClusterError", "FuseImages", "FusePairs",
           "fuse_folder_ray", "load_worker_model", "require_ray"]
