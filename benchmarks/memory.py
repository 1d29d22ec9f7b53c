"""Resident memory of one server worker after start and after 100k requests."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import drawn_digit_png, record, running_server
from benchmarks.serving import multipart, wrk


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main(target: int = 100_000) -> None:
    body, content_type = multipart([drawn_digit_png()])
    with running_server(1) as (url, process):
        start = rss_mib(process.pid)
        done, samples = 0, []
        while done < target:
            result = wrk(f"{url}/api/predict", body, content_type, 16, 20)
            done += int(result["requests"])
            samples.append(f"{rss_mib(process.pid):.1f}")
        end = rss_mib(process.pid)
    lines = [
        "| figure | value |",
        "| --- | --- |",
        f"| RSS after start | {start:.1f} MiB |",
        f"| RSS after {done:,} requests | {end:.1f} MiB |",
        f"| RSS after each 20 s of load | {', '.join(samples)} MiB |",
    ]
    record("Memory of one server worker", lines)


if __name__ == "__main__":
    main()
