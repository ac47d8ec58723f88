"""The fusion pipeline a user runs: read → normalise → [register] → network or backend → colour →
write (docs/architecture.md).

- :mod:`~critnet.pipeline.options`: :class:`FuseOptions`, the one option group;
- :mod:`~critnet.pipeline.loading`: which weights, which backend;
- :mod:`~critnet.pipeline.single`: one pair (``critnet.fuse``, ``fuse_file``);
- :mod:`~critnet.pipeline.folder`, :mod:`~critnet.pipeline.video`: many pairs, video streams,
  read ahead and written behind in threads by :mod:`~critnet.pipeline.overlap`;
- :mod:`~critnet.pipeline.fusion`, :mod:`~critnet.pipeline.colour`: numpy arrays (or tensors)
  through the network, the same code with or without torch;
- :mod:`~critnet.pipeline.runtime`, :mod:`~critnet.pipeline.bundled`: onnxruntime without torch,
  the graphs shipped with the bundled weights (the runtime-only install);
- :mod:`~critnet.pipeline.registration`: IR → visible alignment;
- :mod:`~critnet.pipeline.backends`, :mod:`~critnet.pipeline.export`: ONNX Runtime, precision,
  ``auto``; :mod:`~critnet.pipeline.graph_cache`: the exported graphs cached on disk;
  :mod:`~critnet.pipeline.tiled_onnx`: the three graphs of exact tiling on onnxruntime, exported;
  :mod:`~critnet.pipeline.tiled_runtime`: exact tiling on them, numpy only;
- :mod:`~critnet.pipeline.demo`: the built-in example.
"""
