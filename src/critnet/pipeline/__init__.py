"""The fusion pipeline a user runs: read → normalise → [register] → network or backend → colour →
write (docs/architecture.md).

- :mod:`~critnet.pipeline.options`: :class:`FuseOptions`, the one option group;
- :mod:`~critnet.pipeline.loading`: which weights, which backend;
- :mod:`~critnet.pipeline.single`: one pair (``critnet.fuse``, ``fuse_file``);
- :mod:`~critnet.pipeline.folder`, :mod:`~critnet.pipeline.video`: many pairs, video streams;
- :mod:`~critnet.pipeline.fusion`, :mod:`~critnet.pipeline.colour`: tensors through the network;
- :mod:`~critnet.pipeline.registration`: IR → visible alignment;
- :mod:`~critnet.pipeline.backends`, :mod:`~critnet.pipeline.export`: ONNX Runtime, precision;
- :mod:`~critnet.pipeline.demo`: the built-in example.
"""
