import { describe, expect, it } from "vitest";
import { digitProbabilities, interp, verdict, type Calibration } from "../src/reading/calibration";
import { centerByMass, preprocess, strokeWidth, type PreprocessConstants } from "../src/reading/preprocess";
import { pyRound, resizeGrey, BOX } from "../src/reading/pillow";
import { renderStrokes, DeviceRefusal, type RenderBudget } from "../src/reading/render";

// The values digitrec/device.py hands out today; the parity test checks the real card.
const C: PreprocessConstants = {
  size: 28, box: 20, center: 14, stroke_target: 2.7, stroke_min: 1.5, stroke_max: 5.5, work_side: 80,
  noise_floor: 0.1, noise_sigmas: 5, noise_sample: 4096, speck_share: 0.03, speck_side: 128, speck_min_area: 2,
  max_filter: 21,
};
const BUDGET: RenderBudget = {
  max_side: 4096, max_points: 5000, max_line_fraction: 0.25, render_side: 1024, max_ink_rows: 200000, call_rows: 16,
};
const CAL: Calibration = { temperature: 0.5, confidence_map: null, uncertain_below: 0.6, not_a_digit_above: 0.5 };

const seven = [[[60, 60], [220, 60], [120, 240]]] as [number, number][][];

describe("rounding and resampling as Pillow and Python do", () => {
  it("rounds halves to even", () => {
    expect([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(pyRound)).toEqual([0, 2, 2, 4, 2, 3]);
  });
  it("box-shrinks a flat picture to the same level", () => {
    const flat = { width: 9, height: 6, data: new Uint8Array(54).fill(200) };
    const small = resizeGrey(flat, 3, 2, BOX);
    expect(Array.from(small.data)).toEqual([200, 200, 200, 200, 200, 200]);
  });
});

describe("preprocessing", () => {
  it("makes a 28x28 input, ink in [0, 1], the centre of mass near (14, 14)", () => {
    const input = preprocess(renderStrokes(seven, 280, 280, 20, BUDGET), C);
    expect(input.length).toBe(28 * 28);
    let total = 0, cx = 0, cy = 0, peak = 0;
    input.forEach((v, i) => {
      total += v; cx += v * (i % 28); cy += v * Math.floor(i / 28); peak = Math.max(peak, v);
    });
    expect(peak).toBeCloseTo(1, 5);
    expect(Math.min(...input)).toBeGreaterThanOrEqual(0);
    expect(Math.abs(cx / total - 14)).toBeLessThan(1);
    expect(Math.abs(cy / total - 14)).toBeLessThan(1);
  });
  it("reads the same digit the same way wherever and however big it is drawn", () => {
    const moved = seven.map((s) => s.map(([x, y]) => [x * 0.5 + 100, y * 0.5 + 90] as [number, number]));
    const a = preprocess(renderStrokes(seven, 280, 280, 20, BUDGET), C);
    const b = preprocess(renderStrokes(moved, 280, 280, 10, BUDGET), C);
    const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
    expect(worst).toBeLessThan(0.35);
  });
  it("measures stroke width as 2 * area / boundary", () => {
    const bar = { width: 10, height: 4, data: new Float32Array(40).fill(1) };
    expect(strokeWidth(bar)).toBeCloseTo((2 * 40) / (40 - 16), 5);
  });
  it("centres by mass, clamped inside the picture", () => {
    const dot = { width: 1, height: 1, data: new Float32Array([1]) };
    const out = centerByMass(dot, C);
    expect(out[14 * 28 + 14]).toBe(1);
  });
  it("hands the server what it cannot draw as the server would", () => {
    expect(() => renderStrokes([], 280, 280, 20, BUDGET)).toThrow(DeviceRefusal);
    expect(() => renderStrokes(seven, 280, 280, 500, BUDGET)).toThrow(DeviceRefusal);
    const light = { width: 40, height: 40, data: new Uint8Array(1600).fill(255) };
    expect(() => preprocess(light, C)).toThrow(DeviceRefusal);
  });
});

describe("calibration and verdicts", () => {
  const raw = (digits: number[], notADigit = 0) => Float32Array.from([...digits, notADigit]);
  it("sharpens with a temperature under 1 and sums to 1", () => {
    const p = digitProbabilities(raw([0.6, 0.4, 0, 0, 0, 0, 0, 0, 0, 0]), CAL);
    expect(p[0]).toBeCloseTo(0.36 / 0.52, 5);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });
  it("is sure, not sure, or not a digit", () => {
    expect(verdict(raw([0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0]), CAL)).toMatchObject({ digit: 0, uncertain: false, not_a_digit: false });
    expect(verdict(raw([0.5, 0.45, 0.05, 0, 0, 0, 0, 0, 0, 0]), CAL).uncertain).toBe(true);
    expect(verdict(raw([0.1, 0.1, 0, 0, 0, 0, 0, 0, 0, 0], 0.8), CAL).not_a_digit).toBe(true);
  });
  it("maps the top probability through the confidence map without changing the answer", () => {
    const mapped = verdict(raw([0.7, 0.3, 0, 0, 0, 0, 0, 0, 0, 0]), { ...CAL, temperature: 1, confidence_map: [[0, 0], [1, 0.5]] });
    expect(mapped.digit).toBe(0);
    expect(mapped.confidence).toBeGreaterThanOrEqual(mapped.probabilities[1]);
    expect(interp(0.5, [0, 1], [0, 2])).toBe(1);
  });
});
