// Showing what was read: the verdict, the bars, the 28x28 input, the heatmap, a number's boxes,
// errors and hints. Nothing here asks anyone anything.
import { numberBoxes } from "./numbers";
import { $, state, TOUCH } from "./state";

const pad = $<HTMLCanvasElement>("pad");
const seen = $<HTMLCanvasElement>("seen").getContext("2d") as CanvasRenderingContext2D;
const heat = $<HTMLCanvasElement>("heat");
const heatCtx = heat.getContext("2d") as CanvasRenderingContext2D;
const boxes = $<HTMLCanvasElement>("boxes");
const boxesCtx = boxes.getContext("2d") as CanvasRenderingContext2D;
const errorBox = $("error");
const verdictBox = $("verdict");
const digitOut = $("digit");
const confidenceOut = $("confidence");
const statusOut = $("status");
const barsList = $("bars");
const runnerUpOut = $("runner-up");
const numberOut = $("number");
const feedbackBox = $("feedback");

export const layers = { heat, heatCtx, boxes, boxesCtx };

const bars: { li: HTMLLIElement; fill: HTMLElement; pct: HTMLElement }[] = [];
export function buildBars(): void {
  for (let d = 0; d < 10; d++) {
    const li = document.createElement("li");
    li.setAttribute("data-testid", `bar-${d}`);
    li.innerHTML = `<span>${d}</span><span class="bar"><span class="fill"></span></span><span class="pct">0%</span>`;
    li.setAttribute("aria-label", `digit ${d}: 0 percent`);
    barsList.appendChild(li);
    bars.push({ li, fill: li.querySelector(".fill") as HTMLElement, pct: li.querySelector(".pct") as HTMLElement });
  }
}

let onShown: () => void = () => {};
/** What to do once a digit's answer is on screen (the feedback buttons follow it). */
export function whenShown(callback: () => void): void {
  onShown = callback;
}

export function showAnswer(answer: any): void {
  if (answer.text !== undefined) showNumber(answer);
  else show(answer);
}

// The two most likely digits, from `top` when the answer has it, else from the probabilities.
export function topTwo(answer: any): [number, number] {
  if (answer.top && answer.top.length >= 2) return [answer.top[0].digit, answer.top[1].digit];
  const order = answer.probabilities.map((p: number, d: number) => [p, d]).sort((a: number[], b: number[]) => b[0] - a[0]);
  return [order[0][1], order[1][1]];
}

function show(answer: any): void {
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
  // No digit was read: bars of the ten digits would say "0: 57%" all the same.
  barsList.hidden = notDigit;
  answer.probabilities.forEach((p: number, d: number) => {
    const pct = `${(p * 100).toFixed(1)}%`;
    bars[d].fill.style.width = `${Math.max(0, Math.min(100, p * 100))}%`;
    bars[d].pct.textContent = pct;
    bars[d].li.classList.toggle("winner", !notDigit && d === answer.digit);
    bars[d].li.setAttribute("aria-label", `digit ${d}: ${pct}`);
  });
  state.lastAnswer = answer;
  onShown();
  if (answer.input) drawSeen(answer.input, answer.explanation ? answer.explanation.heatmap : null);
  showExplanation(answer);
  const where = answer.on_device ? "on this device" : "on the server";
  statusOut.textContent = `${answer.model} · ${answer.elapsed_ms.toFixed(1)} ms ${where}`;
  pad.setAttribute(
    "aria-label",
    notDigit ? "Drawing area: not read as a digit" : `Drawing area: reads ${answer.digit}${unsure ? ", not sure" : ""}`,
  );
}

/** Say the verdict on screen once more: its region (aria-live, aria-atomic) was busy while the
 * pen moved, and at pen-up an answer read live is already the final one, so nothing else changes. */
export function announceVerdict(): void {
  confidenceOut.textContent = confidenceOut.textContent;
}

