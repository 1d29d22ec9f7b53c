// The server's preprocessing (preprocess.py) for a drawing the device rendered: ink map, specks
// left out, reduce to the work size, stroke width brought into MNIST's range, fit 20x20, centre
// of mass at (14, 14). Every constant comes from the model card (digitrec.device), which reads
// them from preprocess.py itself.
import { BILINEAR, BOX, pyRound, resizeFloat, resizeGrey, type Floats, type Grey } from "./pillow";
import { DeviceRefusal } from "./render";

export interface PreprocessConstants {
  size: number;
  box: number;
  center: number;
  stroke_target: number;
  stroke_min: number;
  stroke_max: number;
  work_side: number;
  noise_floor: number;
  noise_sigmas: number;
  noise_sample: number;
  speck_share: number;
  speck_side: number;
  speck_min_area: number;
  max_filter: number;
}

const f32 = Math.fround;

// ------------------------------------------------------------------ ink map

function counts(levels: ArrayLike<number>): Float64Array {
  const cumulative = new Float64Array(256);
  for (let i = 0; i < levels.length; i++) cumulative[levels[i]]++;
  for (let i = 1; i < 256; i++) cumulative[i] += cumulative[i - 1];
  return cumulative;
}

// np.searchsorted(counts, value, side="right"): the first level whose count exceeds value.
function searchRight(cumulative: Float64Array, value: number): number {
  let level = 0;
  while (level < 256 && cumulative[level] <= value) level++;
  return level;
}

export function medianLevel(levels: ArrayLike<number>): number {
  const c = counts(levels);
  const low = searchRight(c, Math.floor((levels.length - 1) / 2));
  const high = searchRight(c, Math.floor(levels.length / 2));
  return Math.trunc((low + high) / 2);
}

function levelAt(levels: ArrayLike<number>, share: number): number {
  return searchRight(counts(levels), share * (levels.length - 1));
}

function border(im: Grey): Uint8Array {
  const { width: w, height: h, data } = im;
  const out = new Uint8Array(2 * w + 2 * h);
  out.set(data.subarray(0, w), 0);
  out.set(data.subarray((h - 1) * w, h * w), w);
  for (let y = 0; y < h; y++) {
    out[2 * w + y] = data[y * w];
    out[2 * w + h + y] = data[y * w + w - 1];
  }
  return out;
}

function noiseLevel(im: Grey, c: PreprocessConstants): number {
  if (Math.min(im.width, im.height) < 32) return 0.0;
  const step = Math.max(1, Math.trunc(Math.sqrt((im.width * im.height) / c.noise_sample)));
  const sample: number[] = [];
  for (let y = 0; y < im.height; y += step) for (let x = 0; x < im.width; x += step) sample.push(im.data[y * im.width + x]);
  // Light ink on a dark canvas: the grain is on the dark side, the 5th and 15th percentiles.
  return (levelAt(sample, 0.15) - levelAt(sample, 0.05)) / 0.609;
}

export function inkTable(background: number, fullInk: number, floorPermille: number): Uint8Array {
  const span = fullInk - background || 1;
  const table = new Uint8Array(256);
  for (let level = 0; level < 256; level++) {
    const ink = Math.min(Math.max((level - background) / span, 0.0), 1.0);
    table[level] = ink < floorPermille / 1000 ? 0 : pyRound(ink * 255);
  }
  return table;
}

/** preprocess.ink_image for a grey canvas of light strokes; paper (a light background) is the
 * server's: its shadow and printed-line removal are not ported. */
export function inkImage(im: Grey, c: PreprocessConstants): Grey {
  const edge = border(im);
  const background = medianLevel(edge);
  let lo = 255;
  let hi = 0;
  for (const v of edge) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const clean = lo === hi;
  if (background >= 128) throw new DeviceRefusal("a light background: read on the server");
  // Indexed loops over the typed arrays: a canvas is up to a million pixels, and this runs on
  // every live reading (an iterator loop took twice as long in V8).
  const pixels = im.data;
  const size = pixels.length;
  let brightest = 0;
  for (let i = 0; i < size; i++) if (pixels[i] > brightest) brightest = pixels[i];
  const noise = clean ? 0.0 : noiseLevel(im, c);
  const floor = Math.max(c.noise_floor, (c.noise_sigmas * noise) / Math.max(Math.abs(brightest - background), 1));
  const table = inkTable(background, brightest, pyRound(floor * 1000));
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = table[pixels[i]];
  return { width: im.width, height: im.height, data: out };
}

// ------------------------------------------------------------------ boxes and marks

type Box = [number, number, number, number]; // x0, y0, x1, y1, half-open

function bbox(im: { width: number; height: number; data: ArrayLike<number> }): Box | null {
  const { width, height, data } = im;
  let [x0, y0, x1, y1] = [width, height, -1, -1];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    // Each row from its left end to its first ink, then from its right end down to the columns
    // already inside the box: most of a canvas is never looked at twice.
    let left = 0;
    while (left < width && !(data[row + left] > 0)) left++;
    if (left === width) continue;
    if (y0 === height) y0 = y;
    y1 = y;
    if (left < x0) x0 = left;
    let right = width - 1;
    while (right > x1 && !(data[row + right] > 0)) right--;
    if (right > x1) x1 = right;
  }
  return x1 < 0 ? null : [x0, y0, x1 + 1, y1 + 1];
}

