// digitrec drawing page: pointer strokes (or a picture) on a canvas, live readings from /api/predict
// and /api/read, a verdict that admits doubt, and one trustworthy piece of feedback per drawing.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const seen = $("seen").getContext("2d");
const heat = $("heat");
const heatCtx = heat.getContext("2d");
const boxes = $("boxes");
const boxesCtx = boxes.getContext("2d");
const modelSelect = $("model");
const penInput = $("pen");
const errorBox = $("error");
const verdictBox = $("verdict");
const digitOut = $("digit");
const confidenceOut = $("confidence");
const statusOut = $("status");
const barsList = $("bars");
const whyButton = $("why");
const runnerUpOut = $("runner-up");
const numberOut = $("number");
const feedbackBox = $("feedback");
const choiceBox = $("correct-choice");
const thanks = $("thanks");

const THROTTLE_MS = 120; // live updates while drawing, at most this often
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 5000;
// Touch screens have no Esc or Ctrl+Z: hints and labels talk about the buttons instead.
const TOUCH = matchMedia("(pointer: coarse)").matches ||
  (navigator.maxTouchPoints > 0 && !matchMedia("(hover: hover)").matches);

let strokes = [];        // each stroke: {width, points: [[x, y], ...]} in CSS pixels
let current = null;
let picture = null;      // an opened or dropped image: {file, bitmap, x, y, scale}
let pending = null;
let lastSent = 0;
let requestSeq = 0;
let shownSeq = 0;
let retryDelay = 0;      // 0: the last request reached the server
let retryTimer = null;
let mode = "digit";      // "digit": one digit, bars; "number": a whole number, boxes
let explainOn = false;   // "Why?": ask for the heatmap and show it over the drawing
let lastAnswer = null;
let drawingToken = 0;    // changes whenever the drawing does: feedback belongs to one drawing
const penOverride = { digit: null, number: null }; // the slider's choice, per mode; null: automatic

// Feedback on the drawing on screen: at most one stored answer (a second choice replaces it).
let feedback = { id: null, kind: null, label: null, busy: false };

// ---------------------------------------------------------------- building the page

const bars = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.setAttribute("data-testid", `bar-${d}`);
  li.innerHTML = `<span>${d}</span><span class="bar"><span class="fill"></span></span><span class="pct">0%</span>`;
  li.setAttribute("aria-label", `digit ${d}: 0 percent`);
  barsList.appendChild(li);
  bars.push({ li, fill: li.querySelector(".fill"), pct: li.querySelector(".pct") });
}

const choiceButtons = [];
for (let d = 0; d < 10; d++) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = String(d);
  button.setAttribute("data-testid", `correct-${d}`);
  button.setAttribute("aria-label", `It was a ${d}`);
  button.setAttribute("aria-pressed", "false");
  button.addEventListener("click", () => sendFeedback("correction", d));
  $("correct-digits").appendChild(button);
  choiceButtons.push(button);
}

// ---------------------------------------------------------------- example strokes

// Hand-made digit templates in unit coordinates (x right, y down), the ones tests/strokes.py uses.
const ZERO = Array.from({ length: 25 }, (_, t) =>
  [0.5 + 0.24 * Math.sin(t / 24 * 2 * Math.PI), 0.5 - 0.37 * Math.cos(t / 24 * 2 * Math.PI)]);
const TEMPLATES = {
  0: [ZERO],
  1: [[[0.4, 0.24], [0.53, 0.12], [0.53, 0.88]]],
  2: [[[0.28, 0.3], [0.36, 0.16], [0.5, 0.12], [0.65, 0.16], [0.72, 0.3], [0.66, 0.46], [0.28, 0.86], [0.76, 0.86]]],
  3: [[[0.3, 0.18], [0.5, 0.11], [0.68, 0.2], [0.69, 0.33], [0.52, 0.47], [0.44, 0.48], [0.56, 0.5],
       [0.72, 0.62], [0.71, 0.77], [0.54, 0.88], [0.3, 0.82]]],
  4: [[[0.32, 0.12], [0.27, 0.56], [0.76, 0.56]], [[0.64, 0.14], [0.64, 0.88]]],
  5: [[[0.7, 0.12], [0.36, 0.12], [0.33, 0.45], [0.5, 0.4], [0.68, 0.5], [0.72, 0.68], [0.6, 0.85], [0.3, 0.82]]],
  6: [[[0.66, 0.12], [0.46, 0.28], [0.33, 0.52], [0.33, 0.74], [0.5, 0.88], [0.67, 0.78], [0.68, 0.6],
       [0.5, 0.5], [0.34, 0.6]]],
  7: [[[0.27, 0.15], [0.74, 0.15], [0.46, 0.88]]],
  8: [[[0.62, 0.2], [0.5, 0.12], [0.36, 0.18], [0.35, 0.34], [0.5, 0.48], [0.66, 0.62], [0.66, 0.8],
       [0.5, 0.88], [0.34, 0.8], [0.34, 0.62], [0.5, 0.48], [0.64, 0.34], [0.63, 0.2]]],
  9: [[[0.67, 0.3], [0.55, 0.15], [0.38, 0.17], [0.32, 0.33], [0.44, 0.46], [0.62, 0.42], [0.67, 0.3],
       [0.66, 0.6], [0.63, 0.88]]],
};
const EXAMPLES = { digit: ["2", "4", "7", "9"], number: ["2024", "31415"] };

