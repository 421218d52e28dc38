// The drawing page: pointer strokes on a canvas, debounced calls to /v1/predict or /v1/read,
// and the answer drawn as a digit, a confidence, one bar per class and the 28x28 model input.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const board = $("board");
const result = $("result");
const DEBOUNCE_MS = 120;
const REASONS = {
  blank: "Nothing drawn yet",
  not_a_digit: "Not a digit",
  multiple_digits: "More than one digit",
  unreadable: "Can't read this",
  error: "Could not read the image",
};

let mode = "digit";
let strokes = [];      // each: {width, points: [[x, y], ...]} in canvas pixels
let current = null;
let photo = null;      // an uploaded File, shown instead of strokes until the next stroke
let version = 0;       // bumps on every change; the answer carries the version it is for
let timer = null;
let inFlight = false;
let dirty = false;

function brush() { return Math.round(pad.height * 0.08); }

function redraw() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#fff";
  ctx.fillStyle = "#fff";
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) drawStroke(s);
  board.classList.toggle("drawn", strokes.length > 0 || photo !== null);
  $("undo").disabled = strokes.length === 0 && photo === null;
}

function drawStroke(s) {
  const p = s.points;
  ctx.lineWidth = s.width;
  if (p.length === 1) {
    ctx.beginPath();
    ctx.arc(p[0][0], p[0][1], s.width / 2, 0, 2 * Math.PI);
    ctx.fill();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(p[0][0], p[0][1]);
  for (let i = 1; i < p.length - 1; i++) {  // midpoints as curve ends: smooth, no corners
    const mx = (p[i][0] + p[i + 1][0]) / 2, my = (p[i][1] + p[i + 1][1]) / 2;
    ctx.quadraticCurveTo(p[i][0], p[i][1], mx, my);
  }
  ctx.lineTo(p[p.length - 1][0], p[p.length - 1][1]);
  ctx.stroke();
}

function toCanvas(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

function changed() {
  version += 1;
  pad.dataset.version = String(version);
  clearTimeout(timer);
  timer = setTimeout(send, DEBOUNCE_MS);
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0) return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  if (photo) { photo = null; strokes = []; }
  const pressure = e.pointerType === "pen" && e.pressure > 0 ? 0.6 + 0.8 * e.pressure : 1;
  current = { width: brush() * pressure, points: [toCanvas(e)] };
  strokes.push(current);
  redraw();
  changed();
});

pad.addEventListener("pointermove", (e) => {
  if (!current) return;
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const ev of events.length ? events : [e]) current.points.push(toCanvas(ev));
  redraw();
  changed();
});

function endStroke() {
  if (!current) return;
  current = null;
  changed();
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function undo() {
  if (photo) photo = null; else strokes.pop();
  redraw();
  changed();
}

function clearAll() {
  strokes = [];
  photo = null;
  redraw();
  changed();
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearAll);
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === "z") { e.preventDefault(); undo(); }
  if (e.key === "Escape") clearAll();
});

for (const b of document.querySelectorAll(".switch button")) {
  b.addEventListener("click", () => setMode(b.dataset.mode));
}

function setMode(m) {
  mode = m;
  for (const b of document.querySelectorAll(".switch button")) {
    b.setAttribute("aria-checked", String(b.dataset.mode === m));
  }
  pad.width = m === "number" ? 700 : 280;
  pad.height = 280;
  board.classList.toggle("wide", m === "number");
  $("hint").textContent = m === "number" ? "Write a number here" : "Draw a digit here";
  $("digit-view").hidden = m === "number";
  $("number-view").hidden = m !== "number";
  strokes = [];  // resizing the canvas wipes it
  photo = null;
  redraw();
  changed();
}

$("upload").addEventListener("change", (e) => {
  const file = e.target.files[0];
  e.target.value = "";
  if (!file) return;
  photo = file;
  strokes = [];
  const img = new Image();
  img.onload = () => {
    redraw();
    const k = Math.min(pad.width / img.width, pad.height / img.height);
    const w = img.width * k, h = img.height * k;
    ctx.drawImage(img, (pad.width - w) / 2, (pad.height - h) / 2, w, h);
    URL.revokeObjectURL(img.src);
  };
  img.src = URL.createObjectURL(file);
  redraw();
  changed();
});

function canvasBlob() {
  return new Promise((resolve) => pad.toBlob(resolve, "image/png"));
}

