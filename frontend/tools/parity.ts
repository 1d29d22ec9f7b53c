// The browser-side road in Node, for tests/test_device_parity.py: reads a JSON file of
// {card, graph_path, drawings}, prints one JSON line per drawing (its 28x28 input, the graph's raw
// output and the verdict), or {refused: why} where the device would hand the drawing to the server.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import * as ort from "onnxruntime-web";
import { readDrawing, type ModelCard, type StrokeDrawing } from "../src/reading/road";
import { DeviceRefusal } from "../src/reading/render";

interface Job {
  card: ModelCard;
  graph_path: string;
  drawings: StrokeDrawing[];
}

async function main(): Promise<void> {
  const job = JSON.parse(readFileSync(process.argv[2], "utf8")) as Job;
  const require = createRequire(import.meta.url);
  ort.env.wasm.wasmPaths = dirname(require.resolve("onnxruntime-web")) + "/";
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(readFileSync(job.graph_path), { executionProviders: ["wasm"] });
  const size = job.card.preprocessing.size;
  const run = async (input: Float32Array) => {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 1, size, size]) };
    const out = await session.run(feeds);
    return out[session.outputNames[0]].data as Float32Array;
  };
  const lines: string[] = [];
  for (const drawing of job.drawings) {
    try {
      const r = await readDrawing(drawing, job.card, run);
      lines.push(
        JSON.stringify({
          input: Array.from(r.input),
          raw: Array.from(r.raw),
          probabilities: r.probabilities,
          digit: r.digit,
          uncertain: r.uncertain,
          not_a_digit: r.not_a_digit,
        }),
      );
    } catch (error) {
      if (!(error instanceof DeviceRefusal)) throw error;
      lines.push(JSON.stringify({ refused: error.message }));
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
