"""Serving-side inference: ONNX Runtime only (no torch), a model loaded once, batches predicted."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitrec.calibration import digit_probabilities, not_a_digit_probability
from digitrec.checkpoint import DEFAULT_MODEL, ONNX_FILE, PAIRS_FOLDER, read_metadata, resolve_model
from digitrec.errors import ModelError
from digitrec.preprocess import preprocess


@dataclass
class Prediction:
    digit: int
    confidence: float  # calibrated probability of `digit`
    probabilities: list[float]  # calibrated, the ten digits
    input: np.ndarray  # the 28x28 image the model saw
    uncertain: bool = False  # the top probability is under the model's threshold
    not_a_digit: bool = False  # the drawing looks like no digit at all


@dataclass
class Reading:
    """What the model says of one 28x28 input, calibrated, with its two verdicts."""

    probabilities: np.ndarray  # (10,) calibrated digit probabilities, summing to 1
    uncertain: bool
    not_a_digit: bool

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


class Predictor:
    """One model, loaded once. `predict_inputs` runs a batch of preprocessed 28x28 images."""

    def __init__(self, reference: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        self.folder = resolve_model(reference)
        self.metadata: dict[str, Any] = read_metadata(self.folder)
        # A checkpoint may serve a faster graph than the float export (an int8 one, see export.py).
        onnx_path = self.folder / self.metadata.get("serving_graph", ONNX_FILE)
        model_bytes = onnx_path.read_bytes()
        # The name clients use to ask for it: the shipped name or the path it was loaded from.
        self.name: str = str(reference) if reference else DEFAULT_MODEL
        self.version = f"{self.metadata['name']}-{hashlib.sha256(model_bytes).hexdigest()[:12]}"
        options = ort.SessionOptions()
        # One thread per request is the fastest under concurrent load; servers scale by workers.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"{onnx_path} is not a usable ONNX model ({exc})") from exc
        self.input_name = self.session.get_inputs()[0].name
        # The number reader's reader of touching pairs (pairs.py), where the model carries one.
        pairs = self.folder / PAIRS_FOLDER / ONNX_FILE
        self.pair_session = (
            ort.InferenceSession(pairs.read_bytes(), options, providers=["CPUExecutionProvider"])
            if pairs.is_file()
            else None
        )
        # No calibration recorded (an older or uncalibrated checkpoint): plain softmax, never
        # "not sure", never "not a digit".
        calibration = self.metadata.get("calibration", {})
        self.temperature = float(calibration.get("temperature", 1.0))
        self.uncertain_below = float(calibration.get("uncertain_below", 0.0))
        self.not_a_digit_above = float(calibration.get("not_a_digit_above", 1.0))
        self.confidence_map: list[list[float]] | None = calibration.get("confidence_map")

    @property
    def accuracy(self) -> float | None:
        value = self.metadata.get("metrics", {}).get("test_accuracy")
        return float(value) if value is not None else None

    @property
    def parameters(self) -> int | None:
        value = self.metadata.get("parameters")
        return int(value) if value is not None else None

    def raw_probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """What the graph answers: (N, 10) digit probabilities, or (N, 11) with "not a digit" last."""
        batch = np.ascontiguousarray(inputs, dtype=np.float32).reshape(-1, 1, 28, 28)
        result: np.ndarray = self.session.run(None, {self.input_name: batch})[0]
        return result

    def pair_probabilities(self, inputs: np.ndarray) -> np.ndarray | None:
        """(N, 28, 56) pair inputs -> (N, 101) probabilities of "00"-"99" and "not a pair"; None
        for a model without a pair reader."""
        if self.pair_session is None:
            return None
        batch = np.ascontiguousarray(inputs, dtype=np.float32).reshape(len(inputs), 1, *inputs.shape[-2:])
        result: np.ndarray = self.pair_session.run(None, {"input": batch})[0]
        return result

    def predict_inputs(self, inputs: np.ndarray) -> np.ndarray:
        """(N, 1, 28, 28) or (N, 28, 28) float32 in [0, 1] -> calibrated digit probabilities (N, 10)."""
        return self.calibrated(self.raw_probabilities(inputs))

    def read(self, inputs: np.ndarray) -> list[Reading]:
        """(N, 1, 28, 28) inputs -> one calibrated Reading each, with `uncertain` and `not_a_digit`."""
        raw = self.raw_probabilities(inputs)
        probabilities = self.calibrated(raw)
        flagged = not_a_digit_probability(raw) > self.not_a_digit_above
        unsure = probabilities.max(axis=1) < self.uncertain_below
        return [Reading(p, bool(u), bool(f)) for p, u, f in zip(probabilities, unsure, flagged, strict=True)]

    def raw_proba(self, inputs: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Like raw_probabilities, in chunks, for whole data sets."""
        flat = np.asarray(inputs, dtype=np.float32).reshape(-1, 1, 28, 28)
        chunks = [self.raw_probabilities(flat[i : i + batch_size]) for i in range(0, len(flat), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), dtype=np.float32)

    def predict_proba(self, inputs: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Like predict_inputs, in chunks, for whole data sets."""
        return self.calibrated(self.raw_proba(inputs, batch_size))

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """The graph's probabilities -> calibrated digit probabilities (N, 10), by model.json's map."""
        return digit_probabilities(raw, self.temperature, self.confidence_map)

    def predict(self, images: list[Any]) -> list[Prediction]:
        """Pictures of digits (PIL images or arrays, any size) -> one Prediction each."""
        inputs = np.stack([preprocess(image) for image in images])
        return [to_prediction(r, x) for r, x in zip(self.read(inputs), inputs, strict=True)]


def to_prediction(reading: Reading, model_input: np.ndarray) -> Prediction:
    probabilities = [float(p) for p in reading.probabilities]
    return Prediction(
        reading.digit, reading.confidence, probabilities, model_input, reading.uncertain, reading.not_a_digit
    )
