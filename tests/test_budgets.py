"""The decoding budget bounds work, not time: over a limit, nothing is decoded or drawn; within
it, the costliest accepted input stays under 100 MB of extra memory. (Its CPU time is measured
by `python -m benchmarks worst-case`, never asserted here.) The hostile inputs built here are
the benchmark's too."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFile

from digitrec.errors import TooLargeError
from digitrec.reading.decode import BUDGET, MAX_JPEG_MARKERS, decode_image, jpeg_cost, render_strokes
from digitrec.reading.reader import Reader


def multipart_form(image: bytes, fields: dict[str, str]) -> tuple[bytes, str]:
    """A multipart form as a client sends it (httpx encodes it): `image` and text fields."""
    request = httpx.Request("POST", "http://digitrec", files={"image": ("drawing", image)}, data=fields)
    return request.read(), request.headers["content-type"]


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(side: int, channels: int = 3, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, channels), dtype=np.uint8)
    return Image.fromarray(pixels[..., 0] if channels == 1 else pixels)


def grainy_paper(side: int, seed: int = 0) -> Image.Image:
    """A digit's bar in black on paper of heavy grain (levels 200-255 at random): as costly to
    decode as noise, and still a drawing (pure noise, 0-255, is nothing drawn: no ink stands 5
    standard deviations of such grain away from the paper)."""
    pixels = np.random.default_rng(seed).integers(200, 256, (side, side, 3), dtype=np.uint8)
    pixels[side // 4 : 3 * side // 4, side // 2 - side // 16 : side // 2 + side // 16] = 0
    return Image.fromarray(pixels)


def many_scan_jpeg(side: int, scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated `scans` times: libjpeg warns and decodes
    every one of them, each a pass over the whole image (the 32-s request of the issue). A flat
    grey image makes each scan a few bytes: thousands fit in a small body."""
    data = encoded(Image.new("RGB", (side, side), (128, 128, 128)), "JPEG", progressive=True, quality=90)
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * scans + b"\xff\xd9"


def bmp_header(width: int, height: int) -> bytes:
    """Only the headers of a 1-bit BMP: what a decompression bomb declares before its pixels."""
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 1, 0, 0, 2835, 2835, 2, 0)
    palette = b"\x00\x00\x00\x00\xff\xff\xff\x00"
    return b"BM" + struct.pack("<IHHI", 14 + 40 + 8 + 64, 0, 0, 14 + 40 + 8) + info + palette + bytes(64)


def dotted_png(side: int, dots: int, seed: int = 0) -> bytes:
    """Black dots on a white RGBA canvas: cheap to send, costly to decode and segment."""
    canvas = np.full((side, side, 4), 255, dtype=np.uint8)
    for y, x in np.random.default_rng(seed).integers(0, side - 8, (dots, 2)):
        canvas[y : y + 6, x : x + 6, :3] = 0
    return encoded(Image.fromarray(canvas), "PNG")


def junk_hidden_scans(side: int, scans: int) -> bytes:
    """The audit's JPEG: thousands of copies of one scan behind a single junk byte, which libjpeg
    skips (with a warning) and our old counter stopped at."""
    data = many_scan_jpeg(side, scans)
    second = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
    return data[:second] + b"\x00" + data[second:]


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def iccp_png(chunks: int) -> bytes:
    """A palette PNG with `chunks` iCCP chunks, each inflating to 1 MB: Pillow inflates each."""
    data = encoded(Image.new("P", (8, 8)), "PNG")
    profile = chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(1024 * 1024), 9))
    return data[:33] + profile * chunks + data[33:]


def rle8_bmp(side: int) -> bytes:
    """An 8-bit BMP compressed with RLE8 in runs of one pixel: Pillow's decoder is pure Python."""
    rows = b"".join(b"\x01\x07" * side + b"\x00\x00" for _ in range(side)) + b"\x00\x01"
    info = struct.pack("<IiiHHIIiiII", 40, side, side, 1, 8, 1, len(rows), 2835, 2835, 256, 0)
    palette = bytes(4 * 256)
    offset = 14 + 40 + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(rows), 0, 0, offset) + info + palette + rows


