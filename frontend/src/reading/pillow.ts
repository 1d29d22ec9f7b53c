// The few Pillow operations the server's road takes, ported line by line from Pillow's C
// (libImaging/Draw.c, Resample.c) so that the device draws and shrinks a drawing to the same
// pixels: a stroke one pixel wider, or a resize rounded differently, moves the 28x28 input by more
// than the 2/255 the parity test allows. Integer casts, float32 steps and Python's rounding are
// kept where Pillow and numpy have them.

const f32 = Math.fround;

/** Python's round(): halves to even (round(2.5) == 2), which Math.round is not. */
export function pyRound(value: number): number {
  const floor = Math.floor(value);
  const diff = value - floor;
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** An 8-bit grey picture, row-major: Pillow's mode "L". */
export interface Grey {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A float picture, row-major: Pillow's mode "F" (float32 values). */
export interface Floats {
  width: number;
  height: number;
  data: Float32Array;
}

// ------------------------------------------------------------------ drawing (Draw.c)

function hline8(im: Grey, x0: number, y0: number, x1: number, ink: number): void {
  if (y0 < 0 || y0 >= im.height) return;
  if (x0 < 0) x0 = 0;
  else if (x0 >= im.width) return;
  if (x1 < 0) return;
  else if (x1 >= im.width) x1 = im.width - 1;
  if (x0 <= x1) im.data.fill(ink, y0 * im.width + x0, y0 * im.width + x1 + 1);
}

function point8(im: Grey, x: number, y: number, ink: number): void {
  if (x >= 0 && x < im.width && y >= 0 && y < im.height) im.data[y * im.width + x] = ink;
}

// C's ROUND_UP / ROUND_DOWN on a float (f + 0.5F is float arithmetic there).
const roundUpF = (f: number): number => (f >= 0 ? Math.floor(f32(f + 0.5)) : -Math.floor(f32(Math.abs(f) + 0.5)));
const roundDownF = (f: number): number => (f >= 0 ? Math.ceil(f32(f - 0.5)) : -Math.ceil(f32(Math.abs(f) - 0.5)));
// The same on a double (the wide line's ratios).
const roundUpD = (f: number): number => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(Math.abs(f) + 0.5));
const roundDownD = (f: number): number => (f >= 0 ? Math.ceil(f - 0.5) : -Math.ceil(Math.abs(f) - 0.5));
// C's roundf: halves away from zero.
const roundf = (f: number): number => (f >= 0 ? Math.floor(f + 0.5) : -Math.floor(-f + 0.5));

interface Edge {
  x0: number;
  y0: number;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  dx: number; // float32
}

function edge(x0: number, y0: number, x1: number, y1: number): Edge {
  const dx = y0 === y1 ? 0 : f32(f32(x1 - x0) / (y1 - y0));
  return { x0, y0, xmin: Math.min(x0, x1), xmax: Math.max(x0, x1), ymin: Math.min(y0, y1), ymax: Math.max(y0, y1), dx };
}

const edgeX = (e: Edge, y: number): number => f32(f32(f32(y - e.y0) * e.dx) + e.x0);

/** polygon_generic without alpha: a scan-line fill of integer-vertex edges. */
function fillPolygon(im: Grey, edges: Edge[], ink: number): void {
  let ymin = im.height - 1;
  let ymax = 0;
  const table: Edge[] = [];
  for (const e of edges) {
    if (ymin > e.ymin) ymin = e.ymin;
    if (ymax < e.ymax) ymax = e.ymax;
    if (e.ymin === e.ymax) {
      hline8(im, e.xmin, e.ymin, e.xmax, ink);
      continue;
    }
    table.push(e);
  }
  if (ymin < 0) ymin = 0;
  if (ymax > im.height) ymax = im.height;
  const xx: number[] = [];
  for (; ymin <= ymax; ymin++) {
    xx.length = 0;
    for (let i = 0; i < table.length; i++) {
      const current = table[i];
      if (ymin < current.ymin || ymin > current.ymax) continue;
      xx.push(edgeX(current, ymin));
      if (ymin === current.ymax && ymin < ymax) {
        xx.push(xx[xx.length - 1]); // Pillow: "needed to draw consistent polygons"
      } else if ((ymin === current.ymin || ymin === current.ymax) && current.dx !== 0) {
        // Pillow: "connect discontiguous corners"
        for (let k = 0; k < i; k++) {
          const other = table[k];
          if ((ymin !== other.ymin && ymin !== other.ymax) || other.dx === 0) continue;
          const last = xx[xx.length - 1];
          if (roundf(last) === roundf(edgeX(other, ymin))) {
            const offset = ymin === current.ymax ? -1 : 1;
            const adjacent = edgeX(current, ymin + offset);
            if (ymin + offset >= other.ymin && ymin + offset <= other.ymax) {
              const adjacentOther = edgeX(other, ymin + offset);
              if (last > adjacent + 1 && last > adjacentOther + 1) {
                xx[xx.length - 1] = roundf(Math.max(adjacent, adjacentOther)) + 1;
              } else if (last < adjacent - 1 && last < adjacentOther - 1) {
                xx[xx.length - 1] = roundf(Math.min(adjacent, adjacentOther)) - 1;
              }
              break;
            }
          }
        }
      }
    }
    xx.sort((a, b) => a - b);
    for (let i = 1; i < xx.length; i += 2) hline8(im, roundUpF(xx[i - 1]), ymin, roundDownF(xx[i]), ink);
  }
}

/** ImagingDrawWideLine: one segment of a line wider than 1 px, as a four-sided polygon. */
export function wideLine(im: Grey, x0: number, y0: number, x1: number, y1: number, ink: number, width: number): void {
  const dx = x1 - x0;
  const dy = y1 - y0;
  if (dx === 0 && dy === 0) {
    point8(im, x0, y0, ink);
    return;
  }
  const big = Math.hypot(dx, dy);
  const small = (width - 1) / 2.0;
  const ratioMax = roundUpD(small) / big;
  const ratioMin = roundDownD(small) / big;
  const dxmin = roundDownD(ratioMin * dy);
  const dxmax = roundDownD(ratioMax * dy);
  const dymin = roundDownD(ratioMin * dx);
  const dymax = roundDownD(ratioMax * dx);
  const v = [
    [x0 - dxmin, y0 + dymax],
    [x1 - dxmin, y1 + dymax],
    [x1 + dxmax, y1 - dymin],
    [x0 + dxmax, y0 - dymin],
  ];
  fillPolygon(
    im,
    [0, 1, 2, 3].map((i) => edge(v[i][0], v[i][1], v[(i + 1) % 4][0], v[(i + 1) % 4][1])),
    ink,
  );
}

/** line8: Bresenham, the last pixel left out (Pillow draws it apart). */
function thinLine(im: Grey, x0: number, y0: number, x1: number, y1: number, ink: number): void {
  let dx = x1 - x0;
  let dy = y1 - y0;
  let xs = 1;
  let ys = 1;
  if (dx < 0) [dx, xs] = [-dx, -1];
  if (dy < 0) [dy, ys] = [-dy, -1];
  if (dx === 0) {
    for (let i = 0; i < dy; i++, y0 += ys) point8(im, x0, y0, ink);
  } else if (dy === 0) {
    for (let i = 0; i < dx; i++, x0 += xs) point8(im, x0, y0, ink);
  } else if (dx > dy) {
    const n = dx;
    dy += dy;
    let e = dy - dx;
    dx += dx;
    for (let i = 0; i < n; i++) {
      point8(im, x0, y0, ink);
      if (e >= 0) {
        y0 += ys;
        e -= dx;
      }
      e += dy;
      x0 += xs;
    }
  } else {
    const n = dy;
    dx += dx;
    let e = dx - dy;
    dy += dy;
    for (let i = 0; i < n; i++) {
      point8(im, x0, y0, ink);
      if (e >= 0) {
        x0 += xs;
        e -= dy;
      }
      e += dx;
      y0 += ys;
    }
  }
}

/** ImageDraw.line(points, fill=ink, width=width): C casts each coordinate to int (towards zero). */
export function drawLines(im: Grey, points: number[][], ink: number, width: number): void {
  const p = points.map(([x, y]) => [Math.trunc(x), Math.trunc(y)]);
  for (let i = 0; i + 1 < p.length; i++) {
    if (width <= 1) thinLine(im, p[i][0], p[i][1], p[i + 1][0], p[i + 1][1], ink);
    else wideLine(im, p[i][0], p[i][1], p[i + 1][0], p[i + 1][1], ink, width);
  }
  if (width <= 1 && p.length > 1) point8(im, p[p.length - 1][0], p[p.length - 1][1], ink);
}

// The quarter/ellipse state machines of Draw.c's ellipseNew: a filled ellipse as hlines.
interface Quarter {
  cx: number;
  cy: number;
  ex: number;
  ey: number;
  a2: number;
  b2: number;
  a2b2: number;
  finished: boolean;
}

function quarterInit(a: number, b: number): Quarter {
  if (a < 0 || b < 0) return { cx: 0, cy: 0, ex: 0, ey: 0, a2: 0, b2: 0, a2b2: 0, finished: true };
  return { cx: a, cy: b % 2, ex: a % 2, ey: b, a2: a * a, b2: b * b, a2b2: a * a * b * b, finished: false };
}

const quarterDelta = (s: Quarter, x: number, y: number): number => Math.abs(s.a2 * y * y + s.b2 * x * x - s.a2b2);

function quarterNext(s: Quarter): [number, number] | null {
  if (s.finished) return null;
  const out: [number, number] = [s.cx, s.cy];
  if (s.cx === s.ex && s.cy === s.ey) {
    s.finished = true;
  } else {
    let nx = s.cx;
    let ny = s.cy + 2;
    let ndelta = quarterDelta(s, nx, ny);
    if (nx > 1) {
      let newdelta = quarterDelta(s, s.cx - 2, s.cy + 2);
      if (ndelta > newdelta) {
        nx = s.cx - 2;
        ny = s.cy + 2;
        ndelta = newdelta;
      }
      newdelta = quarterDelta(s, s.cx - 2, s.cy);
      if (ndelta > newdelta) {
        nx = s.cx - 2;
        ny = s.cy;
      }
    }
    s.cx = nx;
    s.cy = ny;
  }
  return out;
}

/** ImageDraw.ellipse((x0, y0, x1, y1), fill=ink): the box's corners cast to int as in C. */
export function fillEllipse(im: Grey, bx0: number, by0: number, bx1: number, by1: number, ink: number): void {
  const x0 = Math.trunc(bx0);
  const y0 = Math.trunc(by0);
  const a = Math.trunc(bx1) - x0;
  const b = Math.trunc(by1) - y0;
  if (a < 0 || b < 0) return;
  const w = a + b; // filled: the ring as thick as the whole ellipse
  const outer = quarterInit(a, b);
  const leftmost = a % 2;
  const first = quarterNext(outer);
  if (w < 1 || first === null) return;
  let [pr, py] = first;
  let finished = false;
  const inner = quarterInit(a - 2 * (w - 1), b - 2 * (w - 1));
  let pl = leftmost;
  const paint = (l: number, y: number, r: number) =>
    hline8(im, x0 + Math.trunc((l + a) / 2), y0 + Math.trunc((y + b) / 2), x0 + Math.trunc((r + a) / 2), ink);
  while (!finished) {
    const y = py;
    let l = pl;
    const r = pr;
    let next: [number, number] | null;
    while ((next = quarterNext(outer)) !== null && next[1] <= y) {
      /* skip the points on this row */
    }
    if (next === null) finished = true;
    else [pr, py] = next;
    let innerNext: [number, number] | null;
    while ((innerNext = quarterNext(inner)) !== null && innerNext[1] <= y) l = innerNext[0];
    pl = innerNext === null ? leftmost : innerNext[0];
    // Pillow buffers up to four spans and hands them out last first; the order does not matter
    // for a fill of one ink.
    if ((l > 0 || l < r) && y > 0) paint(l === 0 ? 2 : l, y, r);
    if (y > 0) paint(-r, y, -l);
    if (l > 0 || l < r) paint(l === 0 ? 2 : l, -y, r);
    paint(-r, -y, -l);
  }
}

// ------------------------------------------------------------------ resampling (Resample.c)

type Filter = { fn: (x: number) => number; support: number };
export const BOX: Filter = { fn: (x) => (x > -0.5 && x <= 0.5 ? 1.0 : 0.0), support: 0.5 };
export const BILINEAR: Filter = {
  fn: (x) => {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
  },
  support: 1.0,
};

interface Coefficients {
  ksize: number;
  bounds: Int32Array; // xmin, count per output pixel
  kk: Float64Array;
}

function precomputeCoeffs(inSize: number, outSize: number, filter: Filter): Coefficients {
  // box = (0, 0, w, h) as C floats; in1 - in0 is the input size.
  let filterscale = inSize / outSize;
  const scale = filterscale;
  if (filterscale < 1.0) filterscale = 1.0;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const kk = new Float64Array(outSize * ksize);
  const bounds = new Int32Array(outSize * 2);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let ww = 0.0;
    const ss = 1.0 / filterscale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    const k = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      kk[k + x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) if (ww !== 0.0) kk[k + x] /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

const PRECISION_BITS = 32 - 8 - 2;

function fixedPoint(c: Coefficients): Int32Array {
  const out = new Int32Array(c.kk.length);
  for (let i = 0; i < c.kk.length; i++) {
    const v = c.kk[i] * (1 << PRECISION_BITS);
    out[i] = c.kk[i] < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  return out;
}

const clip8 = (ss: number): number => {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
};

/** Image.resize((width, height), filter) of an "L" picture: two 8-bit passes, fixed point. */
export function resizeGrey(im: Grey, width: number, height: number, filter: Filter): Grey {
  if (width === im.width && height === im.height) return { width, height, data: im.data.slice() };
  const vert = precomputeCoeffs(im.height, height, filter);
  const first = vert.bounds[0];
  const last = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];
  let src = im;
  let offset = 0;
  if (width !== im.width) {
    const horiz = precomputeCoeffs(im.width, width, filter);
    const k = fixedPoint(horiz);
    const rows = last - first;
    const temp = new Uint8Array(width * rows);
    for (let yy = 0; yy < rows; yy++) {
      const row = (yy + first) * im.width;
      for (let xx = 0; xx < width; xx++) {
        const xmin = horiz.bounds[xx * 2];
        const xmax = horiz.bounds[xx * 2 + 1];
        let ss = 1 << (PRECISION_BITS - 1);
        for (let x = 0; x < xmax; x++) ss += im.data[row + x + xmin] * k[xx * horiz.ksize + x];
        temp[yy * width + xx] = clip8(ss);
      }
    }
    src = { width, height: rows, data: temp };
    offset = first;
  }
  if (height === im.height) return src;
  const k = fixedPoint(vert);
  const out = new Uint8Array(width * height);
  for (let yy = 0; yy < height; yy++) {
    const ymin = vert.bounds[yy * 2] - offset;
    const ymax = vert.bounds[yy * 2 + 1];
    for (let xx = 0; xx < width; xx++) {
      let ss = 1 << (PRECISION_BITS - 1);
      for (let y = 0; y < ymax; y++) ss += src.data[(y + ymin) * width + xx] * k[yy * vert.ksize + y];
      out[yy * width + xx] = clip8(ss);
    }
  }
  return { width, height, data: out };
}

/** Image.resize of an "F" picture: two passes summed in double, each stored as float32. */
export function resizeFloat(im: Floats, width: number, height: number, filter: Filter): Floats {
  if (width === im.width && height === im.height) return { width, height, data: im.data.slice() };
  const vert = precomputeCoeffs(im.height, height, filter);
  const first = vert.bounds[0];
  const last = vert.bounds[height * 2 - 2] + vert.bounds[height * 2 - 1];
  let src = im;
  let offset = 0;
  if (width !== im.width) {
    const horiz = precomputeCoeffs(im.width, width, filter);
    const rows = last - first;
    const temp = new Float32Array(width * rows);
    for (let yy = 0; yy < rows; yy++) {
      const row = (yy + first) * im.width;
      for (let xx = 0; xx < width; xx++) {
        const xmin = horiz.bounds[xx * 2];
        const xmax = horiz.bounds[xx * 2 + 1];
        let ss = 0.0;
        for (let x = 0; x < xmax; x++) ss += im.data[row + x + xmin] * horiz.kk[xx * horiz.ksize + x];
        temp[yy * width + xx] = ss;
      }
    }
    src = { width, height: rows, data: temp };
    offset = first;
  }
  if (height === im.height) return src;
  const out = new Float32Array(width * height);
  for (let yy = 0; yy < height; yy++) {
    const ymin = vert.bounds[yy * 2] - offset;
    const ymax = vert.bounds[yy * 2 + 1];
    for (let xx = 0; xx < width; xx++) {
      let ss = 0.0;
      for (let y = 0; y < ymax; y++) ss += src.data[(y + ymin) * width + xx] * vert.kk[yy * vert.ksize + y];
      out[yy * width + xx] = ss;
    }
  }
  return { width, height, data: out };
}