// Catmull-Rom through the template's points: a pen moves in curves, and the server draws
// straight segments between the points it gets.
function smooth(points, perSegment = 8) {
  const padded = [points[0], ...points, points[points.length - 1]];
  const out = [];
  for (let i = 1; i < padded.length - 2; i++) {
    const [p0, p1, p2, p3] = [padded[i - 1], padded[i], padded[i + 1], padded[i + 2]];
    for (let step = 0; step < perSegment; step++) {
      const t = step / perSegment;
      out.push([0, 1].map((k) => 0.5 * (2 * p1[k] + (-p0[k] + p2[k]) * t +
        (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t * t + (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t ** 3)));
    }
  }
  out.push(points[points.length - 1]);
  return out;
}

function drawExample(text) {
  const rect = pad.getBoundingClientRect();
  // Digits of a number are about 0.7 as wide as tall, as people write them.
  const size = Math.min(rect.height * 0.8, rect.width / (text.length * 0.7 + 0.6));
  const x0 = (rect.width - size * (text.length * 0.7 + 0.3)) / 2;
  const y0 = (rect.height - size) / 2;
  startNewDrawing();
  [...text].forEach((char, i) => {
    for (const template of TEMPLATES[char]) {
      const points = smooth(template).map(([x, y]) =>
        [Math.round((x0 + i * size * 0.7 + x * size) * 10) / 10, Math.round((y0 + y * size) * 10) / 10]);
      strokes.push({ width: penWidth(), points });
    }
  });
  redraw();
  schedulePrediction(true);
}

function buildExamples() {
  const holder = $("examples");
  holder.innerHTML = "";
  for (const text of EXAMPLES[mode]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.setAttribute("data-testid", `example-${text}`);
    button.setAttribute("aria-label", `Draw an example: ${text}`);
    button.addEventListener("click", () => drawExample(text));
    holder.appendChild(button);
  }
}

// ---------------------------------------------------------------- canvas and pen

// Sharp on high-DPI screens: the backing stores follow devicePixelRatio, drawing stays in CSS px.
function fitCanvas() {
  const rect = pad.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  for (const [canvas, context] of [[pad, ctx], [heat, heatCtx], [boxes, boxesCtx]]) {
    canvas.width = Math.round(rect.width * dpr);
    canvas.height = Math.round(rect.height * dpr);
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  showPen();
  redraw();
  if (lastAnswer) showAnswer(lastAnswer);
}

// The pen follows the canvas: a digit fills a digit canvas, while a number's digits are about a
// quarter of the Number canvas's height, so a pen sized for the canvas would fill their holes.
function autoPen() {
  const height = pad.getBoundingClientRect().height;
  return Math.max(4, Math.min(30, Math.round(height / (mode === "number" ? 25 : 14))));
}

function penWidth() {
  return penOverride[mode] ?? autoPen();
}

function showPen() {
  const auto = penOverride[mode] === null;
  penInput.value = String(penWidth());
  $("pen-value").textContent = `${penWidth()} px`;
  $("pen-value").dataset.auto = String(auto);
  penInput.setAttribute("aria-valuetext", `${penWidth()} pixels${auto ? ", automatic" : ""}`);
  $("pen-auto").hidden = auto;
}

function strokePath(stroke, context = ctx) {
  const pts = stroke.points;
  context.lineWidth = stroke.width;
  context.lineCap = "round";
  context.lineJoin = "round";
  context.strokeStyle = context.fillStyle = "#111";
  context.beginPath();
  if (pts.length === 1) {
    context.arc(pts[0][0], pts[0][1], stroke.width / 2, 0, Math.PI * 2);
    context.fill();
    return;
  }
  // Quadratic curves through the midpoints give smooth strokes from jagged pointer samples.
  context.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length - 1; i++) {
    context.quadraticCurveTo(pts[i][0], pts[i][1], (pts[i][0] + pts[i + 1][0]) / 2, (pts[i][1] + pts[i + 1][1]) / 2);
  }
  const last = pts[pts.length - 1];
  context.lineTo(last[0], last[1]);
  context.stroke();
}

function redraw() {
  const rect = pad.getBoundingClientRect();
  ctx.clearRect(0, 0, rect.width, rect.height);
  if (picture) placePicture(rect);
  for (const s of strokes) strokePath(s);
  if (current) strokePath(current);
  $("hint").hidden = Boolean(picture || strokes.length || current);
}

function placePicture(rect) {
  const { bitmap } = picture;
  picture.scale = Math.min(rect.width / bitmap.width, rect.height / bitmap.height);
  picture.x = (rect.width - bitmap.width * picture.scale) / 2;
  picture.y = (rect.height - bitmap.height * picture.scale) / 2;
  ctx.drawImage(bitmap, picture.x, picture.y, bitmap.width * picture.scale, bitmap.height * picture.scale);
}

function pointFrom(event) {
  const rect = pad.getBoundingClientRect();
  return [Math.round((event.clientX - rect.left) * 10) / 10, Math.round((event.clientY - rect.top) * 10) / 10];
}

pad.addEventListener("pointerdown", (event) => {
  if (event.button !== 0 && event.pointerType === "mouse") return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  if (picture) startNewDrawing(); // drawing over an opened picture starts afresh
  drawingChanged();
  verdictBox.setAttribute("aria-busy", "true"); // announce the verdict once the stroke ends
  current = { width: penWidth(), points: [pointFrom(event)] };
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
  verdictBox.setAttribute("aria-busy", "false");
  redraw();
  schedulePrediction(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

// ---------------------------------------------------------------- asking the server

function schedulePrediction(now) {
  clearTimeout(pending);
  clearTimeout(retryTimer);
  const wait = now ? 0 : Math.max(0, THROTTLE_MS - (performance.now() - lastSent));
  pending = setTimeout(predict, wait);
  readingState("waiting");
}

// "waiting" until the answer to the latest drawing is on screen ("done"), or "retrying".
function readingState(state) {
  document.body.dataset.reading = state;
}

function allStrokes() {
  return current ? strokes.concat([current]) : strokes;
}

function hasDrawing() {
  return Boolean(picture) || allStrokes().length > 0;
}

// The drawing as the API takes it: strokes as JSON, or the opened picture as a multipart form.
function drawingBody(extra) {
  if (picture) {
    const form = new FormData();
    form.append("image", picture.file, picture.file.name || "picture");
    for (const [key, value] of Object.entries(extra)) if (value !== undefined) form.append(key, String(value));
    return form;
  }
  const drawn = allStrokes();
  const rect = pad.getBoundingClientRect();
  // One request per pen width: strokes of different widths are sent at their mean width.
  const width = drawn.reduce((sum, s) => sum + s.width, 0) / drawn.length;
  return JSON.stringify({
    strokes: drawn.map((s) => s.points), width: Math.round(rect.width), height: Math.round(rect.height),
    line_width: width, ...extra,
  });
}

function post(url, body) {
  const headers = typeof body === "string" ? { "Content-Type": "application/json" } : {};
  return fetch(url, { method: "POST", headers, body });
}

// One request at a time: a slow server gets the newest drawing next, not a queue of stale ones.
let inFlight = false;
let again = false;
async function predict() {
  if (!hasDrawing()) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    await ask();
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      predict();
    }
  }
}

async function ask() {
  lastSent = performance.now();
  const seq = ++requestSeq;
  const body = drawingBody({
    model: modelSelect.value || undefined, include_input: true, top_k: 3, explain: mode === "digit" && explainOn,
  });
  let response;
  let answer;
  try {
    response = await post(mode === "number" ? "/api/read" : "/api/predict", body);
    answer = await response.json().catch(() => ({}));
  } catch (err) {
    if (seq === requestSeq) retryLater("Cannot reach the digitrec server.");
    return;
  }
  if (seq === requestSeq && !current && !again && response.ok) readingState("done");
  if (seq < shownSeq) return; // a newer answer is already on screen
  shownSeq = seq;
  if (response.status >= 502 && response.status <= 504) {
    if (seq === requestSeq) retryLater(`The server is not ready (it answered ${response.status}).`);
    return;
  }
  retryDelay = 0;
  if (!response.ok) {
    if (seq === requestSeq) readingState("done");
    showError(answer.detail || `The server answered ${response.status}.`);
    return;
  }
  hideError();
  if (!hasDrawing()) return; // cleared while the request was in flight
  showAnswer(answer);
}

// A drawing made while the server is away is read as soon as it is back: 0.5 s, 1 s, 2 s ... 5 s.
function retryLater(why) {
  retryDelay = retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(predict, retryDelay);
  readingState("retrying");
  showError(`${why} Your drawing is kept and will be read as soon as the server answers ` +
    `(trying again every ${Math.ceil(retryDelay / 1000)} s).`);
}

// ---------------------------------------------------------------- showing a digit

function showAnswer(answer) {
  if (answer.text !== undefined) showNumber(answer);
  else show(answer);
}

// The two most likely digits, from `top` when the server sent it, else from the probabilities.
function topTwo(answer) {
  if (answer.top && answer.top.length >= 2) return [answer.top[0].digit, answer.top[1].digit];
  const order = answer.probabilities.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
  return [order[0][1], order[1][1]];
}

function show(answer) {
  const notDigit = Boolean(answer.not_a_digit);
  const unsure = !notDigit && Boolean(answer.uncertain);
  verdictBox.classList.toggle("not-digit", notDigit);
  verdictBox.classList.toggle("unsure", unsure);
  digitOut.classList.toggle("unsure", unsure);
  digitOut.textContent = notDigit ? "" : String(answer.digit);
  if (notDigit) {
    confidenceOut.textContent = "That doesn't look like a digit";
  } else if (unsure) {
    const [first, second] = topTwo(answer);
    confidenceOut.textContent = `Not sure: ${first} or ${second}?`;
  } else {
    confidenceOut.textContent = `${(answer.confidence * 100).toFixed(1)}% sure`;
  }
  barsList.classList.toggle("dimmed", notDigit);
  answer.probabilities.forEach((p, d) => {
    const pct = `${(p * 100).toFixed(1)}%`;
    bars[d].fill.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    bars[d].pct.textContent = pct;
    bars[d].li.classList.toggle("winner", !notDigit && d === answer.digit);
    bars[d].li.setAttribute("aria-label", `digit ${d}: ${pct}`);
  });
  lastAnswer = answer;
  showFeedbackChoices();
  if (answer.input) drawSeen(answer.input, answer.explanation ? answer.explanation.heatmap : null);
  showExplanation(answer);
  statusOut.textContent = `${answer.model} · ${answer.elapsed_ms.toFixed(1)} ms on the server`;
  pad.setAttribute("aria-label", notDigit ? "Drawing area: not read as a digit" :
    `Drawing area: reads ${answer.digit}${unsure ? ", not sure" : ""}`);
}

function drawSeen(rows, heatmap) {
  const image = seen.createImageData(28, 28);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = rows[y][x] * 255;
      const h = heatmap ? heatmap[y][x] : 0; // heatmap: blend towards red where the answer rests
      const i = (y * 28 + x) * 4;
      image.data[i] = Math.round(v * (1 - h) + 255 * h);
      image.data[i + 1] = image.data[i + 2] = Math.round(v * (1 - h) + 40 * h);
      image.data[i + 3] = 255;
    }
  }
  seen.putImageData(image, 0, 0);
}

function showExplanation(answer) {
  const rect = pad.getBoundingClientRect();
  heatCtx.clearRect(0, 0, rect.width, rect.height);
  if (!answer.explanation) {
    runnerUpOut.hidden = true;
    return;
  }
  const second = answer.explanation.runner_up;
  runnerUpOut.textContent = `Red marks, on your drawing, what the answer rests on. Second guess: ${second.digit} ` +
    `(${(second.probability * 100).toFixed(1)}%).`;
  runnerUpOut.hidden = false;
  if (answer.input) paintHeat(answer.input, answer.explanation.heatmap);
}

// Ink bounds of the 28x28 input and of the drawing on the canvas: the model's input is the ink
// cropped, scaled and centred, so matching the two boxes puts each heatmap cell on the drawing.
function inputInkBox(rows) {
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  rows.forEach((row, y) => row.forEach((v, x) => {
    if (v > 0.2) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + 1); y1 = Math.max(y1, y + 1); }
  }));
  return x1 < 0 ? null : [x0, y0, x1, y1];
}

