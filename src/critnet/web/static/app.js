// critnet serve: the page's logic (no framework). Talks to the JSON API in critnet/web/app.py.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;        // GET /api/info
let current = null;     // the result shown in the "One pair" tab
const images = {};      // name -> loaded HTMLImageElement of the current result
let zoomCentre = null;  // [x, y] in image pixels
let batchRows = [];     // results of the last batch
let batchSort = { key: "name", descending: false };

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(path, options) {
  const response = await fetch(path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `server answered ${response.status} ${response.statusText}`);
  }
  return body;
}

async function upload(file) {
  if (file.size > info.max_upload_bytes) {
    throw new Error(`${file.name}: larger than this server's upload limit of ${info.max_upload_bytes / 1048576} MB`);
  }
  return api(`/api/upload?name=${encodeURIComponent(file.name)}`, { method: "POST", body: file });
}

function options() {
  return {
    weights: $("weights").value, ir_normalize: $("ir_normalize").value, normalize: $("normalize").value,
    gray: $("gray").checked, resize_ir: $("resize_ir").checked, metrics: $("metric_set").value,
  };
}

async function busy(buttons, status, text, work) {
  showError("");
  buttons.forEach((b) => (b.disabled = true));
  status.textContent = text;
  try {
    await work();
    status.textContent = "";
  } catch (error) {
    status.textContent = "";
    showError(error.message);
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

const pairButtons = () => [$("fuse_button"), $("scene_button")];

async function fuseUploads() {
  const ir = $("ir_file").files[0], vis = $("vis_file").files[0];
  // an infrared radiometric JPEG with an embedded photo (FLIR MSX / FLIR One) fuses alone
  if (!ir) { showError("choose an infrared image first (and a visible one, unless it is a FLIR radiometric JPEG with a photo)"); return; }
  await busy(pairButtons(), $("status"), "uploading and fusing…", async () => {
    const irUp = await upload(ir);
    const body = { ir: irUp.id, options: options() };
    if (vis) body.vis = (await upload(vis)).id;
    const result = await api("/api/fuse", jsonPost(body));
    await show(result);
  });
}

async function fuseScene() {
  await busy(pairButtons(), $("status"), "fusing…", async () => {
    await show(await api("/api/fuse", jsonPost({ scene: $("scene").value, options: options() })));
  });
}

function jsonPost(body) {
  return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`could not load ${url}`));
    img.src = url;
  });
}

async function show(result) {
  const loaded = await Promise.all(["ir", "vis", "fused"].map((n) => loadImage(result.images[n])));
  ["ir", "vis", "fused"].forEach((n, i) => { images[n] = loaded[i]; $(`img_${n}`).src = result.images[n]; });
  current = result;
  const fused = images.fused;
  zoomCentre = [fused.naturalWidth / 2, fused.naturalHeight / 2];
  $("download").href = result.images.fused;
  $("download").download = `${result.name}_fused.png`;
  $("compare").width = fused.naturalWidth;
  $("compare").height = fused.naturalHeight;
  showMetrics(result.metrics);
  $("result_name").textContent = `${result.name}: ${result.ir_name} + ${result.vis_name}, weights ${result.weights}`;
  $("result").hidden = false;
  $("result").dataset.id = result.id;
  drawCompare();
  drawZooms();
  selectTab("pair");
}

function formatValue(value) {
  return value === null ? "NaN" : value.toFixed(4);
}

function showMetrics(metrics) {
  const body = $("metrics").tBodies[0];
  body.replaceChildren();
  for (const [name, value] of Object.entries(metrics)) {
    const row = body.insertRow();
    row.dataset.metric = name;
    row.dataset.value = value === null ? "NaN" : String(value);
    row.title = info.metrics[name].description;
    row.insertCell().textContent = name;
    row.insertCell().textContent = formatValue(value);
    row.insertCell().textContent = info.metrics[name].lower_better ? "lower is better" : "higher is better";
  }
}

function drawCompare() {
  if (!current) return;
  const canvas = $("compare"), ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, t = $("compare_pos").value / 100;
  const other = images[$("compare_with").value];
  ctx.imageSmoothingEnabled = false;
  ctx.globalAlpha = 1;
  ctx.drawImage(other, 0, 0, w, h);
  const name = $("compare_with").selectedOptions[0].text;
  $("compare_legend").textContent = $("compare_mode").value === "swipe"
    ? `left: fused, right: ${name}` : `${Math.round(100 * t)} % fused over ${name}`;
  if ($("compare_mode").value === "swipe") {
    const x = Math.round(w * t);
    ctx.drawImage(images.fused, 0, 0, x, h, 0, 0, x, h);
    ctx.fillStyle = "#e8a33d";
    ctx.fillRect(x - 1, 0, 2, h);
  } else {
    ctx.globalAlpha = t;
    ctx.drawImage(images.fused, 0, 0, w, h);
    ctx.globalAlpha = 1;
  }
  if (zoomCentre) {
    const size = 192 / Number($("zoom_factor").value);
    ctx.strokeStyle = "#4fc3f7";
    ctx.lineWidth = Math.max(1, w / 400);
    ctx.strokeRect(zoomCentre[0] - size / 2, zoomCentre[1] - size / 2, size, size);
  }
}

