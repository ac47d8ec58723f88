"""``critnet serve`` end to end in a real headless browser (Debian's chromium, driven by
Playwright): upload a pair, wait for the fused image, check its pixels against ``critnet.fuse``
and the metrics shown against ``critnet.metrics``, browse a batch, take a screenshot.

Skips with a reason when Playwright or a chromium binary is absent (``.ci/run`` installs
chromium). ``CRITNET_CHROMIUM`` names another binary; ``CRITNET_WEB_SCREENSHOT`` a path where
the final screenshot is also saved (the README's picture).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette", reason="critnet[web] not installed")
pytest.importorskip("uvicorn", reason="critnet[web] not installed")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright not installed")

from web_helpers import free_port  # noqa: E402

import critnet  # noqa: E402
from critnet.io import to_uint  # noqa: E402
from critnet.metrics import compute_metrics  # noqa: E402
from critnet.pipeline.demo import demo_scene  # noqa: E402

CHROMIUM = os.environ.get("CRITNET_CHROMIUM") or shutil.which("chromium") or shutil.which(
    "chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium browser installed "
                                 "(apt-get install chromium; .ci/run does this)")]


def _write_scene(folder: Path, stem: str, seed: int) -> tuple[Path, Path]:
    scene = demo_scene(width=128, height=96, seed=seed)
    (folder / "ir").mkdir(exist_ok=True)
    (folder / "vi").mkdir(exist_ok=True)
    ir, vis = folder / "ir" / f"{stem}.png", folder / "vi" / f"{stem}.png"
    Image.fromarray(to_uint(scene.ir)).save(ir)
    Image.fromarray(to_uint(scene.vis)).save(vis)
    return ir, vis


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """``critnet serve`` in a subprocess on a free port: yields (url, its temporary folder)."""
    temp = tmp_path_factory.mktemp("serve-temp")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "critnet", "serve", "--port", str(port), "--device", "cpu",
         "--temp-dir", str(temp)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/api/info", timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"critnet serve did not start: {process.stdout.read().decode()}")
            time.sleep(0.3)
    yield url, temp
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    process.stdout.close()
    assert list(temp.iterdir()) == [], "the server left files in its temporary folder"


@pytest.fixture(scope="module")
def page(served):
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1280, "height": 860},
                                      accept_downloads=True)
        tab = context.new_page()
        tab.goto(served[0])
        tab.wait_for_selector("body[data-ready=true]")
        yield tab
        browser.close()


def _wait_for_new_result(page, previous: str | None) -> str:
    page.wait_for_function(
        "prev => { const r = document.getElementById('result');"
        " return !r.hidden && r.dataset.id && r.dataset.id !== prev; }", arg=previous or "")
    return page.get_attribute("#result", "data-id")


def _downloaded(page, tmp_path: Path) -> np.ndarray:
    """The image the page's download button saves."""
    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path / "download.png"
    download.value.save_as(saved)
    return np.asarray(Image.open(saved))


def test_upload_shows_the_api_result_and_metrics(page, tmp_path: Path):
    ir, vis = _write_scene(tmp_path, "street", seed=4)
    page.set_input_files("#ir_file", str(ir))
    page.set_input_files("#vis_file", str(vis))
    page.click("#fuse_button")
    _wait_for_new_result(page, None)

    # the server's model: the default weights on the default backend (auto)
    expected = to_uint(critnet.fuse(ir, vis, critnet.load_model(backend="auto")))
    np.testing.assert_array_equal(_downloaded(page, tmp_path), expected)
    shown = page.evaluate("""() => {
        const img = document.getElementById('img_fused'), c = document.createElement('canvas');
        c.width = img.naturalWidth; c.height = img.naturalHeight;
        const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
        return [c.width, c.height, Array.from(ctx.getImageData(0, 0, c.width, c.height).data)];
    }""")
    width, height, rgba = shown
    pixels = np.array(rgba, np.uint8).reshape(height, width, 4)[..., :3]
    np.testing.assert_array_equal(pixels, expected)  # what the browser decoded and displays

    reference = compute_metrics(np.asarray(Image.open(ir)), np.asarray(Image.open(vis)),
                                expected, "paper")
    rows = page.eval_on_selector_all(
        "#metrics tbody tr", "rows => rows.map(r => [r.dataset.metric, r.dataset.value,"
        " r.cells[1].textContent])")
    assert [name for name, _, _ in rows] == list(reference)
    for name, value, text in rows:
        assert float(value) == pytest.approx(reference[name], rel=1e-12, abs=1e-12), name
        assert text == f"{reference[name]:.4f}", name


def test_a_flir_radiometric_jpeg_fuses_alone_on_the_page(page, tmp_path: Path):
    pytest.importorskip("flyr", reason="critnet[thermal] not installed")
    path = Path(__file__).parent / "fixtures" / "cameras" / "flir_ax8.jpg"  # thermal + photo
    previous = page.get_attribute("#result", "data-id")
    page.set_input_files("#ir_file", str(path))
    page.set_input_files("#vis_file", [])
    page.click("#fuse_button")
    _wait_for_new_result(page, previous)
    expected = to_uint(critnet.fuse(path, path, critnet.load_model(backend="auto")))
    np.testing.assert_array_equal(_downloaded(page, tmp_path), expected)
    assert "flir_ax8.jpg + flir_ax8.jpg" in page.inner_text("#result_name")


