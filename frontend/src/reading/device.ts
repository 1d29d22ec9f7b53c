// Reading on the device: the model card and graph from the server (cached by the service
// worker), onnxruntime-web's WebAssembly backend served by the app itself, no CDN.
import * as ort from "onnxruntime-web/wasm";
import { readDrawing, type DeviceReading, type ModelCard, type StrokeDrawing } from "./road";

export interface DeviceReader {
  card: ModelCard;
  read(drawing: StrokeDrawing): Promise<DeviceReading>;
}

/** The model's reader on this device, or the reason the server must read instead. */
export async function loadDeviceReader(model: string): Promise<DeviceReader> {
  if (typeof WebAssembly !== "object") throw new Error("this browser has no WebAssembly");
  const response = await fetch(`/api/models/${encodeURIComponent(model)}/device`);
  if (!response.ok) throw new Error(`the server has no browser graph of ${model} (${response.status})`);
  const card = (await response.json()) as ModelCard;
  ort.env.wasm.wasmPaths = "/static/dist/ort/";
  // One thread: threads need cross-origin isolation, and one drawing is a small graph.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  const graph = await fetch(card.graph);
  if (!graph.ok) throw new Error(`the graph of ${model} did not arrive (${graph.status})`);
  const session = await ort.InferenceSession.create(new Uint8Array(await graph.arrayBuffer()), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  const size = card.preprocessing.size;
  const run = async (input: Float32Array) => {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 1, size, size]) });
    return out[session.outputNames[0]].data as Float32Array;
  };
  // One run now: the first reading would otherwise pay for the graph's first-run set-up.
  await run(new Float32Array(size * size));
  return { card, read: (drawing) => readDrawing(drawing, card, run) };
}
