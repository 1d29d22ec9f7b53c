// digitrec drawing page: pointer strokes on a canvas, live predictions from /api/predict.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const seen = document.getElementById("seen").getContext("2d");
const modelSelect = document.getElementById("model");
const penInput = document.getElementById("pen");
const errorBox = document.getElementById("error");
const digitOut = document.getElementById("digit");
const confidenceOut = document.getElementById("confidence");
const statusOut = document.getElementById("status");
const barsList = document.getElementById("bars");
const boxes = document.getElementById("boxes");
const boxesCtx = boxes.getContext("2d");
const whyButton = document.getElementById("why");
const runnerUpOut = document.getElementById("runner-up");
const numberResult = document.getElementById("number-result");
const numberOut = document.getElementById("number");
const numberDigits = document.getElementById("number-digits");
const correctBox = document.getElementById("correct");
const thanks = document.getElementById("thanks");

const THROTTLE_MS = 120; // live updates while drawing, at most this often
let strokes = [];        // each stroke: {width, points: [[x, y], ...]} in CSS pixels
let current = null;
let pending = null;
let lastSent = 0;
let requestSeq = 0;
let shownSeq = 0;
let mode = "digit";       // "digit": one digit, bars; "number": a whole number, boxes
let explainOn = false;    // "Why?": ask for the heatmap and overlay it
let lastAnswer = null;

// Bars for the ten digits, built once.
const bars = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.dataset.testid = `bar-${d}`;
  li.setAttribute("data-testid", `bar-${d}`);
  li.innerHTML = `<span>${d}</span><span class="bar"><span class="fill"></span></span><span class="pct">0%</span>`;
  li.setAttribute("aria-label", `digit ${d}: 0 percent`);
  barsList.appendChild(li);
  bars.push({ li, fill: li.querySelector(".fill"), pct: li.querySelector(".pct") });
}

// "Wrong? It was a ...": one button per digit (and the digit keys), shown after a prediction.
for (let d = 0; d < 10; d++) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = String(d);
  button.setAttribute("data-testid", `correct-${d}`);
  button.setAttribute("aria-label", `It was a ${d}`);
  button.addEventListener("click", () => sendCorrection(d));
  document.getElementById("correct-digits").appendChild(button);
}

async function sendCorrection(label) {
  if (!lastAnswer || !strokes.length) return;
  const rect = pad.getBoundingClientRect();
  const width = strokes.reduce((sum, s) => sum + s.width, 0) / strokes.length;
  const body = {
    strokes: strokes.map((s) => s.points), width: Math.round(rect.width), height: Math.round(rect.height),
    line_width: width, label, predicted: lastAnswer.digit, model: lastAnswer.model,
  };
  thanks.classList.remove("failed");
  thanks.textContent = "Saving…";
  try {
    const response = await fetch("/api/feedback", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (response.status === 201) {
      thanks.textContent = `Thank you! Stored as a ${label} (#${answer.id}); it will help the next model.`;
    } else {
      thanks.classList.add("failed");
      thanks.textContent = answer.detail || `Could not store it (the server answered ${response.status}).`;
    }
  } catch (err) {
    thanks.classList.add("failed");
    thanks.textContent = "Could not reach the server to store the correction.";
  }
}

// Sharp on high-DPI screens: the backing store follows devicePixelRatio, drawing stays in CSS px.
function fitCanvas() {
  const rect = pad.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  pad.width = Math.round(rect.width * dpr);
  pad.height = Math.round(rect.height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  boxes.width = pad.width;
  boxes.height = pad.height;
  boxesCtx.setTransform(dpr, 0, 0, dpr, 0, 0);
  redraw();
}

function strokePath(stroke) {
  const pts = stroke.points;
  ctx.lineWidth = stroke.width;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";
  ctx.fillStyle = "#111";
  if (pts.length === 1) {
    ctx.beginPath();
    ctx.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  // Quadratic curves through the midpoints give smooth strokes from jagged pointer samples.
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i][0] + pts[i + 1][0]) / 2;
    const my = (pts[i][1] + pts[i + 1][1]) / 2;
    ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
  }
  const last = pts[pts.length - 1];
  ctx.lineTo(last[0], last[1]);
  ctx.stroke();
}

function redraw() {
  const rect = pad.getBoundingClientRect();
  ctx.clearRect(0, 0, rect.width, rect.height);
  for (const s of strokes) strokePath(s);
  if (current) strokePath(current);
}

