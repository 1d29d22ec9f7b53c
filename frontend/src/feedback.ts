// One trustworthy piece of feedback per drawing: Right!, or the digit it was; kept on the device
// while the server is away (outbox.ts) and sent when it answers.
import { drawingBody, redraw } from "./drawing";
import { resetResult } from "./layout";
import { resetNumberFeedback } from "./numberFeedback";
import * as outbox from "./outbox";
import { cancelPrediction, post } from "./reader";
import { $, hasDrawing, readingState, state, TOUCH } from "./state";

const feedbackBox = $("feedback");
const choiceBox = $("correct-choice");
const thanks = $("thanks");
const choiceButtons: HTMLButtonElement[] = [];
let outboxKey: string | null = null; // the queued answer to the drawing on screen, if any

export function buildChoices(): void {
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
}

export function drawingChanged(): void {
  state.drawingToken++;
  state.feedback = { id: null, kind: null, label: null, busy: false };
  outboxKey = null;
  choiceBox.hidden = true;
  $("wrong").setAttribute("aria-expanded", "false");
  $("right").setAttribute("aria-pressed", "false");
  for (const b of choiceButtons) b.setAttribute("aria-pressed", "false");
  thanks.textContent = "";
  thanks.classList.remove("failed");
  $("feedback-undo").hidden = true;
  resetNumberFeedback();
}

export function startNewDrawing(): void {
  state.strokes = [];
  state.current = null;
  state.picture = null;
  cancelPrediction();
  readingState("done");
  drawingChanged();
  resetResult();
}

export function clearDrawing(hide: () => void): void {
  startNewDrawing();
  redraw();
  hide();
}

export function showFeedbackChoices(): void {
  const answer = state.lastAnswer;
  feedbackBox.hidden = false;
  const notDigit = Boolean(answer.not_a_digit);
  $("right").hidden = notDigit;
  $("wrong").textContent = notDigit ? "It is a digit…" : "Wrong…";
  // A correction must differ from what the model read: that digit is "Right!" instead.
  choiceButtons.forEach((b, d) => {
    b.disabled = state.feedback.busy || (!notDigit && d === answer.digit);
  });
  ($("right") as HTMLButtonElement).disabled = ($("wrong") as HTMLButtonElement).disabled = state.feedback.busy;
}

export function openChoice(): void {
  choiceBox.hidden = !choiceBox.hidden;
  $("wrong").setAttribute("aria-expanded", String(!choiceBox.hidden));
  if (!choiceBox.hidden) {
    const first = choiceButtons.find((b) => !b.disabled);
    if (first && !TOUCH) first.focus();
  }
}

export function choiceOpen(): boolean {
  return !choiceBox.hidden && !feedbackBox.hidden;
}

function feedbackFields(kind: string, label: number): Record<string, unknown> {
  const answer = state.lastAnswer;
  return {
    label,
    kind,
    model: answer.model,
    predicted: answer.not_a_digit ? undefined : answer.digit,
    // The stored answer this one replaces: the server deletes it in the same transaction.
    replaces: state.feedback.id ?? undefined,
    undo: state.feedback.undo ?? undefined,
    // This answer's own key: if the server stored it but its reply was lost, the outbox sends it
    // again with the same key and the server answers with the row it stored, storing nothing twice.
    key: answerKey(),
  };
}

