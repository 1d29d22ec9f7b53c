"""The README's commands, run as written: the code blocks of "Using it" and "Learning from corrections".

Each command runs in bash, in order, in a fresh folder, with the virtual environment first on PATH
and MNIST (a copy) in $DIGITREC_DATA_DIR, so that later commands find what earlier ones made
(drawing.png, runs/cnn, corrections/). Where the test runs something other than the README's
text, it is said here:
- `digitrec serve` runs in the background on a free port instead of 8000 (every 8000 is replaced)
  until the next `serve`; the curl commands reach it, as from another terminal.
- A command that trains for minutes (`train` or `finetune` without `--dry-run`) runs with
  `--dry-run` added; the README shows the `--dry-run` form of each command too.
- `digitrec promote` gets `--force`: a dry run's candidate is not better than the shipped model, so
  its verdict says so (test_promotion.py checks that the verdict is what lets one be served).
- Before the corrections block, 24 MNIST test digits are posted as corrections, as the page's
  users would: `finetune` needs 20.
- curl gets `--fail-with-body -sS`, so that an HTTP error fails the test.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from conftest import ROOT, on_white_canvas, png_bytes
from digitrec.cli import build_parser
from server_process import free_port, wait_until_answering

README = ROOT / "README.md"
SECTIONS = ("Using it", "Learning from corrections")
# Every command `digitrec` has (leaves of its tree); the README must show each.
COMMANDS = [
    ["train"],
    ["evaluate"],
    ["predict"],
    ["export"],
    ["data", "download"],
    ["data", "verify"],
    ["serve"],
    ["feedback", "stats"],
    ["feedback", "export"],
    ["finetune"],
    ["models"],
    ["read"],
    ["recipe"],
    ["calibrate"],
    ["data", "pieces"],
    ["--version"],
    ["promote"],
    ["rollback"],
]
TRAINING = ("train", "finetune", "recipe")


def section_commands(title: str) -> list[str]:
    """The shell commands of a README section's ```sh blocks (a line ending in \\ continues)."""
    sections = {part.split("\n", 1)[0]: part for part in re.split(r"^## ", README.read_text(), flags=re.M)}
    blocks = re.findall(r"```sh\n(.*?)```", sections[title], flags=re.S)
    return [command for block in blocks for command in re.split(r"(?<!\\)\n", block) if command.strip()]


def digitrec_args(command: str) -> list[str] | None:
    """The arguments after `digitrec` (environment assignments before it skipped), or None."""
    words = shlex.split(command, comments=True)
    return words[words.index("digitrec") + 1 :] if "digitrec" in words else None


def documented() -> list[list[str]]:
    found = [digitrec_args(command) for title in SECTIONS for command in section_commands(title)]
    return [args for args in found if args is not None]


def test_readme_shows_every_command_with_valid_flags() -> None:
    shown = documented()
    for command in COMMANDS:
        assert any(args[: len(command)] == command for args in shown), f"README shows no `digitrec {' '.join(command)}`"
    for args in shown:
        try:
            build_parser().parse_args(args)
        except SystemExit as exc:  # --version exits 0; a bad flag exits 1
            assert exc.code == 0, f"`digitrec {shlex.join(args)}` does not parse"
    dry_runs = {args[0] for args in shown if "--dry-run" in args}
    for args in shown:
        assert args[0] not in TRAINING or args[0] in dry_runs, f"README shows no `digitrec {args[0]} ... --dry-run`"


def test_readme_python_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example, run as written (its asserts hold)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README shows no Python"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_every_setting_is_documented() -> None:
    """Each `DIGITREC_*` variable the server reads is in docs/serving.md's table."""
    from digitrec.web.settings import Settings

    table = (ROOT / "docs" / "serving.md").read_text()
    missing = [name for name in Settings.model_fields if f"`DIGITREC_{name.upper()}`" not in table]
    assert not missing, f"docs/serving.md does not document {missing}"


def test_the_readme_is_short_and_its_links_resolve() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)#:]+)\)", text):
        assert (ROOT / target).exists(), f"README links to {target}, which is not there"