function pointFrom(event) {
  const rect = pad.getBoundingClientRect();
  return [Math.round((event.clientX - rect.left) * 10) / 10, Math.round((event.clientY - rect.top) * 10) / 10];
}

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 && event.pointerType === "mouse") return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  current = { width: Number(penInput.value), points: [pointFrom(event)] };
  redraw();
});

pad.addEventListener("pointermove", (event) => {
  if (!current) return;
  const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const sample of (samples.length ? samples : [event])) current.points.push(pointFrom(sample));
  redraw();
  schedulePrediction(false);
});

function endStroke() {
  if (!current) return;
  strokes.push(current);
  current = null;
  redraw();
  schedulePrediction(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function schedulePrediction(now) {
  clearTimeout(pending);
  const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - lastSent));
  pending = setTimeout(predict, wait);
}

function allStrokes() {
  return current ? strokes.concat([current]) : strokes;
}

async function predict() {
  const drawn = allStrokes();
  if (!drawn.length) return;
  lastSent = performance.now();
  const seq = ++requestSeq;
  const rect = pad.getBoundingClientRect();
  // One request per pen width: strokes of different widths are sent at their mean width.
  const width = drawn.reduce((sum, s) => sum + s.width, 0) / drawn.length;
  const body = {
    strokes: drawn.map((s) => s.points),
    width: Math.round(rect.width), height: Math.round(rect.height), line_width: width,
    model: modelSelect.value || undefined, include_input: true, top_k: 3,
    explain: mode === "digit" && explainOn,
  };
  const endpoint = mode === "number" ? "/api/read" : "/api/predict";
  try {
    const response = await fetch(endpoint, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    const answer = await response.json().catch(() => ({}));
    if (seq < shownSeq) return; // a newer answer is already on screen
    shownSeq = seq;
    if (!response.ok) {
      showError(answer.detail || `The server answered ${response.status}.`);
      return;
    }
    hideError();
    if (!allStrokes().length) return; // cleared while the request was in flight
    if (answer.text !== undefined) showNumber(answer);
    else show(answer);
  } catch (err) {
    showError("Cannot reach the digitrec server. Is it running? Your drawing is kept; it will be read when the server answers.");
  }
}

function show(answer) {
  digitOut.textContent = String(answer.digit);
  confidenceOut.textContent = `${(answer.confidence * 100).toFixed(1)}% sure`;
  answer.probabilities.forEach((p, d) => {
    const pct = `${(p * 100).toFixed(1)}%`;
    bars[d].fill.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    bars[d].pct.textContent = pct;
    bars[d].li.classList.toggle("winner", d === answer.digit);
    bars[d].li.setAttribute("aria-label", `digit ${d}: ${pct}`);
  });
  lastAnswer = answer;
  correctBox.hidden = false;
  thanks.textContent = "";
  if (answer.input) drawSeen(answer.input, answer.explanation ? answer.explanation.heatmap : null);
  if (answer.explanation) {
    const second = answer.explanation.runner_up;
    runnerUpOut.textContent = `Red marks what the answer rests on. Second guess: ${second.digit} ` +
      `(${(second.probability * 100).toFixed(1)}%).`;
    runnerUpOut.hidden = false;
  } else {
    runnerUpOut.hidden = true;
  }
  statusOut.textContent = `${answer.model} · ${answer.elapsed_ms.toFixed(1)} ms on the server`;
  pad.setAttribute("aria-label", `Drawing area: reads ${answer.digit}`);
}

function drawSeen(rows, heat) {
  const image = seen.createImageData(28, 28);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = rows[y][x] * 255;
      const h = heat ? heat[y][x] : 0; // heatmap: blend towards red where the answer rests
      const i = (y * 28 + x) * 4;
      image.data[i] = Math.round(v * (1 - h) + 255 * h);
      image.data[i + 1] = image.data[i + 2] = Math.round(v * (1 - h) + 40 * h);
      image.data[i + 3] = 255;
    }
  }
  seen.putImageData(image, 0, 0);
}