export function answerKey(): string {
  // getRandomValues works on plain http too (randomUUID needs a secure context).
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sendFeedback(kind: string, label: number): Promise<void> {
  const answer = state.lastAnswer;
  if (!answer || state.mode !== "digit" || state.feedback.busy || !hasDrawing()) return;
  if (state.feedback.kind === kind && state.feedback.label === label) return; // stored already
  if (kind === "correction" && !answer.not_a_digit && label === answer.digit) return;
  const token = state.drawingToken;
  const body = drawingBody(feedbackFields(kind, label));
  setBusy(true, kind === "confirmation" ? "Saving…" : `Saving ${label}…`);
  let response: Response | null = null;
  let stored: any = {};
  if (outboxKey === null) {
    try {
      response = await post("/api/feedback", body);
      stored = await response.json().catch(() => ({}));
    } catch {
      response = null;
    }
  }
  if (token !== state.drawingToken) return; // the drawing changed meanwhile: this answer is not on screen
  state.feedback.busy = false;
  if (response && response.status === 201) {
    const replaced = state.feedback.id;
    state.feedback = { id: stored.id, undo: stored.undo, kind, label, busy: false };
    thanks.textContent =
      (kind === "confirmation"
        ? `Thanks! Stored as right (#${stored.id}).`
        : `Thank you! Stored as a ${label} (#${stored.id}); it will help the next model.`) +
      (replaced ? ` It replaces #${replaced}.` : "");
    $("feedback-undo").hidden = false;
  } else if (response === null && typeof body === "string") {
    // The server is away: kept on this device, sent when it answers.
    outboxKey = outboxKey ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    await outbox.put({ key: outboxKey, body, created: Date.now() });
    state.feedback = { id: null, kind, label, busy: false };
    thanks.textContent = `Kept on this device (${kind === "confirmation" ? "right" : `a ${label}`}): it will be sent when the server answers.`;
    showOutbox((await outbox.all()).length);
    scheduleFlush(1000);
  } else {
    thanks.classList.add("failed");
    thanks.textContent = !response
      ? "Could not reach the server to store it."
      : stored.detail || `Could not store it (the server answered ${response.status}).`;
  }
  markChoice();
  showFeedbackChoices();
}

function setBusy(busy: boolean, text: string): void {
  state.feedback.busy = busy;
  thanks.classList.remove("failed");
  thanks.textContent = text;
  showFeedbackChoices();
}

function markChoice(): void {
  $("right").setAttribute("aria-pressed", String(state.feedback.kind === "confirmation"));
  choiceButtons.forEach((b, d) =>
    b.setAttribute("aria-pressed", String(state.feedback.kind === "correction" && state.feedback.label === d)),
  );
}

// Undo takes the stored answer back (DELETE /api/feedback/{id}), where the server offers it.
export async function undoFeedback(): Promise<void> {
  if (state.feedback.id === null || state.feedback.busy) return;
  const token = state.drawingToken;
  const id = state.feedback.id;
  setBusy(true, "Taking it back…");
  let response: Response | null = null;
  try {
    response = await fetch(`/api/feedback/${id}`, {
      method: "DELETE",
      headers: { "X-Undo-Token": state.feedback.undo ?? "" },
    });
  } catch {
    /* reported below */
  }
  if (token !== state.drawingToken) return;
  state.feedback.busy = false;
  if (response && response.ok) {
    state.feedback = { id: null, kind: null, label: null, busy: false };
    thanks.textContent = `Taken back: #${id} is no longer stored.`;
    $("feedback-undo").hidden = true;
  } else {
    thanks.classList.add("failed");
    thanks.textContent = !response
      ? `Could not reach the server to take #${id} back.`
      : response.status === 404
        ? `#${id} is not stored here any more (or was not yours to take back).`
        : `Could not take #${id} back (the server answered ${response.status}).`;
  }
  markChoice();
  showFeedbackChoices();
}

// ---------------------------------------------------------------- the outbox

function showOutbox(waiting: number): void {
  document.body.dataset.outbox = String(waiting);
  const line = $("outbox");
  line.hidden = waiting === 0;
  line.textContent =
    waiting === 1 ? "1 answer waits on this device for the server." : `${waiting} answers wait on this device for the server.`;
}

let flushTimer: ReturnType<typeof setTimeout> | undefined;
export function scheduleFlush(delay = 0): void {
  clearTimeout(flushTimer);
  flushTimer = setTimeout(async () => {
    const left = await outbox.flush((body) => post("/api/feedback", body));
    if (outboxKey !== null && left === 0) outboxKey = null; // sent: a new choice goes to the server
    showOutbox(left);
    if (left > 0) scheduleFlush(5000);
  }, delay);
}

export async function startOutbox(): Promise<void> {
  try {
    showOutbox((await outbox.all()).length);
  } catch {
    return; // no IndexedDB (a private window in some browsers): corrections need the server
  }
  window.addEventListener("online", () => scheduleFlush(0));
  scheduleFlush(0);
}