function drawingInkBox() {
  if (picture) {
    const { x, y, scale, bitmap } = picture;
    return [x, y, x + bitmap.width * scale, y + bitmap.height * scale];
  }
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const s of strokes) {
    for (const [x, y] of s.points) {
      const r = s.width / 2;
      x0 = Math.min(x0, x - r); y0 = Math.min(y0, y - r); x1 = Math.max(x1, x + r); y1 = Math.max(y1, y + r);
    }
  }
  return x1 < x0 ? null : [x0, y0, x1, y1];
}

function paintHeat(rows, heatmap) {
  const from = inputInkBox(rows);
  const to = drawingInkBox();
  if (!from || !to) return;
  const cells = document.createElement("canvas");
  cells.width = cells.height = 28;
  const cellsCtx = cells.getContext("2d");
  const image = cellsCtx.createImageData(28, 28);
  heatmap.forEach((row, y) => row.forEach((h, x) => {
    const i = (y * 28 + x) * 4;
    [image.data[i], image.data[i + 1], image.data[i + 2], image.data[i + 3]] = [230, 40, 30, Math.round(255 * h)];
  }));
  cellsCtx.putImageData(image, 0, 0);
  const sx = (to[2] - to[0]) / (from[2] - from[0]);
  const sy = (to[3] - to[1]) / (from[3] - from[1]);
  const rect = pad.getBoundingClientRect();
  heatCtx.imageSmoothingEnabled = true;
  heatCtx.save();
  // A faint glow over the whole area, then the strokes themselves tinted at full strength.
  heatCtx.globalAlpha = 0.3;
  heatCtx.drawImage(cells, to[0] - from[0] * sx, to[1] - from[1] * sy, 28 * sx, 28 * sy);
  heatCtx.restore();
  if (picture) return;
  const tinted = document.createElement("canvas");
  tinted.width = heat.width;
  tinted.height = heat.height;
  const tintedCtx = tinted.getContext("2d");
  tintedCtx.setTransform(heat.width / rect.width, 0, 0, heat.height / rect.height, 0, 0);
  for (const s of strokes) strokePath(s, tintedCtx);
  tintedCtx.globalCompositeOperation = "source-in";
  tintedCtx.drawImage(cells, to[0] - from[0] * sx, to[1] - from[1] * sy, 28 * sx, 28 * sy);
  heatCtx.drawImage(tinted, 0, 0, rect.width, rect.height);
}

