"""The driver of a Ray run: plan the pairs as the local folder run does, fuse the unfinished ones
on a Ray Data actor pool (:class:`~critnet.pipeline.cluster.workers.FusePairs`), and report
them in a :class:`~critnet.pipeline.folder.FolderReport`."""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm import tqdm

from critnet.errors import ConfigError, CritnetError, InputError, OutputError, WeightsError
from critnet.io.atomic import remove_stale_temps
from critnet.pipeline.cluster import plan, storage
from critnet.pipeline.folder import (
    FolderReport,
    announce_plan,
    plan_folder,
)
from critnet.pipeline.options import FuseOptions

MISSING_RAY = "--engine ray needs Ray Data: pip install 'critnet[cluster]'"
#: Restarts of a dead worker, and retries of the batch it held, before the run fails: a worker
#: killed (node lost, out of memory) is replaced and its batch redone; a pair that kills every
#: worker it meets stops the run after this many instead of looping.
RETRIES = 3
#: Ray Data blocks of pair references at most (each is one task for the pool; more blocks give
#: finer progress and retries, fewer less scheduling).
MAX_BLOCKS = 10_000


class ClusterError(CritnetError):
    """The Ray run could not finish (a worker died more than :data:`RETRIES` times, the
    cluster cannot be reached)."""