def cmyk_photo(side: int = 4096) -> bytes:
    """An honest big progressive CMYK JPEG: libjpeg keeps all its DCT coefficients (128 MiB at
    4096x4096) even when it decodes at 1/4 scale."""
    image = Image.new("CMYK", (side, side), (0, 0, 0, 0))
    bar = (side // 2 - side // 16, side // 4, side // 2 + side // 16, 3 * side // 4)
    ImageDraw.Draw(image).rectangle(bar, fill=255)
    return encoded(image, "JPEG", progressive=True, quality=90)


@pytest.fixture()
def nothing_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any pixel decoding (Pillow's, libdeflate's, libspng's) fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("pixels were decoded before the budget refused the input")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr("deflate.zlib_decompress", refuse)
    monkeypatch.setattr("pyspng.load", refuse)


def test_scans_are_counted_from_the_markers() -> None:
    assert 1 < jpeg_cost(encoded(noise(64), "JPEG", progressive=True), 32).scans <= 12
    assert jpeg_cost(encoded(noise(64), "JPEG"), 32).scans == 1
    assert jpeg_cost(many_scan_jpeg(64, 1000), 32).scans == 33  # the count stops past the limit


def test_a_jpeg_costs_the_8x8_blocks_of_each_scan() -> None:
    """jpeg_cost adds up, scan by scan, the full-size blocks libjpeg decodes for the components
    each scan holds: a component's own blocks, or whole MCUs for several at once."""
    grey = Image.fromarray(np.tile(np.arange(256, dtype=np.uint8), (64, 1)))  # 256x64: 32x8 blocks
    assert jpeg_cost(encoded(grey, "JPEG"), 32)[:2] == (1, 256)
    colour = grey.convert("RGB")
    # 4:2:0: Y 256 blocks, Cb and Cr 64 each, in one interleaved scan.
    assert jpeg_cost(encoded(colour, "JPEG", subsampling=2), 32)[:2] == (1, 384)
    assert jpeg_cost(encoded(colour, "JPEG", subsampling=0), 32)[:2] == (1, 768)
    # 4:2:0 at 17x17: MCUs of 16x16, 2x2 of them, each Y 4 blocks + Cb + Cr, padded.
    assert jpeg_cost(encoded(colour.resize((17, 17)), "JPEG", subsampling=2), 32)[:2] == (1, 24)
    scans, blocks, _ = jpeg_cost(encoded(colour, "JPEG", subsampling=0, progressive=True), 32)
    assert scans > 1 and blocks > scans * 256  # every scan covers at least one whole component
    # The shipped budget reads a 4096x4096 progressive photo (4:2:0), refuses a progressive CMYK one.
    photo = encoded(Image.new("RGB", (4096, 4096), (200, 180, 160)), "JPEG", progressive=True, subsampling=2)
    assert jpeg_cost(photo, 32).blocks <= BUDGET.max_jpeg_block_passes < jpeg_cost(cmyk_photo(), 32).blocks


def with_frame(data: bytes, components: list[tuple[int, int]], marker: int | None = None) -> bytes:
    """The JPEG with its frame header's components (id, sampling byte) replaced, or its
    start-of-frame marker."""
    start = next(i for i in range(2, len(data)) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xC2)
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    head = bytearray(data[start : start + 2 + length])
    if marker is not None:
        head[1] = marker
    for index, (ident, sampling) in enumerate(components):
        head[10 + 3 * index], head[11 + 3 * index] = ident, sampling
    return data[:start] + bytes(head) + data[start + 2 + length :]


def test_the_jpeg_walk_counts_as_libjpeg_decodes() -> None:
    """What the reviewer of the walk found (2026-12-06): libjpeg resolves a scan's component to
    the first of that id, decodes a lossless frame sample by sample, and refuses a second frame
    header; the walk must not count less than it decodes, nor cost more than a few markers."""
    rgb = encoded(Image.new("RGB", (256, 256), (200, 180, 160)), "JPEG", subsampling=0)  # 32x32 blocks each
    assert jpeg_cost(rgb, 32).blocks == 3 * 1024
    # Ids 1, 2, 1, the first sampled 4x4: the scan's id 1 is that first component, at full size
    # (1,024 blocks, in 64 MCUs of 4x4 + 1 blocks), as libjpeg finds it; the last of that id,
    # sampled 1x1, would have counted 64.
    duplicated = with_frame(rgb, [(1, 0x44), (2, 0x11), (1, 0x11)])
    assert jpeg_cost(duplicated, 32).blocks == 64 * (16 + 1)
    assert jpeg_cost(with_frame(rgb, [], marker=0xC3), 32).blocks == 64 * 3 * 1024  # lossless: samples
    first = rgb.index(b"\xff\xc0")
    frame = rgb[first : first + 2 + int.from_bytes(rgb[first + 2 : first + 4], "big")]
    many_frames = rgb[:first] + frame * 20_000 + rgb[first:]
    assert jpeg_cost(many_frames, 32).scans == 0  # stopped at the second frame header
    markers = rgb[:2] + b"\xff\x01" * 1_000_000 + rgb[2:]
    assert jpeg_cost(markers, 32).markers == MAX_JPEG_MARKERS + 1
    with pytest.raises(TooLargeError, match="markers"):
        decode_image(markers)
    fill = rgb[:first] + b"\xff" * 1_000_000 + rgb[first:]  # fill bytes are one marker's worth
    assert jpeg_cost(fill, 32) == jpeg_cost(rgb, 32)
    for cut in range(2, len(rgb), 97):  # any truncation: a count, never an exception
        jpeg_cost(rgb[:cut], 32)


@pytest.mark.usefixtures("nothing_decoded")
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: many_scan_jpeg(256, 200), "more than 32 scans"),
        (lambda: cmyk_photo(), "too costly to decode: its 18 scans hold 6.3 million 8x8 blocks"),
        (lambda: dotted_png(2048, 10), "at most 1,048,576"),
        (lambda: encoded(noise(1500, 1), "GIF"), "at most 1,048,576"),
        (lambda: encoded(noise(1500), "WEBP", lossless=True), "at most 1,048,576"),
        (lambda: bmp_header(5000, 5000), "at most 16,777,216"),
        (lambda: bmp_header(30_000, 30_000), "too many pixels"),
        (lambda: encoded(Image.new("L", (5000, 5000)), "JPEG"), "at most 16,777,216"),
    ],
    ids=["jpeg-scans", "jpeg-blocks", "png", "gif", "webp", "bmp-bomb", "bmp-pillow-bomb", "jpeg-too-big"],
)
def test_over_budget_images_are_refused_before_decoding(make: object, message: str) -> None:
    with pytest.raises(TooLargeError, match=message):
        decode_image(make())  # type: ignore[operator]