// ---------------------------------------------------------------- showing a number

function showNumber(answer) {
  // Stray marks come flagged among the digits, or apart in `left_out`: either way, by position.
  const digits = answer.digits.concat((answer.left_out || []).map((m) => ({ ...m, not_a_digit: true })))
    .map((d) => ({ ...d, stray: Boolean(d.not_a_digit), unsure: !d.not_a_digit && Boolean(d.uncertain) }))
    .sort((a, b) => a.box[0] - b.box[0]);
  const read = digits.filter((d) => !d.stray);
  numberOut.innerHTML = "";
  for (const d of read) {
    const span = document.createElement("span");
    span.textContent = String(d.digit);
    if (d.unsure) span.className = "unsure";
    numberOut.appendChild(span);
  }
  if (!read.length) numberOut.textContent = "–";
  const strays = digits.length - read.length;
  const unsure = read.filter((d) => d.unsure).length;
  $("number-note").textContent = [
    unsure ? `Not sure of ${unsure === 1 ? "one digit" : `${unsure} digits`} (marked ?).` : "",
    strays ? `${strays === 1 ? "One mark doesn't" : `${strays} marks don't`} look like a digit (left out).` : "",
  ].filter(Boolean).join(" ");
  const list = $("number-digits");
  list.innerHTML = "";
  for (const d of digits) {
    const li = document.createElement("li");
    li.className = d.stray ? "stray" : d.unsure ? "unsure" : "";
    li.textContent = d.stray ? "stray mark" : d.unsure ? `${topTwo(d).join(" or ")}?: ${(d.confidence * 100).toFixed(1)}%`
      : `${d.digit}: ${(d.confidence * 100).toFixed(1)}%`;
    list.appendChild(li);
  }
  drawBoxes(digits);
  lastAnswer = answer;
  statusOut.textContent = `${answer.model} · ${read.length} digits · ${answer.elapsed_ms.toFixed(1)} ms on the server`;
  pad.setAttribute("aria-label", `Drawing area: reads ${read.map((d) => d.digit).join("") || "no digits"}`);
}

