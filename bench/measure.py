"""Wall time and peak memory of one child process, and a description of the machine.

Each measured step runs in its own child so its peak resident set (from `wait4`, which
reports the child's own high-water mark) is not mixed up with the parent's or another step's.
The machine's load average is recorded next to every figure: other jobs on a shared machine
slow DuckDB down, and a reader should know how busy the CPU was.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "platform": platform.platform(),
    }


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def run_measured(args: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run `python -m <args>` in a child; wall time, peak RSS (MiB, from wait4), exit code.

    The child may print one JSON object as its last stdout line (its own figures); it is
    parsed into `result`. `cwd` (default: the project) is where `-m` finds our packages, so a
    checkout of an earlier commit can be measured with the same interpreter.
    Output goes to temporary files (not pipes) so a chatty child cannot block on a full pipe
    while we wait.
    """
    tmp = ROOT / "bench" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    out_path, err_path = tmp / f"child_{os.getpid()}.out", tmp / f"child_{os.getpid()}.err"
    load_before = load_average()
    started = time.perf_counter()
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=cwd or ROOT,
            env={**os.environ, **(env or {})},
            stdout=out,
            stderr=err,
            text=True,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    stdout, stderr = out_path.read_text(), err_path.read_text()
    result = None
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                result = json.loads(line)
            break
    return {
        "cmd": " ".join(args),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "exit": proc.returncode,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "result": result,
        "stdout": stdout,  # callers parse it, then keep only the tail in result files
        "stdout_tail": stdout[-3000:],
        "stderr_tail": stderr[-3000:] if proc.returncode else "",
    }
