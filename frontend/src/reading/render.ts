// Strokes -> the white-on-black picture the server draws of them (decode.render_strokes).
import { drawLines, fillEllipse, pyRound, type Grey } from "./pillow";

/** The server's decoding budget for strokes (decode.Budget), as the model card sends it. */
export interface RenderBudget {
  max_side: number;
  max_points: number;
  max_line_fraction: number;
  render_side: number;
  max_ink_rows: number;
  call_rows: number;
}

export type Point = [number, number];

/** What the device cannot draw as the server would: the page then asks the server. */
export class DeviceRefusal extends Error {}

export function strokeScale(width: number, height: number, budget: RenderBudget): number {
  return Math.min(1.0, budget.render_side / Math.max(width, height, 1));
}

export function renderStrokes(
  strokes: Point[][],
  width: number,
  height: number,
  lineWidth: number | null,
  budget: RenderBudget,
): Grey {
  if (!(width >= 1 && width <= budget.max_side && height >= 1 && height <= budget.max_side)) {
    throw new DeviceRefusal("canvas size out of range");
  }
  const widest = budget.max_line_fraction * Math.max(width, height);
  if (lineWidth !== null && !(Number.isFinite(lineWidth) && lineWidth > 0 && lineWidth <= widest)) {
    throw new DeviceRefusal("pen width out of range");
  }
  const nonEmpty = strokes.filter((s) => s.length > 0);
  const total = nonEmpty.reduce((sum, s) => sum + s.length, 0);
  if (total === 0) throw new DeviceRefusal("nothing drawn");
  if (total > budget.max_points) throw new DeviceRefusal("too many points");
  const scale = strokeScale(width, height, budget);
  const line = (lineWidth ? lineWidth : Math.max(width, height) / 16) * scale;
  const tolerance = Math.max(0.5, line / 4);
  // Points closer than the tolerance grid's cell to the last one kept are dropped, as the server does.
  const kept: Point[][] = nonEmpty.map((stroke) => {
    const scaled = stroke.map(([x, y]) => [x * scale, y * scale] as Point);
    const cells = scaled.map(([x, y]) => [Math.floor(x / tolerance), Math.floor(y / tolerance)]);
    return scaled.filter(
      (_, i) =>
        i === 0 || i === scaled.length - 1 || cells[i][0] !== cells[i - 1][0] || cells[i][1] !== cells[i - 1][1],
    );
  });
  for (const stroke of kept) {
    for (const [x, y] of stroke) if (!Number.isFinite(x) || !Number.isFinite(y)) throw new DeviceRefusal("bad point");
  }
  let lengths = 0;
  let segments = 0;
  let points = 0;
  for (const stroke of kept) {
    points += stroke.length;
    for (let i = 1; i < stroke.length; i++) {
      lengths += Math.hypot(stroke[i][0] - stroke[i - 1][0], stroke[i][1] - stroke[i - 1][1]);
      segments++;
    }
  }
  const pen = Math.max(1.0, line);
  const rows = Math.trunc(lengths + pen * segments + (pen + budget.call_rows) * points);
  if (rows > budget.max_ink_rows) throw new DeviceRefusal("too much ink to draw");
  const picture: Grey = {
    width: Math.max(1, pyRound(width * scale)),
    height: Math.max(1, pyRound(height * scale)),
    data: new Uint8Array(0),
  };
  picture.data = new Uint8Array(picture.width * picture.height);
  const radius = line / 2;
  const penWidth = Math.max(1, pyRound(line));
  for (const stroke of kept) {
    if (stroke.length > 1) drawLines(picture, stroke, 255, penWidth);
    // Round caps and joins, as a canvas draws them with lineCap = "round".
    for (const [x, y] of stroke) fillEllipse(picture, x - radius, y - radius, x + radius, y + radius, 255);
  }
  return picture;
}