export function drawSeen(rows: number[][], heatmap: number[][] | null): void {
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

export function showExplanation(answer: any, strokePath?: (s: any, c: CanvasRenderingContext2D) => void): void {
  const rect = pad.getBoundingClientRect();
  heatCtx.clearRect(0, 0, rect.width, rect.height);
  if (!answer.explanation) {
    runnerUpOut.hidden = true;
    return;
  }
  const second = answer.explanation.runner_up;
  runnerUpOut.textContent =
    `Red marks, on your drawing, what the answer rests on. Second guess: ${second.digit} ` +
    `(${(second.probability * 100).toFixed(1)}%).`;
  runnerUpOut.hidden = false;
  if (answer.input) paintHeat(answer.input, answer.explanation.heatmap, strokePath ?? paintStroke);
}

let paintStroke: (s: any, c: CanvasRenderingContext2D) => void = () => {};
export function useStrokePainter(painter: (s: any, c: CanvasRenderingContext2D) => void): void {
  paintStroke = painter;
}

// Ink bounds of the 28x28 input and of the drawing on the canvas: the model's input is the ink
// cropped, scaled and centred, so matching the two boxes puts each heatmap cell on the drawing.
function inputInkBox(rows: number[][]): number[] | null {
  let [x0, y0, x1, y1] = [28, 28, -1, -1];
  rows.forEach((row, y) =>
    row.forEach((v, x) => {
      if (v > 0.2) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x + 1);
        y1 = Math.max(y1, y + 1);
      }
    }),
  );
  return x1 < 0 ? null : [x0, y0, x1, y1];
}

function drawingInkBox(): number[] | null {
  if (state.picture) {
    const { x, y, scale, bitmap } = state.picture;
    return [x, y, x + bitmap.width * scale, y + bitmap.height * scale];
  }
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const s of state.strokes) {
    for (const [x, y] of s.points) {
      const r = s.width / 2;
      x0 = Math.min(x0, x - r);
      y0 = Math.min(y0, y - r);
      x1 = Math.max(x1, x + r);
      y1 = Math.max(y1, y + r);
    }
  }
  return x1 < x0 ? null : [x0, y0, x1, y1];
}

function paintHeat(rows: number[][], heatmap: number[][], strokePath: (s: any, c: CanvasRenderingContext2D) => void): void {
  const from = inputInkBox(rows);
  const to = drawingInkBox();
  if (!from || !to) return;
  const cells = document.createElement("canvas");
  cells.width = cells.height = 28;
  const cellsCtx = cells.getContext("2d") as CanvasRenderingContext2D;
  const image = cellsCtx.createImageData(28, 28);
  heatmap.forEach((row, y) =>
    row.forEach((h, x) => {
      const i = (y * 28 + x) * 4;
      [image.data[i], image.data[i + 1], image.data[i + 2], image.data[i + 3]] = [230, 40, 30, Math.round(255 * h)];
    }),
  );
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
  if (state.picture) return;
  const tinted = document.createElement("canvas");
  tinted.width = heat.width;
  tinted.height = heat.height;
  const tintedCtx = tinted.getContext("2d") as CanvasRenderingContext2D;
  tintedCtx.setTransform(heat.width / rect.width, 0, 0, heat.height / rect.height, 0, 0);
  for (const s of state.strokes) strokePath(s, tintedCtx);
  tintedCtx.globalCompositeOperation = "source-in";
  tintedCtx.drawImage(cells, to[0] - from[0] * sx, to[1] - from[1] * sy, 28 * sx, 28 * sy);
  heatCtx.drawImage(tinted, 0, 0, rect.width, rect.height);
}

// ---------------------------------------------------------------- a whole number

