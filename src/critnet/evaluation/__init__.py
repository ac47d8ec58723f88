"""Evaluation: scoring fused images against their sources (:mod:`~critnet.evaluation.evaluate`,
built on :mod:`critnet.metrics`), one table renderer (:mod:`~critnet.evaluation.tables`), the
classic baselines (:mod:`~critnet.evaluation.baselines`) and the paper-table studies
(:mod:`~critnet.evaluation.bench`, ``critnet bench``)."""
