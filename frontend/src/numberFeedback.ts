// Answers about a whole number: each box corrected on its own (a digit, or "not a digit"), or
// "The whole number is right" for all of them; Undo takes the last answer back (all of its rows).
// Online only: a number is read on the server, so answering one needs it too.
import { drawingBody } from "./drawing";
import {
  answersFor,
  describe,
  labelOf,
  NOT_A_DIGIT,
  numberBoxes,
  readAs,
  wholeNumberRight,
  type Label,
  type NumberBox,
  type Stored,
} from "./numbers";
import { post } from "./reader";
import { $, state } from "./state";

const thanks = $("number-thanks");
const undoButton = $<HTMLButtonElement>("number-feedback-undo");
const rightButton = $<HTMLButtonElement>("number-right");

const answered = {
  stored: new Map<string, Stored>(), // each box's stored answer, by box key
  last: [] as { key: string; id: number; undo: string }[], // what Undo takes back
  busy: false,
};

export function resetNumberFeedback(): void {
  answered.stored.clear();
  answered.last = [];
  answered.busy = false;
  thanks.textContent = "";
  thanks.classList.remove("failed");
  undoButton.hidden = true;
  rightButton.setAttribute("aria-pressed", "false");
}

/** The controls of a number just shown: a choice on each box, and the whole number's button. */
export function addBoxChoices(items: HTMLLIElement[]): void {
  const boxes = numberBoxes(state.lastAnswer);
  $("number-feedback").hidden = boxes.length === 0;
  boxes.forEach((box, position) => items[position] && items[position].appendChild(boxChoice(box, position + 1)));
  markWhole(boxes);
}

function boxChoice(box: NumberBox, position: number): HTMLSelectElement {
  const select = document.createElement("select");
  select.className = "box-choice";
  select.setAttribute("data-testid", `box-choice-${position - 1}`);
  const read = box.digit === null ? "a stray mark" : `${box.digit}`;
  select.setAttribute("aria-label", `Box ${position} (reads ${read}): what it really is`);
  const options: [string, string][] = [["", "Fix…"]];
  for (let d = 0; d < 10; d++) options.push([String(d), String(d)]);
  options.push([NOT_A_DIGIT, NOT_A_DIGIT]);
  for (const [value, text] of options) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = text;
    select.appendChild(option);
  }
  const stored = answered.stored.get(box.key);
  select.value = stored ? String(stored.label) : "";
  select.disabled = answered.busy;
  select.addEventListener("change", () => {
    if (select.value === "") return;
    sendNumberAnswers(new Map([[box.key, labelOf(select.value)]]), describe(position, labelOf(select.value)));
  });
  return select;
}

function markWhole(boxes: NumberBox[]): void {
  const all = boxes.length > 0 && boxes.every((b) => answered.stored.get(b.key)?.label === readAs(b));
  rightButton.setAttribute("aria-pressed", String(all));
  rightButton.disabled = answered.busy;
}

export function wholeNumberIsRight(): void {
  if (!state.lastAnswer || state.mode !== "number") return;
  sendNumberAnswers(wholeNumberRight(numberBoxes(state.lastAnswer)), "the whole number is right");
}

function setBusy(busy: boolean, text: string): void {
  answered.busy = busy;
  thanks.classList.remove("failed");
  thanks.textContent = text;
  for (const select of document.querySelectorAll<HTMLSelectElement>("select.box-choice")) select.disabled = busy;
  rightButton.disabled = undoButton.disabled = busy;
}

function fail(text: string): void {
  thanks.classList.add("failed");
  thanks.textContent = text;
}

async function sendNumberAnswers(labels: Map<string, Label>, what: string): Promise<void> {
  const answer = state.lastAnswer;
  if (!answer || answered.busy) return;
  const boxes = numberBoxes(answer);
  const answers = answersFor(boxes, labels, answered.stored);
  if (answers.length === 0) return; // stored already
  const token = state.drawingToken;
  setBusy(true, "Saving…");
  let response: Response | null = null;
  let body: any = {};
  try {
    response = await post("/api/feedback/number", drawingBody({ model: answer.model, text: answer.text, answers }));
    body = await response.json().catch(() => ({}));
  } catch {
    response = null;
  }
  if (token !== state.drawingToken) return; // the drawing changed meanwhile
  setBusy(false, "");
  if (response && response.status === 201) {
    const byIndex = new Map(boxes.map((b) => [`${b.leftOut ? "m" : "d"}${b.index}`, b.key]));
    answered.last = [];
    for (const row of body.answers) {
      const key = byIndex.get(`${row.left_out ? "m" : "d"}${row.box}`)!;
      answered.stored.set(key, { id: row.id, undo: row.undo, label: row.label });
      answered.last.push({ key, id: row.id, undo: row.undo });
    }
    const ids = body.answers.map((r: any) => `#${r.id}`).join(", ");
    thanks.textContent = `Thanks! Stored: ${what} (${ids}).`;
    undoButton.hidden = false;
  } else {
    fail(
      !response
        ? "Could not reach the server to store it: answers about a number need it, as reading one does."
        : body.detail || `Could not store it (the server answered ${response.status}).`,
    );
  }
  refresh();
}

// The boxes' choices and the whole number's button, as stored now.
function refresh(): void {
  const boxes = numberBoxes(state.lastAnswer);
  const selects = document.querySelectorAll<HTMLSelectElement>("select.box-choice");
  boxes.forEach((box, i) => {
    const stored = answered.stored.get(box.key);
    if (selects[i]) selects[i].value = stored ? String(stored.label) : "";
  });
  markWhole(boxes);
}

/** Undo: the last answer's rows are taken back together, all or none. */
export async function undoNumberFeedback(): Promise<void> {
  if (answered.last.length === 0 || answered.busy) return;
  const token = state.drawingToken;
  const last = answered.last;
  const ids = last.map((r) => `#${r.id}`).join(", ");
  setBusy(true, "Taking it back…");
  let response: Response | null = null;
  try {
    response = await post("/api/feedback/undo", JSON.stringify({ answers: last.map(({ id, undo }) => ({ id, undo })) }));
  } catch {
    /* reported below */
  }
  if (token !== state.drawingToken) return;
  setBusy(false, "");
  if (response && response.status === 204) {
    for (const row of last) answered.stored.delete(row.key);
    answered.last = [];
    thanks.textContent = `Taken back: ${ids} ${last.length === 1 ? "is" : "are"} no longer stored.`;
    undoButton.hidden = true;
  } else {
    fail(
      !response
        ? `Could not reach the server to take ${ids} back.`
        : response.status === 404
          ? `${ids}: not stored here any more (or not yours to take back).`
          : `Could not take ${ids} back (the server answered ${response.status}).`,
    );
  }
  refresh();
}