#: Errors a worker reports as data (``state`` ``error:<name>``), raised again by the driver.
_ERRORS = {cls.__name__: cls for cls in (InputError, OutputError, WeightsError, ConfigError,
                                         ClusterError)}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def require_ray() -> Any:
    """``ray`` with Ray Data, or one line naming the extra."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise InputError(MISSING_RAY) from None
    return ray


def fuse_folder_ray(
    ir_dir: str | os.PathLike,
    vis_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    weights: str | None = None,
    preset: str | None = None,
    backend: str = "auto",
    precision: str = "fp32",
    device: str = "cpu",
    options: FuseOptions | None = None,
    ext: str = "png",
    overwrite: bool = False,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: int = 1,
    batch_size: int = 1,
    video: dict[str, Any] | None = None,
    worker: type | None = None,
    progress: bool | None | Callable[[int], None] = False,
    log: Callable[[str], None] | None = None,
    **overrides: Any,
) -> FolderReport:
    """:func:`~critnet.pipeline.folder.fuse_folder` on Ray Data: the same pairs, options,
    output files and report, fused by ``workers`` actors that each load the model once.

    Folders are local paths (on a mount every node shares, for a cluster) or fsspec URLs
    (``s3://bucket/ir``). Outputs that exist are skipped before Ray starts (a rerun resumes;
    nothing left to do starts nothing). Two folders of videos (by suffix) give one video per
    pair, ``<stem>.mp4`` (one task each).

    Args:
        weights, preset, backend, precision, device: as ``critnet fuse``; weights by bundled
            name, or a path every node can read.
        address: a running cluster (``ray start --head`` prints it; ``auto`` finds the local
            one); ``None``: a Ray runtime started on this machine for the run, or the one this
            process already holds (``ray.init`` by the caller; it is left running).
        workers: actors (default: the cluster's CPUs ÷ ``cpus_per_worker``).
        cpus_per_worker: CPUs each actor reserves and its model's intra-op threads.
        batch_size: pairs per batch (one task); 1 balances best and redoes least on a retry.
        video: passed to :func:`~critnet.pipeline.video.fuse_video` for video pairs.
        worker: a subclass of :class:`~critnet.pipeline.cluster.workers.FusePairs` to run
            instead (e.g. one that also logs each pair).
        progress: a tqdm bar on stderr (``None``: only on a terminal), or a callable called
            with 1 as each pair's result comes back from the cluster (e.g. ``tqdm.update``).
        log, options, overrides, ext, overwrite: as ``fuse_folder``.

    Raises:
        InputError, OutputError: as ``fuse_folder`` (checked before Ray starts); the extra
            ``critnet[cluster]`` missing.
        ClusterError: the cluster cannot be reached, or a worker died more than
            :data:`RETRIES` times.
    """
    options = FuseOptions.resolve(options, overrides)
    say = log or (lambda _message: None)
    ir_text, vis_text, out_text = map(os.fspath, (ir_dir, vis_dir, out_dir))
    ray = require_ray()
    videos = plan.video_pairs(ir_text, vis_text)
    if videos is not None:
        match, ext = videos, "mp4"
        plan.plan_output(out_text, ext, options)
        report = FolderReport(unmatched_ir=match.unmatched_ir, unmatched_vis=match.unmatched_vis)
        announce_plan(match, [], say)
    elif not any(map(storage.is_url, (ir_text, vis_text, out_text))):
        match, report = plan_folder(storage.local_path(ir_text), storage.local_path(vis_text),
                                    storage.local_path(out_text), options, ext, say)
    else:
        match, report = plan.plan_urls(ir_text, vis_text, out_text, options, ext, say)
    existing = set() if overwrite else storage.existing_names(out_text)
    rows = []
    for stem, ir, vis in match.pairs:  # workers get absolute paths: their folder is not ours
        out = storage.join(out_text, f"{stem}.{ext}")
        if f"{stem}.{ext}" in existing:
            report.skipped.append(_ref(out))
        else:
            rows.append({"stem": stem, "ir": _absolute(ir), "vis": _absolute(vis),
                         "out": _absolute(out)})
    given = {_absolute(text): text for text in (ir_text, vis_text, out_text)}
    if weights is not None and Path(weights).is_file():
        weights = os.path.abspath(weights)
    if rows:
        kwargs = {"weights": weights, "preset": preset, "backend": backend,
                  "precision": precision, "device": device, "threads": cpus_per_worker,
                  "options": options, "overwrite": overwrite, "video": video}
        bar = tqdm(total=len(match.pairs), initial=len(report.skipped), desc="fusing",
                   unit="pair", disable=None if progress is None else progress is not True)
        tick = progress if callable(progress) else bar.update
        with bar, _runtime(ray, address, workers, cpus_per_worker) as size:
            size = max(1, min(size, math.ceil(len(rows) / batch_size)))
            for row in _fuse_rows(ray, worker, rows, kwargs, size, cpus_per_worker,
                                  batch_size):
                _record(report, row, given, say)
                tick(1)
    if not storage.is_url(out_text) and storage.local_path(out_text).is_dir():
        remove_stale_temps(storage.local_path(out_text))  # of workers killed on this machine
    order = {stem: i for i, (stem, _, _) in enumerate(match.pairs)}
    report.fused.sort(key=lambda out: order.get(Path(storage.name_of(out)).stem, 0))
    report.skipped.sort(key=lambda out: order.get(Path(storage.name_of(out)).stem, 0))
    return report


def _ref(location: str) -> Any:
    return location if storage.is_url(location) else Path(location)


def _absolute(location: Any) -> str:
    text = str(location)
    return text if storage.is_url(text) else os.path.abspath(storage.local_path(text))


def _record(report: FolderReport, row: dict[str, Any], given: dict[str, str],
            say: Callable[[str], None]) -> None:
    """Add a worker's row to the report, its paths written as the caller gave them."""
    row = dict(row)
    for key in ("out", "message"):
        for absolute, text in given.items():
            if absolute != text:
                row[key] = str(row[key]).replace(absolute.rstrip("/"), text.rstrip("/"))
    state = str(row["state"])
    if state.startswith("error:"):  # a worker's CritnetError: the run stops, as locally
        raise _ERRORS.get(state[len("error:"):], CritnetError)(str(row["message"]))
    out = _ref(str(row["out"]))
    if row["state"] == "fused":
        report.fused.append(out)
    elif row["state"] == "skipped":
        report.skipped.append(out)
    else:
        report.failed.append((str(row["stem"]), str(row["message"])))
        say(f"failed: {row['stem']}: {row['message']}")


class _runtime:
    """Ray for the run: joins ``address``, else uses this process's runtime if it has one, else
    starts a local one (shut down on leaving). Yields the number of workers."""

    def __init__(self, ray: Any, address: str | None, workers: int | None, cpus: int) -> None:
        self.ray, self.address, self.workers, self.cpus = ray, address, workers, cpus
        self.started = False

    def __enter__(self) -> int:
        ray = self.ray
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours is fed by finished pairs
        context.print_on_execution_start = False
        self.logger = logging.getLogger("ray.data")  # its errors reach the user as one line
        self.level = self.logger.level
        self.logger.setLevel(logging.CRITICAL)
        if not ray.is_initialized():
            local_cpus = None
            if self.address is None and self.workers:
                local_cpus = max(self.workers * self.cpus, 1)
            try:
                ray.init(address=self.address, num_cpus=local_cpus, include_dashboard=False,
                         logging_level=logging.ERROR, log_to_driver=False)
            except Exception as error:  # Ray raises plain Exception too (a startup timeout)
                where = self.address or "a local runtime"
                raise ClusterError(f"cannot start Ray on {where}: "
                                   f"{' '.join(str(error).split())}") from None
            self.started = True
        if self.workers:
            return self.workers
        return max(1, int(ray.cluster_resources().get("CPU", 1)) // self.cpus)

    def __exit__(self, *exc: Any) -> None:
        self.logger.setLevel(self.level)
        if self.started:
            self.ray.shutdown()


def _fuse_rows(ray: Any, worker: type | None, rows: list[dict[str, str]],
               kwargs: dict[str, Any], workers: int, cpus: int, batch_size: int):
    """Report rows of the fused pairs, as batches finish (streaming execution)."""
    from critnet.pipeline.cluster.workers import FusePairs

    blocks = min(MAX_BLOCKS, math.ceil(len(rows) / batch_size))
    with warnings.catch_warnings():  # the retry limits have no named parameter (Ray 2.60)
        warnings.filterwarnings("ignore", message=".*ray_remote_args.*")
        dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            worker or FusePairs, fn_constructor_kwargs=kwargs, batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus,
            max_restarts=RETRIES, max_task_retries=RETRIES)
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["stem"])):
                yield {key: batch[key][i] for key in ("stem", "out", "state", "message")}
    except CritnetError:
        raise
    except Exception as error:
        raise _user_error(error) from None


def _user_error(error: BaseException) -> ClusterError:
    """A :class:`ClusterError` in one line: the last line of the worker's traceback (the
    exception it raised) when Ray passes one on, else Ray's own error."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception)\b", line)
              and not line.startswith("ray.")]
    text = raised[-1] if raised else f"{type(error).__name__}: {' '.join(lines)[:300]}"
    return ClusterError(f"the Ray run failed: {_ANSI.sub('', text)}")
