// calibration.py and Predictor.read on the device: the graph's raw probabilities -> calibrated
// digit probabilities and the two verdicts, with model.json's numbers (through the model card).

export interface Calibration {
  temperature: number;
  confidence_map: number[][] | null;
  uncertain_below: number;
  not_a_digit_above: number;
}

const FLOOR = 1e-12; // log(0) guard, as in calibration.py

/** np.interp(x, xs, ys): linear between knots, flat beyond the ends. */
export function interp(x: number, xs: number[], ys: number[]): number {
  if (x <= xs[0]) return ys[0];
  if (x >= xs[xs.length - 1]) return ys[ys.length - 1];
  let i = 1;
  while (xs[i] < x) i++;
  if (xs[i] === x) return ys[i];
  const t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
  return ys[i - 1] + t * (ys[i] - ys[i - 1]);
}

/** apply_confidence_map for one row: the top probability mapped, the others scaled to sum 1. */
export function applyConfidenceMap(probabilities: Float32Array, knots: number[][]): Float32Array {
  let top = 0;
  for (let d = 1; d < probabilities.length; d++) if (probabilities[d] > probabilities[top]) top = d;
  const old = probabilities[top];
  const rest = Math.max(1.0 - old, FLOOR);
  const sorted = Array.from(probabilities).sort((a, b) => b - a);
  const runnerUp = sorted[1] / rest;
  const mapped = interp(
    old,
    knots.map((k) => k[0]),
    knots.map((k) => k[1]),
  );
  const next = Math.max(mapped, runnerUp / (1 + runnerUp) + 1e-5);
  const out = new Float32Array(probabilities.length);
  for (let d = 0; d < out.length; d++) out[d] = probabilities[d] * ((1.0 - next) / rest);
  out[top] = next;
  return out;
}

/** digit_probabilities for one row of the graph's output (10 or 11 values). */
export function digitProbabilities(raw: ArrayLike<number>, c: Calibration): Float32Array {
  const logits = new Float64Array(10);
  for (let d = 0; d < 10; d++) logits[d] = Math.log(Math.max(raw[d], FLOOR)) / c.temperature;
  const peak = Math.max(...logits);
  let sum = 0;
  for (let d = 0; d < 10; d++) {
    logits[d] = Math.exp(logits[d] - peak);
    sum += logits[d];
  }
  const probabilities = new Float32Array(10);
  for (let d = 0; d < 10; d++) probabilities[d] = logits[d] / sum;
  return c.confidence_map && c.confidence_map.length ? applyConfidenceMap(probabilities, c.confidence_map) : probabilities;
}

export interface Verdict {
  digit: number;
  confidence: number;
  probabilities: number[];
  uncertain: boolean;
  not_a_digit: boolean;
  top: { digit: number; probability: number }[];
}

/** Predictor.read for one input: the answer, "not sure" and "not a digit". */
export function verdict(raw: ArrayLike<number>, c: Calibration, topK = 3): Verdict {
  const probabilities = digitProbabilities(raw, c);
  let digit = 0;
  for (let d = 1; d < 10; d++) if (probabilities[d] > probabilities[digit]) digit = d;
  const notADigit = raw.length > 10 ? Math.fround(raw[10]) > c.not_a_digit_above : false;
  const order = Array.from(probabilities, (p, d) => ({ digit: d, probability: p })).sort(
    (a, b) => b.probability - a.probability || a.digit - b.digit,
  );
  return {
    digit,
    confidence: probabilities[digit],
    probabilities: Array.from(probabilities),
    uncertain: probabilities[digit] < c.uncertain_below,
    not_a_digit: notADigit,
    top: order.slice(0, topK),
  };
}
