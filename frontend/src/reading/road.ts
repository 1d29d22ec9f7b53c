// The device's whole road for one drawing: strokes -> picture -> 28x28 -> graph -> verdict.
// The graph runs through `run`, so the page (onnxruntime-web in the browser) and the parity
// test (the same runtime in Node) share everything else.
import { verdict, type Calibration, type Verdict } from "./calibration";
import { preprocess, type PreprocessConstants } from "./preprocess";
import { renderStrokes, type Point, type RenderBudget } from "./render";

/** The model card the server hands out (digitrec/device.py). */
export interface ModelCard {
  format_version: number;
  model: string;
  version: string;
  graph: string;
  graph_bytes: number;
  calibration: Calibration;
  preprocessing: PreprocessConstants;
  render: RenderBudget;
}

export interface StrokeDrawing {
  strokes: Point[][];
  width: number;
  height: number;
  line_width: number | null;
}

export type RunGraph = (input: Float32Array) => Promise<Float32Array>;

/** The model's 28x28 input for a drawing, as the server makes it. */
export function modelInput(drawing: StrokeDrawing, card: ModelCard): Float32Array {
  const picture = renderStrokes(drawing.strokes, drawing.width, drawing.height, drawing.line_width, card.render);
  return preprocess(picture, card.preprocessing);
}

export interface DeviceReading extends Verdict {
  input: Float32Array;
  raw: Float32Array;
}

export async function readDrawing(drawing: StrokeDrawing, card: ModelCard, run: RunGraph): Promise<DeviceReading> {
  const input = modelInput(drawing, card);
  const raw = await run(input);
  return { ...verdict(raw, card.calibration), input, raw };
}