def as_run(command: str, port: int) -> str:
    """The command as the test runs it (see the module's docstring)."""
    command = re.sub(r"\b8000\b", str(port), command)
    command = re.sub(r"^curl ", "curl --fail-with-body -sS ", command)
    args = digitrec_args(command)
    if args and args[0] in TRAINING and "--dry-run" not in args:
        command = re.sub(r"\s+# .*$", "", command) + " --dry-run"
    if args and args[0] == "promote":
        command = re.sub(r"\s+# .*$", "", command) + " --force"
    return command


def post_corrections(url: str, mnist_test: tuple[np.ndarray, np.ndarray], count: int) -> None:
    images, labels = mnist_test
    for index in range(count):
        files = {"image": ("digit.png", png_bytes(on_white_canvas(images[index])), "image/png")}
        data = {"label": str(labels[index]), "predicted": str((labels[index] + 1) % 10), "model": "cnn"}
        assert httpx.post(f"{url}/api/feedback", files=files, data=data, timeout=30).status_code == 201


def check_output(command: str, stdout: str) -> None:
    """What the README's comments promise, where a command's output can be checked."""
    if command.startswith("digitrec predict drawing.png"):
        assert stdout.startswith("drawing.png: 7 ("), stdout
    elif "/api/predict" in command:
        assert json.loads(stdout)["digit"] == 7, stdout
    elif "/api/feedback" in command:
        assert "id" in json.loads(stdout), stdout
    elif command.startswith("digitrec evaluate --model cnn --json"):
        assert json.loads(stdout)["accuracy"] > 0.99, stdout
    elif command.startswith(("digitrec train", "digitrec recipe")):
        assert "test accuracy 0." in stdout, stdout
    elif command.startswith("digitrec read drawing.png"):
        assert stdout.strip() == "drawing.png: 7", stdout
    elif command.startswith("digitrec feedback stats"):
        assert stdout.startswith("total: 25\n"), stdout


class Server:
    """The `digitrec serve` command of the README running now, if any."""

    def __init__(self, port: int, log: Path) -> None:
        self.url, self.log = f"http://127.0.0.1:{port}", log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.stop()
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                ["bash", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        if not wait_until_answering(self.url, self.process, seconds=300):
            self.stop()
            pytest.fail(f"`{command}` did not start serving:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # bash and the server it started
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.mark.slow
def test_readme_commands_run_as_written(
    tmp_path: Path, data_dir: Path, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    work, mnist, scratch = tmp_path / "work", tmp_path / "mnist", tmp_path / "tmp"
    for folder in (work, mnist, scratch):
        folder.mkdir()
    for source in data_dir.glob("*.gz"):  # a copy: `digitrec data download` may write there
        shutil.copy(source, mnist / source.name)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DIGITREC_DATA_DIR": str(mnist),
        "DIGITREC_DATABASE_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "TMPDIR": str(scratch),  # where --dry-run writes its models
    }
    if (data_dir.parent / "pendigits").is_dir():  # the pen strokes the cnn recipe trains on too
        env.setdefault("DIGITREC_PENDIGITS_DIR", str(data_dir.parent / "pendigits"))
    if (data_dir.parent / "omniglot").is_dir():  # people's characters, which it learns are no digit
        env.setdefault("DIGITREC_OMNIGLOT_DIR", str(data_dir.parent / "omniglot"))
    port = free_port()
    server = Server(port, tmp_path / "server.log")
    try:
        for title in SECTIONS:
            if title == "Learning from corrections":
                post_corrections(server.url, mnist_test, 24)
            for command in section_commands(title):
                run = as_run(command, port)
                if (digitrec_args(run) or [""])[0] == "serve":
                    server.start(run, work, env)
                    continue
                result = subprocess.run(
                    ["bash", "-c", run], cwd=work, env=env, capture_output=True, text=True, timeout=600
                )
                assert result.returncode == 0, f"`{run}` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
                check_output(command, result.stdout)
    finally:
        server.stop()