// Each digit's box and reading over the drawing; the label goes above the box, or below or
// inside it where the canvas ends, so that it is never cut off.
function drawBoxes(digits) {
  const rect = pad.getBoundingClientRect();
  const [scale, dx, dy] = picture ? [picture.scale, picture.x, picture.y] : [1, 0, 0];
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  boxesCtx.lineWidth = 2;
  boxesCtx.font = "600 14px system-ui, sans-serif";
  const labels = [];
  for (const d of digits) {
    const [x, y, w, h] = [d.box[0] * scale + dx, d.box[1] * scale + dy, d.box[2] * scale, d.box[3] * scale];
    const color = d.stray ? "#8a93a3" : d.unsure ? "#a15c00" : "#2f6fed";
    boxesCtx.strokeStyle = boxesCtx.fillStyle = color;
    boxesCtx.setLineDash(d.stray ? [5, 4] : []);
    boxesCtx.strokeRect(x - 3, y - 3, w + 6, h + 6);
    if (d.stray) continue;
    // The percentage only where it fits the digit's width: narrow digits keep their labels apart.
    let label = `${d.digit}${d.unsure ? "?" : ""} ${(d.confidence * 100).toFixed(0)}%`;
    if (boxesCtx.measureText(label).width + 8 > w + 10) label = `${d.digit}${d.unsure ? "?" : ""}`;
    const lw = boxesCtx.measureText(label).width + 8;
    const lh = 18;
    let ly = y - 4 - lh;                                  // above the box
    if (ly < 0) ly = y + h + 4 + lh <= rect.height ? y + h + 4 : Math.max(0, y - 3); // below, else inside
    const lx = Math.max(0, Math.min(rect.width - lw, x - 4));
    boxesCtx.fillRect(lx, ly, lw, lh);
    boxesCtx.fillStyle = "#fff";
    boxesCtx.fillText(label, lx + 4, ly + 14);
    labels.push([lx, ly, lw, lh].map(Math.round));
  }
  boxesCtx.setLineDash([]);
  boxes.dataset.labels = JSON.stringify(labels); // where the labels went, for the page's tests
}