function drawZooms() {
  if (!current) return;
  const factor = Number($("zoom_factor").value), size = 192 / factor;
  const w = images.fused.naturalWidth, h = images.fused.naturalHeight;
  const x0 = Math.round(Math.min(Math.max(zoomCentre[0] - size / 2, 0), Math.max(w - size, 0)));
  const y0 = Math.round(Math.min(Math.max(zoomCentre[1] - size / 2, 0), Math.max(h - size, 0)));
  $("zoom_fused").dataset.origin = `${x0},${y0}`;
  for (const name of ["ir", "vis", "fused"]) {
    const ctx = $(`zoom_${name}`).getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, 192, 192);
    const img = images[name], sx = img.naturalWidth / w, sy = img.naturalHeight / h;
    ctx.drawImage(img, x0 * sx, y0 * sy, size * sx, size * sy, 0, 0, 192, 192);
  }
}

function zoomAt(event) {
  const canvas = $("compare"), box = canvas.getBoundingClientRect();
  zoomCentre = [(event.clientX - box.left) * canvas.width / box.width,
                (event.clientY - box.top) * canvas.height / box.height];
  drawCompare();
  drawZooms();
}

async function fuseBatch(body) {
  const buttons = [$("batch_button"), $("folder_button")];
  await busy(buttons, $("batch_status"), "fusing…", async () => {
    const answer = await api("/api/batch", jsonPost({ ...body, options: options() }));
    batchRows = answer.results;
    const notes = answer.errors.map((e) => `${e.name}: ${e.error}`);
    if (answer.unmatched.length) notes.push(`without a partner: ${answer.unmatched.join(", ")}`);
    if (notes.length) showError(notes.join("\n"));
    renderBatch();
    $("batch_status").dataset.done = String(batchRows.length);
  });
}

async function fuseBatchUploads() {
  const ir = [...$("batch_ir").files], vis = [...$("batch_vis").files];
  if (!ir.length || !vis.length) { showError("choose infrared and visible images first"); return; }
  const ids = { ir: [], vis: [] };
  try {
    for (const f of ir) ids.ir.push((await upload(f)).id);
    for (const f of vis) ids.vis.push((await upload(f)).id);
  } catch (error) { showError(error.message); return; }
  await fuseBatch(ids);
}

function renderBatch() {
  const table = $("batch_table");
  const names = batchRows.length ? Object.keys(batchRows[0].metrics) : [];
  const head = table.tHead;
  head.replaceChildren();
  const hrow = head.insertRow();
  for (const key of ["name", "fused", ...names]) {
    const th = document.createElement("th");
    const arrow = batchSort.key === key ? (batchSort.descending ? " ▼" : " ▲") : "";
    th.textContent = key + arrow;
    th.dataset.key = key;
    if (info.metrics[key]) th.title = info.metrics[key].lower_better ? "lower is better" : "higher is better";
    if (key !== "fused") th.onclick = () => sortBatch(key);
    hrow.appendChild(th);
  }
  const value = (row, key) => (key === "name" ? row.name : (row.metrics[key] ?? -Infinity));
  const rows = [...batchRows].sort((a, b) => {
    const [x, y] = [value(a, batchSort.key), value(b, batchSort.key)];
    const order = x < y ? -1 : x > y ? 1 : 0;
    return batchSort.descending ? -order : order;
  });
  const body = table.tBodies[0];
  body.replaceChildren();
  for (const result of rows) {
    const row = body.insertRow();
    row.className = "row";
    row.dataset.name = result.name;
    row.onclick = () => show(result);
    row.insertCell().textContent = result.name;
    const img = document.createElement("img");
    img.src = result.images.fused;
    row.insertCell().appendChild(img);
    for (const key of names) {
      const cell = row.insertCell();
      cell.textContent = formatValue(result.metrics[key]);
      cell.dataset.value = String(result.metrics[key]);
    }
  }
}

function sortBatch(key) {
  batchSort = { key, descending: batchSort.key === key ? !batchSort.descending : key !== "name" };
  renderBatch();
}

function selectTab(name) {
  document.querySelectorAll(".tab").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  $("tab-pair").hidden = name !== "pair";
  $("tab-batch").hidden = name !== "batch";
}

function fill(select, values) {
  for (const value of values) select.add(new Option(value, value));
}

async function start() {
  try {
    info = await api("/api/info");
  } catch (error) { showError(error.message); return; }
  fill($("weights"), info.weights);
  fill($("ir_normalize"), info.ir_normalizations);
  fill($("scene"), info.scenes);
  if (info.folders.length) {
    $("folder_inputs").hidden = false;
    $("folder_roots").textContent = `inside ${info.folders.join(", ")}`;
  }
  document.querySelectorAll(".tab").forEach((b) => (b.onclick = () => selectTab(b.dataset.tab)));
  $("fuse_button").onclick = fuseUploads;
  $("scene_button").onclick = fuseScene;
  $("batch_button").onclick = fuseBatchUploads;
  $("folder_button").onclick = () => fuseBatch({ ir_dir: $("ir_dir").value, vis_dir: $("vis_dir").value });
  for (const id of ["compare_mode", "compare_with", "compare_pos", "zoom_factor"]) {
    $(id).oninput = () => { drawCompare(); drawZooms(); };
  }
  $("compare").onclick = zoomAt;
  document.body.dataset.ready = "true";
}

start();
