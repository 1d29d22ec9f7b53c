// Builds the page into the Python package's static folder (src/digitrec/web/static/dist/), so that
// the wheel ships it and `pip install digitrec` users need no Node: the page bundle, the service
// worker, onnxruntime-web's runtime, each also as .br and .gz (the app serves those compressed).
// Also the browser-side road for Node (dist-node/parity.mjs), which tests/test_device_parity.py runs.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "src", "digitrec", "web", "static", "dist");
const ort = join(here, "node_modules", "onnxruntime-web", "dist");
// The plain SIMD build: the smallest that runs everywhere WebAssembly SIMD does (no JSEP/WebGPU).
const RUNTIME = ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"];

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "ort"), { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src", "main.ts")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
for (const file of RUNTIME) copyFileSync(join(ort, file), join(out, "ort", file));

const files = (dir) =>
  readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));
const staticDir = dirname(out);
const assets = [join(staticDir, "app.css"), ...files(out)].map((f) => "/static/" + relative(staticDir, f));
const hash = createHash("sha256");
for (const asset of assets) hash.update(readFileSync(join(staticDir, asset.slice("/static/".length))));
const build = hash.digest("hex").slice(0, 16);
await esbuild.build({
  entryPoints: [join(here, "src", "sw.ts")],
  bundle: true,
  format: "iife",
  target: "es2022",
  minify: true,
  define: { BUILD: JSON.stringify(build), ASSETS: JSON.stringify(assets) },
  outfile: join(out, "sw.js"),
  logLevel: "warning",
});
await esbuild.build({
  entryPoints: [join(here, "tools", "parity.ts")],
  bundle: true,
  platform: "node",
  format: "esm",
  external: ["onnxruntime-web"],
  outfile: join(here, "dist-node", "parity.mjs"),
  logLevel: "warning",
});

for (const file of files(out)) {
  if (file.endsWith(".br") || file.endsWith(".gz")) continue;
  const data = readFileSync(file);
  writeFileSync(file + ".gz", gzipSync(data, { level: 9 }));
  writeFileSync(
    file + ".br",
    brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 9, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
  );
}
const size = (f) => statSync(f).size;
for (const file of files(out).filter((f) => !f.endsWith(".gz") && !f.endsWith(".br"))) {
  console.log(`${relative(out, file)}: ${size(file)} bytes, ${size(file + ".gz")} gzip, ${size(file + ".br")} brotli`);
}
console.log(`build ${build}`);