// ---------------------------------------------------------------- feedback

function drawingChanged() {
  drawingToken++;
  feedback = { id: null, kind: null, label: null, busy: false };
  choiceBox.hidden = true;
  $("wrong").setAttribute("aria-expanded", "false");
  $("right").setAttribute("aria-pressed", "false");
  for (const b of choiceButtons) b.setAttribute("aria-pressed", "false");
  thanks.textContent = "";
  thanks.classList.remove("failed");
  $("feedback-undo").hidden = true;
}

function showFeedbackChoices() {
  feedbackBox.hidden = false;
  const notDigit = Boolean(lastAnswer.not_a_digit);
  $("right").hidden = notDigit;
  $("wrong").textContent = notDigit ? "It is a digit…" : "Wrong…";
  // A correction must differ from what the model read: that digit is "Right!" instead.
  choiceButtons.forEach((b, d) => { b.disabled = feedback.busy || (!notDigit && d === lastAnswer.digit); });
  $("right").disabled = $("wrong").disabled = feedback.busy;
}

function openChoice() {
  choiceBox.hidden = !choiceBox.hidden;
  $("wrong").setAttribute("aria-expanded", String(!choiceBox.hidden));
  if (!choiceBox.hidden) {
    const first = choiceButtons.find((b) => !b.disabled);
    if (first && !TOUCH) first.focus();
  }
}

function feedbackFields(kind, label) {
  return {
    label, kind, model: lastAnswer.model,
    predicted: lastAnswer.not_a_digit ? undefined : lastAnswer.digit,
    // The stored answer this one replaces: the server deletes it in the same transaction.
    replaces: feedback.id ?? undefined,
    undo: feedback.undo ?? undefined,
  };
}