function cropGrey(im: Grey, [x0, y0, x1, y1]: Box): Grey {
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) data.set(im.data.subarray((y0 + y) * im.width + x0, (y0 + y) * im.width + x1), y * width);
  return { width, height, data };
}

function cropFloats(im: Floats, [x0, y0, x1, y1]: Box): Floats {
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) data.set(im.data.subarray((y0 + y) * im.width + x0, (y0 + y) * im.width + x1), y * width);
  return { width, height, data };
}

/** 8-connected marks of a mask: each one's area and box (scipy.ndimage.label + find_objects). */
export function marks(mask: Uint8Array, width: number, height: number): { area: number; box: Box }[] {
  const labels = new Int32Array(width * height).fill(-1);
  const found: { area: number; box: Box }[] = [];
  const stack: number[] = [];
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start] >= 0) continue;
    const id = found.length;
    const mark = { area: 0, box: [width, height, 0, 0] as Box };
    labels[start] = id;
    stack.push(start);
    while (stack.length) {
      const i = stack.pop() as number;
      const x = i % width;
      const y = (i - x) / width;
      mark.area++;
      mark.box = [Math.min(mark.box[0], x), Math.min(mark.box[1], y), Math.max(mark.box[2], x + 1), Math.max(mark.box[3], y + 1)];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (mask[j] && labels[j] < 0) {
            labels[j] = id;
            stack.push(j);
          }
        }
      }
    }
    found.push(mark);
  }
  return found;
}

const union = (boxes: Box[]): Box => [
  Math.min(...boxes.map((b) => b[0])),
  Math.min(...boxes.map((b) => b[1])),
  Math.max(...boxes.map((b) => b[2])),
  Math.max(...boxes.map((b) => b[3])),
];

/** preprocess.without_specks: the box of the digit's ink, specks away from it left out. */
export function withoutSpecks(ink: Grey, box: Box, c: PreprocessConstants): Box {
  const crop = cropGrey(ink, box);
  const factor = Math.ceil(Math.max(crop.width, crop.height) / c.speck_side);
  // Image.reduce(factor) of the black-and-white ink: a block is inked when any pixel in it is.
  const w = Math.ceil(crop.width / factor);
  const h = Math.ceil(crop.height / factor);
  const small = new Uint8Array(w * h);
  for (let y = 0; y < crop.height; y++) {
    for (let x = 0; x < crop.width; x++) {
      if (crop.data[y * crop.width + x]) small[Math.floor(y / factor) * w + Math.floor(x / factor)] = 1;
    }
  }
  const cols = new Uint8Array(w);
  const rows = new Uint8Array(h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (small[y * w + x]) cols[x] = rows[y] = 1;
    }
  }
  if (cols.every(Boolean) && rows.every(Boolean)) return box;
  const found = marks(small, w, h);
  if (found.length < 2) return box;
  const largest = Math.max(...found.map((m) => m.area));
  const least = Math.max(c.speck_share * largest, c.speck_min_area);
  const kept = found.filter((m) => m.area >= least);
  const big = (kept.length ? kept : found).map((m) => m.box);
  const [ux0, uy0, ux1, uy1] = union(big);
  const near = found.map((m) => m.box).filter((b) => b[0] < ux1 && b[2] > ux0 && b[1] < uy1 && b[3] > uy0);
  if (near.length === found.length) return box;
  const [x0, y0, x1, y1] = union(near);
  const [left, top, right, bottom] = box;
  return [left + x0 * factor, top + y0 * factor, Math.min(right, left + x1 * factor), Math.min(bottom, top + y1 * factor)];
}

// ------------------------------------------------------------------ one digit's ink -> 28x28

/** reduce_to_work: crop to the ink, BOX-shrink to at most work_side, peak scaled to 1. */
export function reduceToWork(ink: Grey, c: PreprocessConstants): Floats {
  const box = bbox(ink);
  if (box === null) throw new DeviceRefusal("nothing drawn");
  let picture = cropGrey(ink, box);
  const side = Math.max(picture.width, picture.height);
  if (side > c.work_side) {
    const factor = c.work_side / side;
    picture = resizeGrey(
      picture,
      Math.max(1, pyRound(picture.width * factor)),
      Math.max(1, pyRound(picture.height * factor)),
      BOX,
    );
  }
  let peak = 0;
  for (const v of picture.data) if (v > peak) peak = v;
  if (peak === 0) throw new DeviceRefusal("nothing drawn");
  const data = new Float32Array(picture.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f32(picture.data[i] / peak);
  return { width: picture.width, height: picture.height, data };
}

function cropToInk(ink: Floats): Floats {
  const box = bbox(ink);
  if (box === null) throw new DeviceRefusal("nothing drawn");
  return cropFloats(ink, box);
}

/** Mean stroke width in pixels: 2 * area / boundary of the ink over 0.5. */
export function strokeWidth(ink: Floats): number {
  const { width: w, height: h, data } = ink;
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && data[y * w + x] > 0.5;
  let area = 0;
  let inner = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!on(x, y)) continue;
      area++;
      if (on(x - 1, y) && on(x + 1, y) && on(x, y - 1) && on(x, y + 1)) inner++;
    }
  }
  if (area === 0) return 0.0;
  return (2.0 * area) / Math.max(area - inner, 1);
}