def test_over_budget_strokes_are_refused_before_drawing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("PIL.Image.new", lambda *a, **k: pytest.fail("a canvas was allocated"))
    zigzag = np.random.default_rng(0).uniform(0, 4096, (4_000, 2)).tolist()
    with pytest.raises(TooLargeError, match="rows of pen"):
        render_strokes([zigzag], 4096, 4096, 1024)
    with pytest.raises(TooLargeError, match="points"):
        render_strokes([[[1.0, 1.0]]] * (BUDGET.max_points + 1), 4096, 4096, 4)
    # Finite points infinitely far apart (their distance overflows): over any budget, not a crash.
    with pytest.raises(TooLargeError, match="rows of pen"):
        render_strokes([[[0.0, -1e308], [0.0, 1e308]]], 1024, 1024, 1.0)


# Each runs in a fresh interpreter so that its peak resident memory is its own.
COSTLIEST = {
    "png-rgba-1mpx": "dotted_png(1024, 300)",
    "webp-lossless-1mpx": "encoded(grainy_paper(1024), 'WEBP', lossless=True)",
    "jpeg-16mpx-reduced": "encoded(grainy_paper(4096), 'JPEG', quality=95)",
    "jpeg-progressive-16mpx": "encoded(grainy_paper(4096), 'JPEG', quality=95, progressive=True)",
}
PEAK = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_budgets import dotted_png, encoded, grainy_paper
    from digitrec.reading.decode import decode_image, render_strokes
    from digitrec.reading.preprocess import preprocess

    def rss(field):
        line = [l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith(field)][0]
        return int(line.split()[1]) / 1024

    data = {make}
    preprocess(decode_image(encoded(grainy_paper(64), "PNG")))  # warm: first-use allocations are not the input's
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS restarts from now
    before = rss("VmRSS:")
    preprocess(decode_image(data))
    print(json.dumps(rss("VmHWM:") - before))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COSTLIEST))
def test_costliest_accepted_images_stay_under_100_mb(name: str) -> None:
    tests = str(__import__("pathlib").Path(__file__).parent)
    script = PEAK.format(tests=tests, make=COSTLIEST[name])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    extra = json.loads(done.stdout.strip().splitlines()[-1])
    assert extra < 100, f"{name}: {extra:.0f} MB of extra memory"


def test_a_batch_of_big_canvases_is_refused_before_any_is_drawn(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("PIL.Image.new", lambda *a, **k: pytest.fail("a canvas was allocated"))
    dot = {"strokes": [[[2048, 2048]]], "width": 4096, "height": 4096, "line_width": 1024}
    response = client.post("/api/predict/batch", json={"items": [dot] * 32})
    assert response.status_code == 413
    assert "canvases add up to 33,554,432 pixels" in response.json()["detail"]


@pytest.mark.parametrize("many", [False, True], ids=["one drawing", "batch"])
def test_too_many_points_are_refused_before_the_json_is_parsed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, many: bool
) -> None:
    monkeypatch.setattr("orjson.loads", lambda *a, **k: pytest.fail("the body was parsed"))
    points = [[float(i % 280), 10.0] for i in range(30_000)]
    drawing = {"strokes": [points], "width": 280, "height": 280}
    body = {"items": [drawing] * 2} if many else drawing
    response = client.post("/api/predict/batch" if many else "/api/predict", json=body)
    assert response.status_code == 413
    assert "points" in response.json()["detail"] and "are accepted" in response.json()["detail"]