function showNumber(answer) {
  numberOut.textContent = answer.text;
  numberDigits.innerHTML = "";
  const rect = pad.getBoundingClientRect();
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  boxesCtx.lineWidth = 2;
  boxesCtx.font = "600 15px system-ui, sans-serif";
  for (const d of answer.digits) {
    const [x, y, w, h] = d.box;
    boxesCtx.strokeStyle = "#2f6fed";
    boxesCtx.strokeRect(x - 3, y - 3, w + 6, h + 6);
    const label = `${d.digit} ${(d.confidence * 100).toFixed(0)}%`;
    boxesCtx.fillStyle = "#2f6fed";
    boxesCtx.fillRect(x - 4, y - 24, boxesCtx.measureText(label).width + 10, 20);
    boxesCtx.fillStyle = "#fff";
    boxesCtx.fillText(label, x + 1, y - 9);
    const li = document.createElement("li");
    li.textContent = `${d.digit}: ${(d.confidence * 100).toFixed(1)}%`;
    numberDigits.appendChild(li);
  }
  statusOut.textContent = `${answer.model} · ${answer.digits.length} digits · ${answer.elapsed_ms.toFixed(1)} ms on the server`;
  pad.setAttribute("aria-label", `Drawing area: reads ${answer.text}`);
}

function resetResult() {
  digitOut.textContent = "–";
  confidenceOut.textContent = "Draw a digit";
  statusOut.textContent = "";
  for (const bar of bars) {
    bar.fill.style.width = "0%";
    bar.pct.textContent = "0%";
    bar.li.classList.remove("winner");
  }
  seen.clearRect(0, 0, 28, 28);
  runnerUpOut.hidden = true;
  correctBox.hidden = true;
  thanks.textContent = "";
  numberOut.textContent = "–";
  numberDigits.innerHTML = "";
  const rect = pad.getBoundingClientRect();
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  lastAnswer = null;
  pad.setAttribute("aria-label", mode === "number" ? "Drawing area: write a number here" :
    "Drawing area: draw one digit here");
}

function setMode(next) {
  mode = next;
  document.body.classList.toggle("number-mode", mode === "number");
  document.getElementById("mode-digit").setAttribute("aria-pressed", String(mode === "digit"));
  document.getElementById("mode-number").setAttribute("aria-pressed", String(mode === "number"));
  numberResult.hidden = mode !== "number";
  document.getElementById("hint").textContent = mode === "number"
    ? "Write a whole number, left to right. Esc clears, Ctrl+Z undoes."
    : "Draw one digit with a mouse, finger or pen. Esc clears, Ctrl+Z undoes.";
  clearDrawing();
  fitCanvas();
}

function clearDrawing() {
  strokes = [];
  current = null;
  requestSeq++;
  shownSeq = requestSeq;
  clearTimeout(pending);
  redraw();
  resetResult();
  hideError();
}

function undo() {
  if (!strokes.length) return;
  strokes.pop();
  redraw();
  if (strokes.length) schedulePrediction(true);
  else clearDrawing();
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}
function hideError() {
  errorBox.hidden = true;
}

document.getElementById("clear").addEventListener("click", clearDrawing);
document.getElementById("undo").addEventListener("click", undo);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    clearDrawing();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undo();
  } else if (/^[0-9]$/.test(event.key) && !correctBox.hidden && mode === "digit" && !event.ctrlKey && !event.metaKey
             && !(event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement)) {
    sendCorrection(Number(event.key));
  }
});
modelSelect.addEventListener("change", () => schedulePrediction(true));
document.getElementById("mode-digit").addEventListener("click", () => setMode("digit"));
document.getElementById("mode-number").addEventListener("click", () => setMode("number"));
whyButton.addEventListener("click", () => {
  explainOn = !explainOn;
  whyButton.setAttribute("aria-pressed", String(explainOn));
  if (!explainOn && lastAnswer && lastAnswer.input) {
    drawSeen(lastAnswer.input, null);
    runnerUpOut.hidden = true;
  } else if (allStrokes().length) {
    schedulePrediction(true);
  }
});

async function loadModels() {
  try {
    const response = await fetch("/api/models");
    const models = await response.json();
    modelSelect.innerHTML = "";
    for (const m of models) {
      const option = document.createElement("option");
      option.value = m.name;
      option.textContent = m.accuracy ? `${m.name} (${(m.accuracy * 100).toFixed(2)}%)` : m.name;
      option.selected = m.default;
      modelSelect.appendChild(option);
    }
  } catch (err) {
    showError("Cannot reach the digitrec server to list its models. Is it running?");
  }
}

window.addEventListener("resize", fitCanvas);
fitCanvas();
loadModels();
