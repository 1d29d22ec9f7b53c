"""The model at serving time: ONNX Runtime only (no torch), loaded once, a batch of 28x28 inputs
in, calibrated readings with their verdicts out."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from digitrec.errors import ModelError
from digitrec.reading.calibration import digit_probabilities, not_a_digit_probability, verdicts
from digitrec.reading.card import (
    DEFAULT_MODEL,
    ONNX_FILE,
    PAIRS_FOLDER,
    Calibration,
    ModelCard,
    resolve_graph,
    version_of,
)

Verdict = Literal["digit", "not sure", "not a digit"]
BATCH = 1000  # inputs per call of the graph when reading a whole data set


@dataclass
class DigitReading:
    """What the model says of one drawing: calibrated probabilities of the ten digits, the two
    verdicts, and the 28x28 input it saw (None for a digit read as one half of a touching pair)."""

    probabilities: np.ndarray  # (10,) calibrated, summing to 1
    uncertain: bool  # the top probability is under the model's threshold
    not_a_digit: bool  # the drawing looks like no digit at all
    rejection: float = 0.0  # the model's not-a-digit score, which `not_a_digit` thresholds
    input: np.ndarray | None = None

    @property
    def digit(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])

    @property
    def runner_up(self) -> int:
        return int(np.argsort(-self.probabilities, kind="stable")[1])

    @property
    def verdict(self) -> Verdict:
        if self.not_a_digit:
            return "not a digit"
        return "not sure" if self.uncertain else "digit"

    def as_dict(self) -> dict[str, object]:
        """The reading as the API and `digitrec predict --json` say it (rounded to 6 places)."""
        return {
            "digit": self.digit,
            "confidence": round(self.confidence, 6),
            "probabilities": [round(float(p), 6) for p in self.probabilities],
            "uncertain": self.uncertain,
            "not_a_digit": self.not_a_digit,
            "verdict": self.verdict,
            "message": self.message,
        }

    @property
    def message(self) -> str:
        """What the page says of it, word for word."""
        if self.verdict == "not a digit":
            return "That doesn't look like a digit"
        if self.verdict == "not sure":
            return f"Not sure: {self.digit} or {self.runner_up}?"
        return f"{self.confidence * 100:.1f}% sure"


class Predictor:
    """One model, loaded once: its graph, its card, and the calibration that the card carries."""

    def __init__(self, reference: str | Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort

        graph = resolve_graph(reference)
        self.folder = graph.parent
        self.graph = graph  # the file served, which the browser runs too (device.py)
        self.card = ModelCard.load(self.folder)
        # The name clients use to ask for it: the shipped name or the path it was loaded from.
        self.name: str = str(reference) if reference else DEFAULT_MODEL
        model_bytes = graph.read_bytes()
        self.version = version_of(self.card, model_bytes)
        options = ort.SessionOptions()
        # One thread per request is the fastest under concurrent load; servers scale by workers.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(f"{graph} is not a usable ONNX model ({exc})") from exc
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
        self.calibration = self.card.calibration or Calibration()

    def raw(self, inputs: np.ndarray) -> np.ndarray:
        """What the graph answers for (N, 28, 28) or (N, 1, 28, 28) inputs in [0, 1]: (N, 10)
        digit probabilities, or (N, 11) with "not a digit" last; in chunks, for whole data sets."""
        flat = np.ascontiguousarray(inputs, dtype=np.float32).reshape(-1, 1, 28, 28)
        chunks = [self.session.run(None, {self.input_name: flat[i : i + BATCH]})[0] for i in range(0, len(flat), BATCH)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 10), dtype=np.float32)

    def calibrated(self, raw: np.ndarray) -> np.ndarray:
        """The graph's probabilities -> calibrated digit probabilities (N, 10), by the card's map."""
        return digit_probabilities(raw, self.calibration.temperature, self.calibration.confidence_map)

    def read(self, inputs: np.ndarray) -> list[DigitReading]:
        """(N, 28, 28) inputs -> one calibrated DigitReading each, with its verdicts."""
        raw = self.raw(inputs)
        probabilities = self.calibrated(raw)
        rejection = not_a_digit_probability(raw)
        uncertain, flagged = self.verdicts(probabilities, rejection)
        shaped = np.asarray(inputs, dtype=np.float32).reshape(-1, 28, 28)
        return [
            DigitReading(p, bool(u), bool(f), float(r), x)
            for p, u, f, r, x in zip(probabilities, uncertain, flagged, rejection, shaped, strict=True)
        ]

    def verdicts(self, probabilities: np.ndarray, rejection: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return verdicts(probabilities, rejection, self.calibration.uncertain_below, self.calibration.not_a_digit_above)

    def pair_probabilities(self, inputs: np.ndarray) -> np.ndarray | None:
        """(N, 28, 56) pair inputs -> (N, 101) probabilities of "00"-"99" and "not a pair"; None
        for a model without a pair reader."""
        if self.pair_session is None:
            return None
        batch = np.ascontiguousarray(inputs, dtype=np.float32).reshape(len(inputs), 1, *inputs.shape[-2:])
        result: np.ndarray = self.pair_session.run(None, {"input": batch})[0]
        return result