def test_only_page_sized_drawings_are_read_on_the_event_loop(
    client: TestClient, reader: Reader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """routes/prediction.py reads on the loop only a small body (JSON strokes or a form) holding
    strokes on a small canvas or a small plain PNG, without `explain`; every other request goes
    to a reading thread, and both answer alike."""
    from digitrec.web import schemas
    from digitrec.web.routes import prediction
    from digitrec.web.routes.prediction import INLINE_BYTES, INLINE_FORM_BYTES, INLINE_SIDE, inline_drawing, small_body
    from digitrec.web.settings import Settings
    from digitrec.web.submission import Posted, read_submission

    def submission(**fields: object) -> tuple[Posted, object]:
        body = {"strokes": [[[40, 40], [200, 240]]], "width": 280, "height": 280, "line_width": 22, **fields}
        posted = Posted(json.dumps(body).encode(), "application/json")
        return posted, read_submission(posted, Settings(), schemas.PredictOptions, schemas.PredictRequest, False)

    def form(image: bytes, **fields: str) -> object:
        body, content_type = multipart_form(image, fields)
        posted = Posted(body, content_type)
        assert small_body(posted)
        return read_submission(posted, Settings(), schemas.PredictOptions, schemas.PredictRequest, False)

    def png(pixels: np.ndarray) -> bytes:
        return encoded(Image.fromarray(pixels), "PNG")

    posted, page = submission()
    assert small_body(posted) and inline_drawing(page, reader) is not None
    assert inline_drawing(submission(explain=True)[1], reader) is None
    side = INLINE_SIDE
    assert inline_drawing(submission(width=side, height=side)[1], reader) is not None
    assert inline_drawing(submission(width=side + 1, height=side)[1], reader) is None
    assert not small_body(Posted(b" " * (INLINE_BYTES + 1), "application/json"))
    assert not small_body(Posted(b" " * (INLINE_FORM_BYTES + 1), "multipart/form-data; boundary=x"))
    assert not small_body(Posted(posted.body, "text/plain"))
    canvas = np.zeros((side, side), np.uint8)
    canvas[100:500, 300:340] = 255
    decoded = inline_drawing(form(png(canvas)), reader)
    assert isinstance(decoded, np.ndarray) and np.array_equal(decoded, canvas)
    assert inline_drawing(form(png(canvas), explain="true"), reader) is None
    assert inline_drawing(form(png(np.zeros((side, side + 1), np.uint8))), reader) is None
    # Both sides bounded, not the area: a 1-pixel-high PNG of the same area took 25-65 ms.
    assert inline_drawing(form(png(np.zeros((1, side * side), np.uint8))), reader) is None
    palette = Image.fromarray(canvas).convert("P")  # not a plain PNG: decoded in the box, in a thread
    assert inline_drawing(form(encoded(palette, "PNG")), reader) is None
    assert inline_drawing(form(encoded(Image.fromarray(canvas), "JPEG")), reader) is None
    # The reader's own budget, as in its thread: a server that accepts fewer pixels refuses here too.
    with pytest.raises(TooLargeError, match="at most 100,000 pixels"):
        inline_drawing(
            form(png(canvas)), Reader(predictor=reader.predictor, budget=Settings(max_pixels=100_000).budget())
        )

    threads: list[object] = []
    real_off_loop = prediction.off_loop

    async def counted(request: object, function: object, *args: object) -> object:
        threads.append(function)
        return await real_off_loop(request, function, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(prediction, "off_loop", counted)
    on_loop = client.post("/api/predict", content=posted.body, headers={"content-type": "application/json"}).json()
    assert not threads
    wide = {**json.loads(posted.body), "width": side + 1}  # the same strokes, read in a thread
    in_thread = client.post("/api/predict", json=wide).json()
    assert len(threads) == 1
    assert on_loop["digit"] == in_thread["digit"] and on_loop["verdict"] == in_thread["verdict"]
    files = {"image": ("drawing.png", png(canvas), "image/png")}
    png_on_loop = client.post("/api/predict", files=files).json()
    assert len(threads) == 1
    png_in_thread = client.post("/api/predict", files=files, data={"explain": "true"}).json()
    assert len(threads) == 2
    assert png_on_loop["digit"] == png_in_thread["digit"] and png_on_loop["verdict"] == png_in_thread["verdict"]
    assert png_on_loop["probabilities"] == png_in_thread["probabilities"]
