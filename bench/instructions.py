"""Instructions per task of the throughput bench, counted by valgrind: a figure that does
not move with the machine's load.

The development machines are shared: the same code measures 1.7 to 3.5 ms of CPU per
task from one hour to the next, so a change of a few percent cannot be seen in
tasks/s. ``valgrind --tool=callgrind`` counts the instructions the process executes
instead; its threads run one at a time under valgrind, so the figure is the work of
one core without the cost of threads fighting for the GIL on two.

It runs ``bench/throughput.py`` (one FULL round at ``--inflight``) twice, with
``--small`` and ``--large`` tasks, and reports the difference per task: start-up,
warm-up and the floor's fixed work cancel out. About three minutes per tree.

Usage::

    .venv/bin/python bench/instructions.py                     # this checkout
    .venv/bin/python bench/instructions.py --tree ../other     # another checkout's src/

Compare two trees by running it on both (it runs under valgrind, so two runs side by
side on two cores do not disturb each other's counts).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def instructions(tree: Path, tasks: int, inflight: int) -> int:
    """Instructions valgrind counted for one bench run of ``tasks`` tasks."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            str(tree / "bench" / "throughput.py"),
            "--inflight",
            str(inflight),
            "--rounds",
            "1",
            "--tasks",
            str(tasks),
            "--modes",
            "FULL",
        ]
        env = {**os.environ, "PYTHONPATH": str(tree / "src")}
        result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = re.search(r"Collected : ([\d,]+)", result.stderr)
    if result.returncode != 0 or found is None:
        raise SystemExit(f"the bench failed under valgrind:\n{result.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=REPO, help="checkout to measure (this one)")
    parser.add_argument("--inflight", type=int, default=32, help="tasks in flight (32)")
    parser.add_argument("--small", type=int, default=100, help="tasks of the first run (100)")
    parser.add_argument("--large", type=int, default=400, help="tasks of the second run (400)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind).")
    small = instructions(args.tree.resolve(), args.small, args.inflight)
    large = instructions(args.tree.resolve(), args.large, args.inflight)
    per_task = (large - small) / (args.large - args.small)
    print(
        f"{args.tree}: {per_task / 1e6:.2f} M instructions per task "
        f"({args.inflight} in flight; {args.small} and {args.large} tasks: "
        f"{small:,} and {large:,})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
