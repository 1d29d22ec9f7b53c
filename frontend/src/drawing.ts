// The canvas and the pen: strokes as a person draws them (or an example, or an opened picture),
// and the drawing as the API takes it.
import { drawingChanged, startNewDrawing } from "./feedback";
import { layers, showAnswer, showError } from "./layout";
import { schedulePrediction } from "./reader";
import { $, allStrokes, state, type Stroke } from "./state";

export const pad = $<HTMLCanvasElement>("pad");
const ctx = pad.getContext("2d") as CanvasRenderingContext2D;
const penInput = $<HTMLInputElement>("pen");

// Hand-made digit templates in unit coordinates (x right, y down), the ones tests/strokes.py uses.
const ZERO = Array.from({ length: 25 }, (_, t) => [
  0.5 + 0.24 * Math.sin((t / 24) * 2 * Math.PI),
  0.5 - 0.37 * Math.cos((t / 24) * 2 * Math.PI),
]);
const TEMPLATES: Record<string, number[][][]> = {
  0: [ZERO],
  1: [[[0.4, 0.24], [0.53, 0.12], [0.53, 0.88]]],
  2: [[[0.28, 0.3], [0.36, 0.16], [0.5, 0.12], [0.65, 0.16], [0.72, 0.3], [0.66, 0.46], [0.28, 0.86], [0.76, 0.86]]],
  3: [
    [[0.3, 0.18], [0.5, 0.11], [0.68, 0.2], [0.69, 0.33], [0.52, 0.47], [0.44, 0.48], [0.56, 0.5],
     [0.72, 0.62], [0.71, 0.77], [0.54, 0.88], [0.3, 0.82]],
  ],
  4: [[[0.32, 0.12], [0.27, 0.56], [0.76, 0.56]], [[0.64, 0.14], [0.64, 0.88]]],
  5: [[[0.7, 0.12], [0.36, 0.12], [0.33, 0.45], [0.5, 0.4], [0.68, 0.5], [0.72, 0.68], [0.6, 0.85], [0.3, 0.82]]],
  6: [
    [[0.66, 0.12], [0.46, 0.28], [0.33, 0.52], [0.33, 0.74], [0.5, 0.88], [0.67, 0.78], [0.68, 0.6],
     [0.5, 0.5], [0.34, 0.6]],
  ],
  7: [[[0.27, 0.15], [0.74, 0.15], [0.46, 0.88]]],
  8: [
    [[0.62, 0.2], [0.5, 0.12], [0.36, 0.18], [0.35, 0.34], [0.5, 0.48], [0.66, 0.62], [0.66, 0.8],
     [0.5, 0.88], [0.34, 0.8], [0.34, 0.62], [0.5, 0.48], [0.64, 0.34], [0.63, 0.2]],
  ],
  9: [
    [[0.67, 0.3], [0.55, 0.15], [0.38, 0.17], [0.32, 0.33], [0.44, 0.46], [0.62, 0.42], [0.67, 0.3],
     [0.66, 0.6], [0.63, 0.88]],
  ],
};
const EXAMPLES = { digit: ["2", "4", "7", "9"], number: ["2024", "31415"] };

// Catmull-Rom through the template's points: a pen moves in curves, and the server draws
// straight segments between the points it gets.
function smooth(points: number[][], perSegment = 8): number[][] {
  const padded = [points[0], ...points, points[points.length - 1]];
  const out: number[][] = [];
  for (let i = 1; i < padded.length - 2; i++) {
    const [p0, p1, p2, p3] = [padded[i - 1], padded[i], padded[i + 1], padded[i + 2]];
    for (let step = 0; step < perSegment; step++) {
      const t = step / perSegment;
      out.push(
        [0, 1].map(
          (k) =>
            0.5 *
            (2 * p1[k] +
              (-p0[k] + p2[k]) * t +
              (2 * p0[k] - 5 * p1[k] + 4 * p2[k] - p3[k]) * t * t +
              (-p0[k] + 3 * p1[k] - 3 * p2[k] + p3[k]) * t ** 3),
        ),
      );
    }
  }
  out.push(points[points.length - 1]);
  return out;
}

function drawExample(text: string): void {
  const rect = pad.getBoundingClientRect();
  // Digits of a number are about 0.7 as wide as tall, as people write them.
  const size = Math.min(rect.height * 0.8, rect.width / (text.length * 0.7 + 0.6));
  const x0 = (rect.width - size * (text.length * 0.7 + 0.3)) / 2;
  const y0 = (rect.height - size) / 2;
  startNewDrawing();
  [...text].forEach((char, i) => {
    for (const template of TEMPLATES[char]) {
      const points = smooth(template).map(
        ([x, y]) =>
          [Math.round((x0 + i * size * 0.7 + x * size) * 10) / 10, Math.round((y0 + y * size) * 10) / 10] as [number, number],
      );
      state.strokes.push({ width: penWidth(), points });
    }
  });
  redraw();
  schedulePrediction(true);
}

export function buildExamples(): void {
  const holder = $("examples");
  holder.innerHTML = "";
  for (const text of EXAMPLES[state.mode]) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text;
    button.setAttribute("data-testid", `example-${text}`);
    button.setAttribute("aria-label", `Draw an example: ${text}`);
    button.addEventListener("click", () => drawExample(text));
    holder.appendChild(button);
  }
}

