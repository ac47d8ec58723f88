"""Cost columns and cost plots of bench compare: the cost CSVs, the table renderer's extra
columns, and a comparison that finds a cost for one of its rows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from bench_helpers import make_data_root

from critnet.errors import InputError
from critnet.evaluation.bench.compare import RunOptions, compare
from critnet.evaluation.bench.costs import COLUMNS, HEADERS, cost_cells, load_costs, read_costs
from critnet.evaluation.bench.datasets import load_dataset
from critnet.evaluation.bench.registry import RESULTS_DIR
from critnet.evaluation.tables import format_table
from critnet.io.paths import data_root

HEAD = ",".join(COLUMNS)


def _write(path: Path, *rows: str) -> Path:
    path.write_text("\n".join([HEAD, *rows]) + "\n")
    return path


def test_read_costs_ratio_and_unmeasured_ram(tmp_path: Path) -> None:
    costs = read_costs(_write(tmp_path / "costs.csv",
                              "Blur,1000,900,1800,,run A,hand",
                              "Sharp,20,3600,1800,512,run B,hand"))
    assert costs["Blur"].ratio == pytest.approx(0.5)
    assert math.isnan(costs["Blur"].peak_ram_mb)
    cells = cost_cells(costs, ["Blur", "Sharp", "Other"])
    assert cells["Blur"] == {HEADERS[0]: "1,000", HEADERS[1]: "900", HEADERS[2]: "0.50",
                             HEADERS[3]: "not measured"}
    assert cells["Sharp"][HEADERS[2]] == "2.00" and cells["Sharp"][HEADERS[3]] == "512"
    assert set(cells["Other"].values()) == {"—"}


def test_measured_file_overrides_and_bad_rows_name_the_line(tmp_path: Path) -> None:
    _write(tmp_path / "costs.csv", "Blur,1000,900,1800,,run A,hand")
    _write(tmp_path / "costs_measured.csv", "Blur,1000,450,1800,100,run B,bench")
    assert load_costs(tmp_path)["Blur"].ms == 450
    assert load_costs(tmp_path / "absent") == {}
    bad = _write(tmp_path / "bad.csv", "Blur,1000,fast,1800,,run,hand")
    with pytest.raises(InputError, match=r"bad\.csv:2: "):
        read_costs(bad)
    (tmp_path / "short.csv").write_text("method,params\nBlur,3\n")
    with pytest.raises(InputError, match="short.csv: missing columns"):
        read_costs(tmp_path / "short.csv")


def test_extra_columns_in_every_table_format_unranked() -> None:
    means = {"A": {"CC": 0.5}, "B": {"CC": 0.7}}
    extra = {"A": {"× SeAFusion": "0.50", "Params": "1,000"}, "B": {"× SeAFusion": "2_0"}}
    md = format_table(means, ["CC"], "markdown", extra=extra)
    assert "| Method | CC ↑ | × SeAFusion | Params |" in md
    assert "| B | **0.7000** | 2_0 |  |" in md
    tex = format_table(means, ["CC"], "latex", extra=extra)
    assert "$\\times$ SeAFusion" in tex and "2\\_0" in tex and "{lccc}" in tex
    assert "\\textbf{0.7000}" in tex
    assert format_table(means, ["CC"], "csv", extra=extra).splitlines()[0] == \
        "method,CC,× SeAFusion,Params"
    assert "× SeAFusion" in format_table(means, ["CC"], "text", extra=extra)


def test_compare_adds_cost_columns_and_plots(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("critnet.weights.bundled_weights", lambda: {})
    root = make_data_root(tmp_path / "data")
    costs = tmp_path / "costs"
    costs.mkdir()
    _write(costs / "costs.csv", "Blur,1000,900,1800,,run A,hand",
           "Average,1,10,1800,50,run A,hand")
    out = tmp_path / "out"
    compare("tno42", out, methods="Blur,Average,Maximum", metrics="Qabf,SSIM",
            options=RunOptions(data_root=root, progress=False, costs_dir=costs))
    table = (out / "table.md").read_text()
    assert "| Params | CPU ms @640×480 | × SeAFusion | Peak RAM MB |" in table
    assert "| 1,000 | 900 | 0.50 | not measured |" in table
    assert "| — | — | — | — |" in table  # Maximum has no cost
    fragment = json.loads((out / "results.json").read_text())
    assert fragment["costs"]["Average"][HEADERS[3]] == "50"
    assert fragment["cost_plots"] == ["cost_Qabf.png", "cost_SSIM.png"]
    assert (out / "cost_Qabf.png").stat().st_size > 1000
    assert (out / "cost_SSIM.png").is_file()


def test_compare_without_costs_keeps_the_plain_table(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("critnet.weights.bundled_weights", lambda: {})
    root = make_data_root(tmp_path / "data")
    out = tmp_path / "out"
    compare("tno42", out, methods="Blur,Average", metrics="Qabf",
            options=RunOptions(data_root=root, progress=False, plots=False,
                               costs_dir=tmp_path / "none"))
    assert "Params" not in (out / "table.md").read_text()
    assert json.loads((out / "results.json").read_text())["cost_plots"] == []


def test_committed_peer_costs_have_a_folder_each_when_the_data_has_it() -> None:
    """Every peer with a committed cost is a folder of the shared data when that folder is there;
    folders of peers that have no cost yet (added since) are allowed: a table shows "—" for them
    (test_compare_adds_cost_columns_and_plots), and nothing here depends on what else exists."""
    peers = Path(RESULTS_DIR) / "costs.csv"
    if not peers.is_file():
        pytest.skip(f"{peers} not found (run from the repository root)")
    folder = data_root() / "peer_fused"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    costs = read_costs(peers)
    assert costs, "costs.csv has no rows"
    present = {p.name for p in folder.iterdir() if (p / "roadscene").is_dir()}
    for method, row in costs.items():
        assert row.ms > 0 and row.params > 0, method
        if method not in present:
            continue  # a peer folder removed from the shared data: its cost row stays valid
        assert (folder / method / "tno").is_dir(), method


@pytest.mark.parametrize("key", ["roadscene50", "tno42"])
def test_every_peer_folder_is_a_row(key: str) -> None:
    """Whatever peer folders the shared data holds (more or fewer than today) become rows."""
    folder = data_root() / "peer_fused"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    sub = {"roadscene50": "roadscene", "tno42": "tno"}[key]
    peers = {p.name for p in folder.iterdir() if (p / sub).is_dir()}
    if not peers:
        pytest.skip(f"{folder} has no peer with a {sub}/ folder")
    assert peers <= set(load_dataset(key).fused_methods)


def test_an_added_or_removed_peer_folder_changes_only_its_row(tmp_path: Path) -> None:
    """A peer folder added to (or taken from) a data root is one more (or one fewer) row."""
    import shutil
    root = make_data_root(tmp_path / "data")
    before = set(load_dataset("tno42", root).fused_methods)
    assert "Blur" in before
    added = root / "peer_fused" / "NewPeer" / "tno"
    added.mkdir(parents=True)
    for fused in (root / "tno_fused" / "Blur").glob("*.png"):
        shutil.copy(fused, added / fused.name)
    assert set(load_dataset("tno42", root).fused_methods) == before | {"NewPeer"}
    shutil.rmtree(root / "peer_fused" / "NewPeer")
    shutil.rmtree(root / "tno_fused" / "Blur")
    shutil.rmtree(root / "peer_fused" / "Blur")
    assert set(load_dataset("tno42", root).fused_methods) == before - {"Blur"}
