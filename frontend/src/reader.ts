// Asking for a reading: on the device when it can (digit mode, strokes), else the server. One
// request at a time: a slow reader gets the newest drawing next, not a queue of stale ones.
import { drawingBody, strokeDrawing } from "./drawing";
import { announceVerdict, errorText, hideError, showAnswer, showError, showReadingMode } from "./layout";
import { loadDeviceReader, type DeviceReader } from "./reading/device";
import { DeviceRefusal } from "./reading/render";
import type { DeviceReading, StrokeDrawing } from "./reading/road";
import { $, hasDrawing, readingState, RETRY_FIRST_MS, RETRY_MAX_MS, state, THROTTLE_MS } from "./state";

const modelSelect = $<HTMLSelectElement>("model");
let pending: ReturnType<typeof setTimeout> | undefined;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let lastSent = 0;
let requestSeq = 0;
let shownSeq = 0;
let retryDelay = 0; // 0: the last request reached the server
let inFlight = false;
let deviceReady = false; // the chosen model's device reader has loaded
// On the device a reading (5 ms here) fits in a frame: read live at most once a frame, so that
// the answer to the last point drawn is usually on screen when the pen lifts; where a reading
// takes longer (a slow phone), at most every other reading's time, so the ink keeps being drawn.
const DEVICE_THROTTLE_MS = 16;
let deviceReadingMs = 0; // the last device reading's own time
let again = false;
// The drawings (as drawingKey writes them) whose device reading is in flight, and on screen: at
// pen-up a drawing already read live, or being read, is not read again.
let flightKey = "";
let shownKey = "";

// The device reader of each model, once loaded (or why not).
const readers = new Map<string, Promise<DeviceReader>>();
// ?reading=server keeps every reading on the server (the API's own page tests use it).
const wanted = new URLSearchParams(location.search).get("reading") === "server" ? "server" : "device";

export function deviceReader(model: string): Promise<DeviceReader> | null {
  if (wanted === "server" || !model) return null;
  if (!readers.has(model)) {
    const loading = loadDeviceReader(model);
    readers.set(model, loading);
    loading.catch(() => {}); // reported by describeMode
  }
  return readers.get(model)!;
}

/** Load the chosen model's device reader and say where drawings are read. */
export async function describeMode(): Promise<void> {
  const model = modelSelect.value;
  const reader = deviceReader(model);
  deviceReady = false;
  if (reader === null) {
    showReadingMode("Reads on the server.", "server");
    return;
  }
  showReadingMode("Loading the model onto this device…", "server");
  try {
    await reader;
    deviceReady = true;
    if (performance.getEntriesByName("digitrec:device-ready").length === 0) performance.mark("digitrec:device-ready");
    if (modelSelect.value !== model) return;
    showReadingMode(
      state.mode === "number"
        ? "Whole numbers are read on the server; single digits on this device."
        : "Reads on this device: no server round trip, works offline.",
      "device",
    );
  } catch (error) {
    readers.delete(model); // tried again next time
    deviceReady = false;
    showReadingMode(`Reads on the server (this device cannot: ${(error as Error).message}).`, "server");
  }
}

function readsOnDevice(): boolean {
  return state.mode === "digit" && !state.picture && !state.explainOn && deviceReady;
}

/** The drawing as the device reads it, and by which model: equal keys, equal answers. */
function drawingKey(model: string = modelSelect.value, drawing: StrokeDrawing = strokeDrawing()): string {
  return `${model}\n${JSON.stringify(drawing)}`;
}

export function schedulePrediction(now: boolean): void {
  clearTimeout(pending);
  clearTimeout(retryTimer);
  if (now && readsOnDevice()) {
    // At pen-up: the live reading may already have read these very strokes (a pen lift adds no
    // point), or be reading them now; its answer is the final one.
    const key = drawingKey();
    if (key === shownKey && !inFlight) {
      readingState("done");
      announceVerdict(); // the pen is up: the spoken region says the final answer
      return;
    }
    if (key === flightKey && inFlight) {
      again = false;
      return;
    }
  }
  readingState("waiting");
  if (now) {
    // At pen-up the answer is wanted in this frame: no timer's delay before reading.
    predict();
    return;
  }
  const throttle = readsOnDevice() ? Math.max(DEVICE_THROTTLE_MS, 2 * deviceReadingMs) : THROTTLE_MS;
  pending = setTimeout(predict, Math.max(0, throttle - (performance.now() - lastSent)));
}

