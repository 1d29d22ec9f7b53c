// Where a device reading's time goes, in Node: drawing + preprocessing, and the graph.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as ort from "onnxruntime-web";
import { modelInput, type ModelCard, type StrokeDrawing } from "../src/reading/road";
import { renderStrokes } from "../src/reading/render";

const job = JSON.parse(readFileSync(process.argv[2], "utf8")) as { card: ModelCard; graph_path: string; drawings: StrokeDrawing[] };
const require = createRequire(import.meta.url);
ort.env.wasm.wasmPaths = dirname(require.resolve("onnxruntime-web")) + "/";
ort.env.wasm.numThreads = Number(process.env.THREADS ?? 1);
const session = await ort.InferenceSession.create(readFileSync(job.graph_path), { executionProviders: ["wasm"] });
const drawings = job.drawings.slice(0, 300);
const time = (f: () => void) => { const t = performance.now(); f(); return performance.now() - t; };
for (const d of drawings.slice(0, 20)) modelInput(d, job.card);
const render = drawings.map((d) => time(() => renderStrokes(d.strokes, d.width, d.height, d.line_width, job.card.render)));
const whole = drawings.map((d) => time(() => modelInput(d, job.card)));
const input = modelInput(drawings[0], job.card);
const runs: number[] = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  await session.run({ [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 1, 28, 28]) });
  runs.push(performance.now() - t);
}
const q = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.floor(p * (a.length - 1))].toFixed(2);
console.log(`render median ${q(render, 0.5)} p95 ${q(render, 0.95)} ms; render+preprocess median ${q(whole, 0.5)} p95 ${q(whole, 0.95)} ms; graph median ${q(runs, 0.5)} p95 ${q(runs, 0.95)} ms`);
