"""Old import path, kept for users: ``from critnet.video import fuse_frames, fuse_video``.
The code lives in :mod:`critnet.pipeline.video`."""

from critnet.pipeline.video import *  # noqa: F403
from critnet.pipeline.video import __all__  # noqa: F401