export function cancelPrediction(): void {
  flightKey = shownKey = "";
  requestSeq++;
  shownSeq = requestSeq;
  clearTimeout(pending);
  clearTimeout(retryTimer);
  retryDelay = 0;
}

async function predict(): Promise<void> {
  if (!hasDrawing()) return;
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    if (!(await askDevice())) await askServer();
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      predict();
    }
  }
}

/** Read on the device; false where the server must (a picture, a number, "Why?", no reader). */
async function askDevice(): Promise<boolean> {
  if (state.mode !== "digit" || state.picture || state.explainOn) return false;
  const model = modelSelect.value; // one name for the reader and the key, whatever is chosen meanwhile
  const loading = deviceReader(model);
  if (loading === null) return false;
  let reader: DeviceReader;
  try {
    reader = await loading;
  } catch {
    return false;
  }
  lastSent = performance.now();
  const seq = ++requestSeq;
  const started = performance.now();
  const drawing = strokeDrawing();
  const key = drawingKey(model, drawing);
  flightKey = key;
  let reading: DeviceReading;
  try {
    reading = await reader.read(drawing);
  } catch (error) {
    if (error instanceof DeviceRefusal) return false; // the server reads what the device cannot
    throw error;
  } finally {
    flightKey = "";
    deviceReadingMs = performance.now() - started;
  }
  if (seq < shownSeq || !hasDrawing()) return true;
  shownSeq = seq;
  shownKey = key;
  if (seq === requestSeq && !state.current && !again) readingState("done");
  if (errorText().startsWith("Cannot reach") || errorText().startsWith("The server is not ready")) hideError();
  const size = reader.card.preprocessing.size;
  const rows = Array.from({ length: size }, (_, y) =>
    Array.from(reading.input.subarray(y * size, (y + 1) * size), (v) => Math.round(v * 1e4) / 1e4),
  );
  showAnswer({
    model: reader.card.model,
    digit: reading.digit,
    confidence: reading.confidence,
    probabilities: reading.probabilities,
    uncertain: reading.uncertain,
    not_a_digit: reading.not_a_digit,
    top: reading.top,
    input: rows,
    elapsed_ms: performance.now() - started,
    on_device: true,
  });
  return true;
}

async function askServer(): Promise<void> {
  lastSent = performance.now();
  const seq = ++requestSeq;
  const body = drawingBody({
    model: modelSelect.value || undefined,
    include_input: true,
    top_k: 3,
    explain: state.mode === "digit" && state.explainOn,
  });
  let response: Response;
  let answer: any;
  try {
    response = await post(state.mode === "number" ? "/api/read" : "/api/predict", body);
    answer = await response.json().catch(() => ({}));
  } catch {
    if (seq === requestSeq) {
      retryLater(
        !navigator.onLine
          ? state.mode === "number"
            ? "You are offline: whole numbers are read on the server, so this one waits for the network."
            : "You are offline, and this drawing needs the server."
          : "Cannot reach the digitrec server.",
      );
    }
    return;
  }
  if (seq === requestSeq && !state.current && !again && response.ok) readingState("done");
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
  shownKey = ""; // a server's answer: the next pen-up reads on the device again
  showAnswer(answer);
}

export function post(url: string, body: string | FormData): Promise<Response> {
  const headers: Record<string, string> = typeof body === "string" ? { "Content-Type": "application/json" } : {};
  return fetch(url, { method: "POST", headers, body });
}

// A drawing made while the server is away is read as soon as it is back: 0.5 s, 1 s, 2 s ... 5 s.
function retryLater(why: string): void {
  retryDelay = retryDelay ? Math.min(retryDelay * 2, RETRY_MAX_MS) : RETRY_FIRST_MS;
  clearTimeout(retryTimer);
  retryTimer = setTimeout(predict, retryDelay);
  readingState("retrying");
  showError(
    `${why} Your drawing is kept and will be read as soon as the server answers ` +
      `(trying again every ${Math.ceil(retryDelay / 1000)} s).`,
  );
}