function showNumber(answer: any): void {
  // Stray marks come flagged among the digits, or apart in `left_out`: either way, by position.
  const boxes = numberBoxes(answer);
  const read = boxes.filter((b) => !b.stray);
  numberOut.innerHTML = "";
  for (const b of read) {
    const span = document.createElement("span");
    span.textContent = String(b.digit);
    if (b.unsure) span.className = "unsure";
    numberOut.appendChild(span);
  }
  if (!read.length) numberOut.textContent = "–";
  const strays = boxes.length - read.length;
  const unsure = read.filter((b) => b.unsure).length;
  $("number-note").textContent = [
    unsure ? `Not sure of ${unsure === 1 ? "one digit" : `${unsure} digits`} (marked ?).` : "",
    strays ? `${strays === 1 ? "One mark doesn't" : `${strays} marks don't`} look like a digit (left out).` : "",
  ]
    .filter(Boolean)
    .join(" ");
  const list = $("number-digits");
  list.innerHTML = "";
  const items: HTMLLIElement[] = [];
  for (const b of boxes) {
    const li = document.createElement("li");
    li.className = b.stray ? "stray" : b.unsure ? "unsure" : "";
    const text = document.createElement("span");
    text.textContent = b.stray
      ? "stray mark"
      : b.unsure
        ? `${topTwo(b.reading).join(" or ")}?: ${(b.reading.confidence * 100).toFixed(1)}%`
        : `${b.digit}: ${(b.reading.confidence * 100).toFixed(1)}%`;
    li.appendChild(text);
    list.appendChild(li);
    items.push(li);
  }
  drawBoxes(boxes.map((b) => ({ ...b.reading, stray: b.stray, unsure: b.unsure })));
  state.lastAnswer = answer;
  onNumberShown(items);
  statusOut.textContent = `${answer.model} · ${read.length} digits · ${answer.elapsed_ms.toFixed(1)} ms on the server`;
  pad.setAttribute("aria-label", `Drawing area: reads ${read.map((b) => b.digit).join("") || "no digits"}`);
}

let onNumberShown: (items: HTMLLIElement[]) => void = () => {};
/** What to do once a number's boxes are listed (each item gets its correction). */
export function whenNumberShown(callback: (items: HTMLLIElement[]) => void): void {
  onNumberShown = callback;
}

// Each digit's box and reading over the drawing; the label goes above the box, or below or
// inside it where the canvas ends, so that it is never cut off.
function drawBoxes(digits: any[]): void {
  const rect = pad.getBoundingClientRect();
  const picture = state.picture;
  const [scale, dx, dy] = picture ? [picture.scale, picture.x, picture.y] : [1, 0, 0];
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  boxesCtx.lineWidth = 2;
  boxesCtx.font = "600 14px system-ui, sans-serif";
  const labels: number[][] = [];
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
    let ly = y - 4 - lh; // above the box
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

// ---------------------------------------------------------------- resetting, errors, hints

export function resetResult(): void {
  digitOut.textContent = "–";
  digitOut.classList.remove("unsure");
  verdictBox.classList.remove("unsure", "not-digit");
  confidenceOut.textContent = state.mode === "number" ? "Write a number" : "Draw a digit";
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
  $("number-feedback").hidden = true;
  const rect = pad.getBoundingClientRect();
  boxesCtx.clearRect(0, 0, rect.width, rect.height);
  heatCtx.clearRect(0, 0, rect.width, rect.height);
  state.lastAnswer = null;
  pad.setAttribute(
    "aria-label",
    state.mode === "number" ? "Drawing area: write a number here" : "Drawing area: draw one digit here",
  );
}

export function showError(text: string): void {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

export function hideError(): void {
  errorBox.hidden = true;
}

export function errorText(): string {
  return errorBox.hidden ? "" : errorBox.textContent || "";
}

export function showHint(): void {
  const how = TOUCH ? "with your finger" : "with the mouse or a pen";
  const fix = TOUCH ? "Undo and Clear are above." : "Esc clears, Ctrl+Z undoes.";
  $("hint").textContent =
    state.mode === "number"
      ? `Write a whole number here, left to right, ${how}. ${fix}`
      : `Draw one digit here ${how}. ${fix}`;
  $("undo").setAttribute("aria-label", TOUCH ? "Undo last stroke" : "Undo last stroke (Ctrl+Z)");
  $("clear").setAttribute("aria-label", TOUCH ? "Clear the drawing" : "Clear the drawing (Escape)");
}

/** The line that says where drawings are read. */
export function showReadingMode(text: string, where: "device" | "server"): void {
  const line = $("reading-mode");
  line.textContent = text;
  line.dataset.mode = where;
}
