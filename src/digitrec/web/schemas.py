"""Request and response schemas, named by role. They document the API (OpenAPI at /docs);
requests are parsed by hand in `inputs` because one endpoint takes multipart and JSON alike."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PredictOptions(BaseModel):
    model: str | None = Field(None, description="model name from /api/models; default: the server's default")
    top_k: int = Field(3, ge=1, le=10, description="how many of the most likely digits to list in `top`")
    include_input: bool = Field(False, description="also return the 28x28 image the model saw")
    explain: bool = Field(False, description="also return a heatmap of what the answer rests on")


class PredictRequest(PredictOptions):
    """Exactly one of `image`, `pixels` or `strokes`."""

    image: str | None = Field(
        None, description="a data URL (data:image/png;base64,...) or base64 of a PNG, JPEG, WebP, BMP or GIF"
    )
    pixels: list[list[float]] | None = Field(None, description="2-D grayscale array, values 0-255")
    strokes: list[list[list[float]]] | None = Field(None, description="strokes, each a list of [x, y] points")
    width: int | None = Field(None, description="canvas width in pixels (with `strokes`)")
    height: int | None = Field(None, description="canvas height in pixels (with `strokes`)")
    line_width: float | None = Field(None, description="pen width in pixels (with `strokes`; default size/16)")


class BatchRequest(PredictOptions):
    items: list[PredictRequest] = Field(..., description="drawings, each in any single-image form")


class FeedbackRequest(PredictRequest):
    label: int = Field(..., ge=0, le=9, description="the digit the drawing really is")
    predicted: int | None = Field(None, ge=0, le=9, description="what the model read, if it read something")


class FeedbackOut(BaseModel):
    id: int
    label: int
    predicted: int | None
    model: str
    model_version: str
    created_at: str


class Candidate(BaseModel):
    digit: int
    probability: float


class PredictionOut(BaseModel):
    digit: int = Field(..., description="the digit read")
    confidence: float = Field(..., description="its probability")
    probabilities: list[float] = Field(..., description="probability of each digit 0-9")
    top: list[Candidate] = Field(..., description="the `top_k` most likely digits")
    model: str
    model_version: str
    input: list[list[float]] | None = Field(None, description="the 28x28 model input, when asked")
    explanation: ExplanationOut | None = Field(None, description="why, when `explain` is true")
    elapsed_ms: float = Field(..., description="server time for this request")


class BatchItemOut(BaseModel):
    digit: int
    confidence: float
    probabilities: list[float]
    top: list[Candidate]


class BatchOut(BaseModel):
    predictions: list[BatchItemOut]
    model: str
    model_version: str
    elapsed_ms: float


class ReadDigitOut(BatchItemOut):
    box: list[int] = Field(..., description="[x, y, width, height] of the digit in the drawing's pixels")


class ReadOut(BaseModel):
    text: str = Field(..., description="the number read, left to right")
    digits: list[ReadDigitOut]
    model: str
    model_version: str
    elapsed_ms: float


class RunnerUp(BaseModel):
    digit: int
    probability: float


class ExplanationOut(BaseModel):
    heatmap: list[list[float]] = Field(..., description="28x28, 0-1: how much each input pixel supports the answer")
    runner_up: RunnerUp = Field(..., description="the second most likely digit")
    method: str


class ModelOut(BaseModel):
    name: str
    description: str
    accuracy: float | None = Field(None, description="accuracy measured on the 10,000 MNIST test images")
    parameters: int | None
    version: str
    default: bool


class ErrorOut(BaseModel):
    detail: str = Field(..., description="what was wrong and what to change")
