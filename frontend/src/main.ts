// digitrec drawing page: pointer strokes (or a picture) on a canvas, read live on the device
// (onnxruntime-web) or by the server, a verdict that admits doubt, and one trustworthy piece of
// feedback per drawing, kept on the device while offline.
import {
  buildExamples,
  fitCanvas,
  listenToPen,
  openPicture,
  redraw,
  showPen,
  strokePath,
} from "./drawing";
import {
  buildChoices,
  choiceOpen,
  clearDrawing,
  drawingChanged,
  openChoice,
  sendFeedback,
  showFeedbackChoices,
  startOutbox,
  undoFeedback,
} from "./feedback";
import {
  buildBars,
  drawSeen,
  errorText,
  hideError,
  showError,
  showExplanation,
  showHint,
  useStrokePainter,
  whenNumberShown,
  whenShown,
} from "./layout";
import { addBoxChoices, undoNumberFeedback, wholeNumberIsRight } from "./numberFeedback";
import { describeMode, schedulePrediction } from "./reader";
import { $, hasDrawing, RETRY_FIRST_MS, RETRY_MAX_MS, state, TOUCH } from "./state";

const modelSelect = $<HTMLSelectElement>("model");
const penInput = $<HTMLInputElement>("pen");
const whyButton = $("why");

const clear = () => clearDrawing(hideError);

function setMode(next: "digit" | "number"): void {
  state.mode = next;
  document.body.classList.toggle("number-mode", state.mode === "number");
  $("mode-digit").setAttribute("aria-pressed", String(state.mode === "digit"));
  $("mode-number").setAttribute("aria-pressed", String(state.mode === "number"));
  $("number-result").hidden = state.mode !== "number";
  showHint();
  buildExamples();
  clear();
  fitCanvas();
  describeMode();
}

function undo(): void {
  if (state.picture && !state.strokes.length) return clear();
  if (!state.strokes.length) return;
  state.strokes.pop();
  drawingChanged();
  redraw();
  if (hasDrawing()) schedulePrediction(true);
  else clear();
}

function typing(event: KeyboardEvent): boolean {
  return (
    (event.target instanceof HTMLInputElement && event.target.type !== "range") ||
    event.target instanceof HTMLSelectElement
  );
}

async function loadModels(delay = RETRY_FIRST_MS): Promise<void> {
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
    if (errorText().includes("list its models")) hideError();
    describeMode();
  } catch {
    showError("Cannot reach the digitrec server to list its models. Trying again…");
    setTimeout(() => loadModels(Math.min(delay * 2, RETRY_MAX_MS)), delay);
  }
}

function listen(): void {
  listenToPen();
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      clear();
    } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
      event.preventDefault();
      undo();
    } else if (
      /^[0-9]$/.test(event.key) &&
      choiceOpen() &&
      state.mode === "digit" &&
      !event.ctrlKey &&
      !event.metaKey &&
      !event.altKey &&
      !typing(event)
    ) {
      // Digit keys store a correction only once the person has opened the choice ("Wrong…").
      event.preventDefault();
      sendFeedback("correction", Number(event.key));
    }
  });
  $("clear").addEventListener("click", clear);
  $("undo").addEventListener("click", undo);
  $("right").addEventListener("click", () => state.lastAnswer && sendFeedback("confirmation", state.lastAnswer.digit));
  $("wrong").addEventListener("click", openChoice);
  $("feedback-undo").addEventListener("click", undoFeedback);
  $("number-right").addEventListener("click", wholeNumberIsRight);
  $("number-feedback-undo").addEventListener("click", undoNumberFeedback);
  penInput.addEventListener("input", () => {
    state.penOverride[state.mode] = Number(penInput.value);
    showPen();
  });
  $("pen-auto").addEventListener("click", () => {
    state.penOverride[state.mode] = null;
    showPen();
  });
  modelSelect.addEventListener("change", () => {
    drawingChanged();
    describeMode();
    schedulePrediction(true);
  });
  $("mode-digit").addEventListener("click", () => setMode("digit"));
  $("mode-number").addEventListener("click", () => setMode("number"));
  whyButton.addEventListener("click", () => {
    state.explainOn = !state.explainOn;
    whyButton.setAttribute("aria-pressed", String(state.explainOn));
    const answer = state.lastAnswer;
    if (!state.explainOn && answer && answer.input) {
      drawSeen(answer.input, null);
      delete answer.explanation;
      showExplanation(answer);
    } else if (hasDrawing()) {
      schedulePrediction(true);
    }
  });
  const wrap = $("pad-wrap");
  wrap.addEventListener("dragover", (event) => {
    event.preventDefault();
    wrap.classList.add("dragging");
  });
  wrap.addEventListener("dragleave", () => wrap.classList.remove("dragging"));
  wrap.addEventListener("drop", (event) => {
    event.preventDefault();
    wrap.classList.remove("dragging");
    openPicture(event.dataTransfer?.files[0]);
  });
  $<HTMLInputElement>("upload").addEventListener("change", (event) => {
    const input = event.target as HTMLInputElement;
    openPicture(input.files?.[0]);
    input.value = ""; // the same file can be opened again
  });
  window.addEventListener("resize", fitCanvas);
}

buildBars();
buildChoices();
whenShown(showFeedbackChoices);
whenNumberShown(addBoxChoices);
useStrokePainter(strokePath);
document.body.classList.toggle("touch", TOUCH);
listen();
showHint();
buildExamples();
fitCanvas();
loadModels();
startOutbox();
// The service worker keeps the page, the runtime and the model for offline use.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(() => {
    /* the page works without it, online */
  });
}
