"""python -m benchmarks [serving|serving-log|serving-ab|inference|training|training-full|page|page-device|memory|
worst-case|paper|all]"""

from __future__ import annotations

import sys

from benchmarks import inference, memory, page, page_device, paper, serving, training, worst_case

BENCHMARKS = {
    "inference": inference.main,
    "serving": serving.main,
    "serving-log": serving.request_log_cost,
    "serving-ab": serving.against_revision,
    "training": training.fast,
    "training-full": training.full,
    "page": page.main,
    "page-device": page_device.main,
    "memory": memory.main,
    "worst-case": worst_case.main,
    "paper": paper.main,
}

names = sys.argv[1:] or ["all"]
if names == ["all"]:
    names = ["inference", "serving", "training", "page", "memory"]
unknown = [name for name in names if name not in BENCHMARKS]
if unknown:
    raise SystemExit(f"unknown benchmark {unknown[0]!r}: choose from {', '.join(BENCHMARKS)} or all")
for name in names:
    BENCHMARKS[name]()