async function sendFeedback(kind, label) {
  if (!lastAnswer || mode !== "digit" || feedback.busy || !hasDrawing()) return;
  if (feedback.kind === kind && feedback.label === label) return; // stored already
  if (kind === "correction" && !lastAnswer.not_a_digit && label === lastAnswer.digit) return;
  const token = drawingToken;
  const fields = feedbackFields(kind, label);
  setBusy(true, kind === "confirmation" ? "Saving…" : `Saving ${label}…`);
  let response;
  let answer = {};
  try {
    response = await post("/api/feedback", drawingBody(fields));
    answer = await response.json().catch(() => ({}));
  } catch (err) {
    response = null;
  }
  if (token !== drawingToken) return; // the drawing changed meanwhile: this answer is not on screen
  feedback.busy = false;
  if (response && response.status === 201) {
    const replaced = feedback.id;
    feedback = { id: answer.id, undo: answer.undo, kind, label, busy: false };
    thanks.textContent = (kind === "confirmation" ? `Thanks! Stored as right (#${answer.id}).`
      : `Thank you! Stored as a ${label} (#${answer.id}); it will help the next model.`) +
      (replaced ? ` It replaces #${replaced}.` : "");
    $("feedback-undo").hidden = false;
  } else {
    thanks.classList.add("failed");
    thanks.textContent = !response ? "Could not reach the server to store it." :
      answer.detail || `Could not store it (the server answered ${response.status}).`;
  }
  markChoice();
  showFeedbackChoices();
}

function setBusy(busy, text) {
  feedback.busy = busy;
  thanks.classList.remove("failed");
  thanks.textContent = text;
  showFeedbackChoices();
}

function markChoice() {
  $("right").setAttribute("aria-pressed", String(feedback.kind === "confirmation"));
  choiceButtons.forEach((b, d) => b.setAttribute("aria-pressed",
    String(feedback.kind === "correction" && feedback.label === d)));
}

// Undo takes the stored answer back (DELETE /api/feedback/{id}), where the server offers it.
async function undoFeedback() {
  if (feedback.id === null || feedback.busy) return;
  const token = drawingToken;
  const id = feedback.id;
  setBusy(true, "Taking it back…");
  let response = null;
  try {
    response = await fetch(`/api/feedback/${id}`, { method: "DELETE", headers: { "X-Undo-Token": feedback.undo } });
  } catch (err) { /* reported below */ }
  if (token !== drawingToken) return;
  feedback.busy = false;
  if (response && response.ok) {
    feedback = { id: null, kind: null, label: null, busy: false };
    thanks.textContent = `Taken back: #${id} is no longer stored.`;
    $("feedback-undo").hidden = true;
  } else {
    thanks.classList.add("failed");
    thanks.textContent = !response ? `Could not reach the server to take #${id} back.` :
      response.status === 404 ? `#${id} is not stored here any more (or was not yours to take back).`
        : `Could not take #${id} back (the server answered ${response.status}).`;
  }
  markChoice();
  showFeedbackChoices();
}

// ---------------------------------------------------------------- pictures

async function openPicture(file) {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    showError(`${file.name} is not a picture: open a PNG, JPEG, WebP, BMP or GIF.`);
    return;
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    showError(`Cannot show ${file.name}: open a PNG, JPEG, WebP, BMP or GIF.`);
    return;
  }
  startNewDrawing();
  picture = { file, bitmap, x: 0, y: 0, scale: 1 };
  redraw();
  schedulePrediction(true);
}

const wrap = $("pad-wrap");
wrap.addEventListener("dragover", (event) => {
  event.preventDefault();
  wrap.classList.add("dragging");
});
wrap.addEventListener("dragleave", () => wrap.classList.remove("dragging"));
wrap.addEventListener("drop", (event) => {
  event.preventDefault();
  wrap.classList.remove("dragging");
  openPicture(event.dataTransfer.files[0]);
});
$("upload").addEventListener("change", (event) => {
  openPicture(event.target.files[0]);
  event.target.value = ""; // the same file can be opened again
});

// ---------------------------------------------------------------- modes, clearing, keys

function resetResult() {
  digitOut.textContent = "–";
  digitOut.classList.remove("unsure");
  verdictBox.classList.remove("unsure", "not-digit");
  confidenceOut.textContent = mode === "number" ? "Write a number" : "Draw a digit";
  statusOut.textContent = "";
  barsList.classList.remove("dimmed");
  for (const bar of bars) {
    bar.fill.style.width = "0%";
    bar.pct.textContent = "0%";
    bar.li.classList.remove("winner");
  }
  seen.clearRect(0, 0, 28, 28);
  runnerUpOut.hidden = true;
  feedbackBox.hidden = true;
  numberOut.textContent = "–";
  $("number-note").textContent = "";
  $("number-digits").innerHTML = "";
  const rect = pad.getBoundingClientRect();
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  heatCtx.clearRect(0, 0, rect.width, rect.height);
  lastAnswer = null;
  pad.setAttribute("aria-label", mode === "number" ? "Drawing area: write a number here" :
    "Drawing area: draw one digit here");
}