// A square max (or min) filter of `size`, edges replicated (scipy's mode="nearest"), separable.
function rankFilter(ink: Floats, size: number, pick: (a: number, b: number) => number): Floats {
  const { width: w, height: h } = ink;
  const half = Math.floor(size / 2);
  const clamp = (v: number, n: number) => (v < 0 ? 0 : v >= n ? n - 1 : v);
  const across = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = ink.data[y * w + clamp(x - half, w)];
      for (let k = -half + 1; k <= half; k++) v = pick(v, ink.data[y * w + clamp(x + k, w)]);
      across[y * w + x] = v;
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = across[clamp(y - half, h) * w + x];
      for (let k = -half + 1; k <= half; k++) v = pick(v, across[clamp(y + k, h) * w + x]);
      out[y * w + x] = v;
    }
  }
  return { width: w, height: h, data: out };
}

/** normalize_stroke: the stroke width brought into MNIST's range inside the 20-px box. */
export function normalizeStroke(ink: Floats, c: PreprocessConstants): Floats {
  const side = Math.max(ink.width, ink.height);
  const width = strokeWidth(ink) * (c.box / side);
  if ((c.stroke_min <= width && width <= c.stroke_max) || width === 0) return ink;
  // reduce_to_work has already brought the ink to at most work_side.
  if (side > c.work_side) throw new DeviceRefusal("ink larger than the work size");
  const workScale = c.box / side;
  const grow = (c.stroke_target - width) / workScale;
  const size = Math.min(2 * Math.trunc(pyRound(Math.abs(grow) / 2)) + 1, c.max_filter);
  if (size < 3) return ink;
  if (grow > 0) {
    const pad = Math.floor(size / 2);
    const padded: Floats = {
      width: ink.width + 2 * pad,
      height: ink.height + 2 * pad,
      data: new Float32Array((ink.width + 2 * pad) * (ink.height + 2 * pad)),
    };
    for (let y = 0; y < ink.height; y++) {
      padded.data.set(ink.data.subarray(y * ink.width, (y + 1) * ink.width), (y + pad) * padded.width + pad);
    }
    return rankFilter(padded, size, Math.max);
  }
  const thinned = rankFilter(ink, size, Math.min);
  const count = (im: Floats) => im.data.reduce((n, v) => n + (v > 0.5 ? 1 : 0), 0);
  return count(thinned) >= 0.25 * count(ink) ? thinned : ink;
}

/** fit_box: longer side to box pixels, keeping the aspect ratio (bilinear, anti-aliased). */
export function fitBox(ink: Floats, c: PreprocessConstants): Floats {
  const scale = Math.min(c.box / ink.height, c.box / ink.width);
  const resized = resizeFloat(
    ink,
    Math.max(1, pyRound(ink.width * scale)),
    Math.max(1, pyRound(ink.height * scale)),
    BILINEAR,
  );
  let peak = -Infinity;
  for (const v of resized.data) if (v > peak) peak = v;
  if (peak > 0) {
    for (let i = 0; i < resized.data.length; i++) resized.data[i] = Math.min(Math.max(f32(resized.data[i] / peak), 0), 1);
  }
  return resized;
}

/** center_by_mass: paste into size x size with the centre of mass on (center, center). */
export function centerByMass(digit: Floats, c: PreprocessConstants): Float32Array {
  const { width: w, height: h, data } = digit;
  let total = 0;
  let my = 0;
  let mx = 0;
  const colSums = new Float64Array(w);
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += data[y * w + x];
      colSums[x] += data[y * w + x];
    }
    total += row;
    my += row * y;
  }
  for (let x = 0; x < w; x++) mx += colSums[x] * x;
  const cy = my / total;
  const cx = mx / total;
  const top = Math.min(Math.max(pyRound(c.center - cy), 0), c.size - h);
  const left = Math.min(Math.max(pyRound(c.center - cx), 0), c.size - w);
  const canvas = new Float32Array(c.size * c.size);
  for (let y = 0; y < h; y++) canvas.set(data.subarray(y * w, (y + 1) * w), (top + y) * c.size + left);
  return canvas;
}

/** preprocess(picture) for a rendered drawing: float32 size*size, ink 1 on background 0. */
export function preprocess(picture: Grey, c: PreprocessConstants): Float32Array {
  const ink = inkImage(picture, c);
  const box = bbox(ink);
  if (box === null) throw new DeviceRefusal("nothing drawn");
  const digit = cropGrey(ink, withoutSpecks(ink, box, c));
  const work = cropToInk(reduceToWork(digit, c));
  const normalized = normalizeStroke(work, c);
  return centerByMass(fitBox(normalized === work ? work : cropToInk(normalized), c), c);
}
