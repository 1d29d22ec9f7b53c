// What the page's modules share: its elements and the drawing on screen.
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

export const THROTTLE_MS = 120; // live updates while drawing, at most this often
export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 5000;
// Touch screens have no Esc or Ctrl+Z: hints and labels talk about the buttons instead.
export const TOUCH =
  matchMedia("(pointer: coarse)").matches || (navigator.maxTouchPoints > 0 && !matchMedia("(hover: hover)").matches);

export interface Stroke {
  width: number;
  points: [number, number][];
}

export interface Picture {
  file: File;
  bitmap: ImageBitmap;
  x: number;
  y: number;
  scale: number;
}

export interface FeedbackState {
  id: number | null;
  kind: string | null;
  label: number | null;
  busy: boolean;
  undo?: string | null;
}

export const state = {
  strokes: [] as Stroke[], // each stroke in CSS pixels
  current: null as Stroke | null,
  picture: null as Picture | null, // an opened or dropped image
  mode: "digit" as "digit" | "number", // "digit": one digit, bars; "number": a whole number, boxes
  explainOn: false, // "Why?": ask the server for the heatmap and show it over the drawing
  lastAnswer: null as any,
  drawingToken: 0, // changes whenever the drawing does: feedback belongs to one drawing
  penOverride: { digit: null as number | null, number: null as number | null },
  // Feedback on the drawing on screen: at most one stored answer (a second choice replaces it).
  feedback: { id: null, kind: null, label: null, busy: false } as FeedbackState,
};

export function allStrokes(): Stroke[] {
  return state.current ? state.strokes.concat([state.current]) : state.strokes;
}

export function hasDrawing(): boolean {
  return Boolean(state.picture) || allStrokes().length > 0;
}

// "waiting" until the answer to the latest drawing is on screen ("done"), or "retrying".
export function readingState(value: string): void {
  document.body.dataset.reading = value;
}
