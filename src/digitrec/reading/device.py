"""What a browser needs to read digits as the server does, in one place: the model card the page
fetches (`/api/models/{name}/device`) and the parity test hands to the browser-side road.

Nothing here is copied by hand: the calibration comes from the model's model.json (as the
Predictor read it), the preprocessing constants from preprocess.py, the drawing budget from
decode.py. A constant added there reaches the page the next time it loads.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from digitrec.reading import decode, preprocess
from digitrec.reading.inference import Predictor

FORMAT_VERSION = 1


def graph_path(predictor: Predictor) -> Path:
    """The ONNX graph the server runs for this model: the browser runs the same file."""
    return predictor.graph


def device_card(predictor: Predictor, name: str) -> dict[str, Any]:
    # The values the server applies (defaults included for uncalibrated checkpoints), with
    # whatever else model.json records, so both sides read the same numbers.
    calibration = predictor.calibration.model_dump()
    return {
        "format_version": FORMAT_VERSION,
        "model": name,
        "version": predictor.version,
        "graph": f"/api/models/{name}/graph",
        "graph_bytes": graph_path(predictor).stat().st_size,
        "calibration": calibration,
        "preprocessing": {
            "size": preprocess.SIZE,
            "box": preprocess.BOX,
            "center": preprocess.CENTER,
            "stroke_target": preprocess.STROKE_TARGET,
            "stroke_min": preprocess.STROKE_MIN,
            "stroke_max": preprocess.STROKE_MAX,
            "work_side": preprocess.WORK_SIDE,
            "noise_floor": preprocess.NOISE_FLOOR,
            "noise_sigmas": preprocess.NOISE_SIGMAS,
            "noise_sample": preprocess.NOISE_SAMPLE,
            "speck_share": preprocess.SPECK_SHARE,
            "speck_side": preprocess.SPECK_SIDE,
            "speck_min_area": preprocess.SPECK_MIN_AREA,
            "max_filter": preprocess.MAX_FILTER,
        },
        "render": {**asdict(decode.BUDGET), "call_rows": decode.CALL_ROWS},
    }
