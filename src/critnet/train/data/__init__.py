"""The training-data layer (docs/training.md, "Training on your own pairs"): pair sources
(folders matched by stem, RoadScene), reading as fusing reads, the bad-data scan, the
hash-of-stem validation split, preloaded or streamed crops, and :func:`build_training_data`.

Import the submodules (``critnet.train.data.build`` ...) directly; this package imports nothing
heavy so that loading a config stays cheap.
"""