function showHint() {
  const how = TOUCH ? "with your finger" : "with the mouse or a pen";
  const fix = TOUCH ? "Undo and Clear are above." : "Esc clears, Ctrl+Z undoes.";
  $("hint").textContent = mode === "number"
    ? `Write a whole number here, left to right, ${how}. ${fix}`
    : `Draw one digit here ${how}. ${fix}`;
  $("undo").setAttribute("aria-label", TOUCH ? "Undo last stroke" : "Undo last stroke (Ctrl+Z)");
  $("clear").setAttribute("aria-label", TOUCH ? "Clear the drawing" : "Clear the drawing (Escape)");
}

function setMode(next) {
  mode = next;
  document.body.classList.toggle("number-mode", mode === "number");
  $("mode-digit").setAttribute("aria-pressed", String(mode === "digit"));
  $("mode-number").setAttribute("aria-pressed", String(mode === "number"));
  $("number-result").hidden = mode !== "number";
  showHint();
  buildExamples();
  clearDrawing();
  fitCanvas();
}

function startNewDrawing() {
  strokes = [];
  current = null;
  picture = null;
  requestSeq++;
  shownSeq = requestSeq;
  clearTimeout(pending);
  clearTimeout(retryTimer);
  retryDelay = 0;
  readingState("done");
  drawingChanged();
  resetResult();
}

function clearDrawing() {
  startNewDrawing();
  redraw();
  hideError();
}

function undo() {
  if (picture && !strokes.length) return clearDrawing();
  if (!strokes.length) return;
  strokes.pop();
  drawingChanged();
  redraw();
  if (hasDrawing()) schedulePrediction(true);
  else clearDrawing();
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}
function hideError() {
  errorBox.hidden = true;
}

function typing(event) {
  return event.target instanceof HTMLInputElement && event.target.type !== "range" ||
    event.target instanceof HTMLSelectElement;
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    clearDrawing();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
    event.preventDefault();
    undo();
  } else if (/^[0-9]$/.test(event.key) && !choiceBox.hidden && !feedbackBox.hidden && mode === "digit" &&
             !event.ctrlKey && !event.metaKey && !event.altKey && !typing(event)) {
    // Digit keys store a correction only once the person has opened the choice ("Wrong…").
    event.preventDefault();
    sendFeedback("correction", Number(event.key));
  }
});

$("clear").addEventListener("click", clearDrawing);
$("undo").addEventListener("click", undo);
$("right").addEventListener("click", () => lastAnswer && sendFeedback("confirmation", lastAnswer.digit));
$("wrong").addEventListener("click", openChoice);
$("feedback-undo").addEventListener("click", undoFeedback);
penInput.addEventListener("input", () => {
  penOverride[mode] = Number(penInput.value);
  showPen();
});
$("pen-auto").addEventListener("click", () => {
  penOverride[mode] = null;
  showPen();
});
modelSelect.addEventListener("change", () => {
  drawingChanged();
  schedulePrediction(true);
});
$("mode-digit").addEventListener("click", () => setMode("digit"));
$("mode-number").addEventListener("click", () => setMode("number"));
whyButton.addEventListener("click", () => {
  explainOn = !explainOn;
  whyButton.setAttribute("aria-pressed", String(explainOn));
  if (!explainOn && lastAnswer && lastAnswer.input) {
    drawSeen(lastAnswer.input, null);
    delete lastAnswer.explanation;
    showExplanation(lastAnswer);
  } else if (hasDrawing()) {
    schedulePrediction(true);
  }
});

async function loadModels(delay = RETRY_FIRST_MS) {
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
    if (errorBox.textContent.includes("list its models")) hideError();
  } catch (err) {
    showError("Cannot reach the digitrec server to list its models. Trying again…");
    setTimeout(() => loadModels(Math.min(delay * 2, RETRY_MAX_MS)), delay);
  }
}

document.body.classList.toggle("touch", TOUCH);
window.addEventListener("resize", fitCanvas);
showHint();
buildExamples();
fitCanvas();
loadModels();