// Sharp on high-DPI screens: the backing stores follow devicePixelRatio, drawing stays in CSS px.
export function fitCanvas(): void {
  const rect = pad.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  for (const [canvas, context] of [
    [pad, ctx],
    [layers.heat, layers.heatCtx],
    [layers.boxes, layers.boxesCtx],
  ] as [HTMLCanvasElement, CanvasRenderingContext2D][]) {
    canvas.width = Math.round(rect.width * dpr);
    canvas.height = Math.round(rect.height * dpr);
    context.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  showPen();
  redraw();
  if (state.lastAnswer) showAnswer(state.lastAnswer);
}

// The pen follows the canvas: a digit fills a digit canvas, while a number's digits are about a
// quarter of the Number canvas's height, so a pen sized for the canvas would fill their holes.
function autoPen(): number {
  const height = pad.getBoundingClientRect().height;
  return Math.max(4, Math.min(30, Math.round(height / (state.mode === "number" ? 25 : 14))));
}

export function penWidth(): number {
  return state.penOverride[state.mode] ?? autoPen();
}

export function showPen(): void {
  const auto = state.penOverride[state.mode] === null;
  penInput.value = String(penWidth());
  $("pen-value").textContent = `${penWidth()} px`;
  $("pen-value").dataset.auto = String(auto);
  penInput.setAttribute("aria-valuetext", `${penWidth()} pixels${auto ? ", automatic" : ""}`);
  $("pen-auto").hidden = auto;
}

export function strokePath(stroke: Stroke, context: CanvasRenderingContext2D = ctx): void {
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

export function redraw(): void {
  const rect = pad.getBoundingClientRect();
  ctx.clearRect(0, 0, rect.width, rect.height);
  if (state.picture) placePicture(rect);
  for (const s of state.strokes) strokePath(s);
  if (state.current) strokePath(state.current);
  $("hint").hidden = Boolean(state.picture || state.strokes.length || state.current);
}

function placePicture(rect: DOMRect): void {
  const picture = state.picture!;
  const { bitmap } = picture;
  picture.scale = Math.min(rect.width / bitmap.width, rect.height / bitmap.height);
  picture.x = (rect.width - bitmap.width * picture.scale) / 2;
  picture.y = (rect.height - bitmap.height * picture.scale) / 2;
  ctx.drawImage(bitmap, picture.x, picture.y, bitmap.width * picture.scale, bitmap.height * picture.scale);
}

function pointFrom(event: PointerEvent): [number, number] {
  const rect = pad.getBoundingClientRect();
  return [Math.round((event.clientX - rect.left) * 10) / 10, Math.round((event.clientY - rect.top) * 10) / 10];
}

export function listenToPen(): void {
  const verdictBox = $("verdict");
  pad.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 && event.pointerType === "mouse") return;
    event.preventDefault();
    pad.setPointerCapture(event.pointerId);
    if (state.picture) startNewDrawing(); // drawing over an opened picture starts afresh
    drawingChanged();
    verdictBox.setAttribute("aria-busy", "true"); // announce the verdict once the stroke ends
    state.current = { width: penWidth(), points: [pointFrom(event)] };
    redraw();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!state.current) return;
    const samples = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const sample of samples.length ? samples : [event]) state.current.points.push(pointFrom(sample));
    redraw();
    schedulePrediction(false);
  });
  const endStroke = () => {
    if (!state.current) return;
    state.strokes.push(state.current);
    state.current = null;
    verdictBox.setAttribute("aria-busy", "false");
    redraw();
    schedulePrediction(true);
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);
}

/** The strokes as the API takes them, in CSS pixels of the canvas. */
export function strokeDrawing(): { strokes: [number, number][][]; width: number; height: number; line_width: number } {
  const drawn = allStrokes();
  const rect = pad.getBoundingClientRect();
  // One request per pen width: strokes of different widths are sent at their mean width.
  const width = drawn.reduce((sum, s) => sum + s.width, 0) / drawn.length;
  return {
    strokes: drawn.map((s) => s.points),
    width: Math.round(rect.width),
    height: Math.round(rect.height),
    line_width: width,
  };
}

// The drawing as the API takes it: strokes as JSON, or the opened picture as a multipart form.
export function drawingBody(extra: Record<string, unknown>): string | FormData {
  if (state.picture) {
    const form = new FormData();
    form.append("image", state.picture.file, state.picture.file.name || "picture");
    // A form's fields are text: a list (a number's `answers`) goes as JSON.
    for (const [key, value] of Object.entries(extra)) {
      if (value !== undefined) form.append(key, typeof value === "object" ? JSON.stringify(value) : String(value));
    }
    return form;
  }
  return JSON.stringify({ ...strokeDrawing(), ...extra });
}

// ---------------------------------------------------------------- pictures

export async function openPicture(file: File | undefined): Promise<void> {
  if (!file) return;
  if (file.type && !file.type.startsWith("image/")) {
    showError(`${file.name} is not a picture: open a PNG, JPEG, WebP, BMP or GIF.`);
    return;
  }
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    showError(`Cannot show ${file.name}: open a PNG, JPEG, WebP, BMP or GIF.`);
    return;
  }
  startNewDrawing();
  state.picture = { file, bitmap, x: 0, y: 0, scale: 1 };
  redraw();
  schedulePrediction(true);
}