async function send() {
  if (inFlight) { dirty = true; return; }
  const forVersion = version;
  if (strokes.length === 0 && photo === null) { showIdle(forVersion); return; }
  inFlight = true;
  result.dataset.state = "busy";
  try {
    const form = new FormData();
    if (photo) form.append("file", photo, photo.name);
    else form.append("file", await canvasBlob(), "canvas.png");
    const url = mode === "number" ? "/v1/read" : "/v1/predict?include_image=true";
    const res = await fetch(url, { method: "POST", body: form });
    const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
    if (!res.ok) showError(body.error || `HTTP ${res.status}`, forVersion);
    else if (mode === "number") showReading(body.readings[0], forVersion);
    else showPrediction(body.predictions[0], forVersion);
  } catch (err) {
    showError(`The server did not answer (${err.message})`, forVersion);
  } finally {
    inFlight = false;
    if (dirty || forVersion !== version) { dirty = false; clearTimeout(timer); timer = setTimeout(send, 0); }
  }
}

function settle(state, forVersion) {
  result.dataset.state = state;
  result.dataset.version = String(forVersion);
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function showIdle(forVersion) {
  $("digit").textContent = "·";
  $("verdict").textContent = mode === "number" ? "Write a number" : "Draw a digit";
  $("confidence").innerHTML = "&nbsp;";
  renderBars(null);
  $("seen").removeAttribute("src");
  $("chips").replaceChildren();
  setStatus("");
  settle("idle", forVersion);
}

function showPrediction(p, forVersion) {
  setStatus("");
  if (p.image) $("seen").src = p.image;
  if (p.digit === null) {
    $("digit").textContent = "?";
    $("verdict").textContent = REASONS[p.reason] || "Not a digit";
    $("confidence").textContent = p.error || "Try drawing one digit, larger and centred.";
    renderBars(p.probabilities);
    settle("abstain", forVersion);
    return;
  }
  $("digit").textContent = String(p.digit);
  $("verdict").textContent = `It's a ${p.digit}`;
  $("confidence").textContent = `${(100 * p.confidence).toFixed(1)}% confident`;
  renderBars(p.probabilities, p.digit);
  settle("done", forVersion);
}

function showReading(r, forVersion) {
  setStatus("");
  const chips = r.digits.map((d) => {
    const li = document.createElement("li");
    li.innerHTML = `<b>${d.digit}</b><span>${Math.round(100 * d.confidence)}%</span>`;
    return li;
  });
  $("chips").replaceChildren(...chips);
  if (r.text === null) {
    $("digit").textContent = "?";
    $("verdict").textContent = REASONS[r.reason] || "Not a number";
    $("confidence").textContent = r.error || "Write the digits on one line, side by side.";
    settle("abstain", forVersion);
    return;
  }
  $("digit").textContent = r.text;
  $("verdict").textContent = `${r.digits.length} digit${r.digits.length === 1 ? "" : "s"}`;
  const low = Math.min(...r.digits.map((d) => d.confidence));
  $("confidence").textContent = `least sure digit: ${(100 * low).toFixed(0)}%`;
  settle("done", forVersion);
}

function showError(message, forVersion) {
  $("digit").textContent = "!";
  $("verdict").textContent = "No answer";
  $("confidence").textContent = message;
  setStatus(message, true);
  settle("error", forVersion);
}

function renderBars(probs, top = -1) {
  const rows = [];
  for (let c = 0; c < 10; c++) {
    const p = probs ? probs[c] : 0;
    const li = document.createElement("li");
    li.className = c === top ? "top" : "";
    li.innerHTML = `<span class="name">${c}</span><span class="track"><span class="fill"></span></span>` +
      `<span class="pct">${probs ? (100 * p).toFixed(1) + "%" : ""}</span>`;
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    rows.push(li);
  }
  $("bars").replaceChildren(...rows);
}

async function loadModel() {
  try {
    const m = await (await fetch("/v1/model")).json();
    const [acc, split] = m.metrics.test_acc !== undefined ? [m.metrics.test_acc, "test"] : [m.metrics.val_acc, "validation"];
    const data = (m.card.dataset || "its data").split("/").filter(Boolean).pop();  // a path: its name
    $("model").textContent = `model ${m.version}` + (acc ? ` · ${(100 * acc).toFixed(2)}% on ${data} ${split}` : "");
  } catch {
    $("model").textContent = "model information unavailable";
  }
}

redraw();
showIdle(0);
loadModel();