def test_a_bad_upload_shows_one_line_on_the_page(page, tmp_path: Path):
    notes = tmp_path / "notes.png"
    notes.write_text("not an image at all")
    _, vis = _write_scene(tmp_path, "street", seed=5)
    page.set_input_files("#ir_file", str(notes))
    page.set_input_files("#vis_file", str(vis))
    page.click("#fuse_button")
    page.wait_for_selector("#error:not([hidden])")
    message = page.inner_text("#error")
    assert "notes.png" in message and "not an image" in message, message
    assert "Traceback" not in message and "\n" not in message.strip()


def test_batch_tab_lists_pairs_sortable_by_metric(page, tmp_path: Path):
    irs, viss = zip(*(_write_scene(tmp_path, f"scene{seed}", seed) for seed in (1, 2, 3)),
                    strict=True)
    page.click(".tab[data-tab=batch]")
    assert not page.is_visible("#folder_inputs")  # the server was started without --folders
    page.set_input_files("#batch_ir", [str(p) for p in irs])
    page.set_input_files("#batch_vis", [str(p) for p in viss])
    page.click("#batch_button")
    page.wait_for_function("document.querySelectorAll('#batch_table tbody tr').length === 3")
    column = page.eval_on_selector_all("#batch_table thead th",
                                       "ths => ths.map(t => t.dataset.key)")
    index = column.index("EN")
    page.click("#batch_table th[data-key=EN]")  # first click: best first (descending)
    values = page.eval_on_selector_all(
        "#batch_table tbody tr", f"rows => rows.map(r => Number(r.cells[{index}].dataset.value))")
    assert values == sorted(values, reverse=True) and len(set(values)) == 3
    names = page.eval_on_selector_all("#batch_table tbody tr",
                                      "rows => rows.map(r => r.dataset.name)")
    expected = {f"scene{s}": compute_metrics(
        np.asarray(Image.open(tmp_path / "ir" / f"scene{s}.png")),
        np.asarray(Image.open(tmp_path / "vi" / f"scene{s}.png")),
        to_uint(critnet.fuse(tmp_path / "ir" / f"scene{s}.png",
                             tmp_path / "vi" / f"scene{s}.png")), ["EN"])["EN"]
        for s in (1, 2, 3)}
    assert values == pytest.approx([expected[n] for n in names], rel=1e-12)
    if os.environ.get("CRITNET_WEB_SCREENSHOT"):
        page.screenshot(path=os.environ["CRITNET_WEB_SCREENSHOT"].replace(".png", "-batch.png"))
    previous = page.get_attribute("#result", "data-id")
    page.click(f"#batch_table tbody tr[data-name={names[0]}]")  # opens it in the first tab
    _wait_for_new_result(page, previous)
    assert page.is_visible("#tab-pair") and names[0] in page.inner_text("#result_name")


def test_scene_compare_zoom_and_screenshot(page, tmp_path: Path):
    page.click(".tab[data-tab=pair]")
    previous = page.get_attribute("#result", "data-id")
    page.set_input_files("#ir_file", [])
    page.set_input_files("#vis_file", [])
    page.select_option("#scene", "night-road")
    page.click("#scene_button")
    _wait_for_new_result(page, previous)
    page.fill("#compare_pos", "55")
    page.dispatch_event("#compare_pos", "input")
    box = page.locator("#compare").bounding_box()
    page.mouse.click(box["x"] + 0.21 * box["width"], box["y"] + 0.7 * box["height"])
    # the zoom shows the fused image's pixels around the click, each as a 4×4 block
    mismatch = page.evaluate("""() => {
        const img = document.getElementById('img_fused');
        const zoom = document.getElementById('zoom_fused');
        const [x0, y0] = zoom.dataset.origin.split(',').map(Number);
        const c = document.createElement('canvas'); c.width = 48; c.height = 48;
        c.getContext('2d').drawImage(img, x0, y0, 48, 48, 0, 0, 48, 48);
        const src = c.getContext('2d').getImageData(0, 0, 48, 48).data;
        const big = zoom.getContext('2d').getImageData(0, 0, 192, 192).data;
        let worst = 0;
        for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) for (let k = 0; k < 3; k++)
            worst = Math.max(worst, Math.abs(src[4 * (48 * y + x) + k]
                                             - big[4 * (192 * (4 * y + 2) + 4 * x + 2) + k]));
        return [x0, y0, worst];
    }""")
    assert mismatch[2] == 0, mismatch
    assert 0.21 * 320 - 48 <= mismatch[0] <= 0.21 * 320 and mismatch[1] > 100  # around the click
    assert "left: fused, right: infrared" in page.inner_text("#compare_legend")
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    with Image.open(shot) as image:
        assert image.size[0] == 1280
    if os.environ.get("CRITNET_WEB_SCREENSHOT"):
        shutil.copyfile(shot, os.environ["CRITNET_WEB_SCREENSHOT"])
