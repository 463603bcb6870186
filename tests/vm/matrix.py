#!/usr/bin/env python3
"""Run the integration tests on several Debian kernels, one QEMU guest after another.

For each kernel, tests/vm/boot.sh boots it with the host's root filesystem and this
repository shared read-write, and runs pytest there from the repository root with a
JUnit report under build/vm/. The reports are then merged into one table: a row per
test, a column per kernel.

    tests/vm/matrix.py                          # 5.10 6.1 6.12 sid
    tests/vm/matrix.py --kernels 6.1 sid
    tests/vm/matrix.py --pytest-args "-m integration tests/integration/test_exec.py -x"

Exit status: 0 when every kernel booted and no test failed or errored, 1 otherwise,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BOOT = HERE / "boot.sh"

DEFAULT_KERNELS = ["5.10", "6.1", "6.12", "sid"]
DEFAULT_PYTEST_ARGS = "-m integration tests/integration -q -rA"

# worst first: a test reported more than once on a kernel keeps its worst outcome
OUTCOMES = ["ERR", "FAIL", "SKIP", "PASS"]


@dataclass
class KernelRun:
    kernel: str
    rc: int | None = None  # exit code of the command in the guest; None: no report
    release: str = ""
    abi: str = ""
    accel: str = ""
    seconds: float | None = None
    # (classname, name) -> outcome
    results: dict[tuple[str, str], str] = field(default_factory=dict)
    problem: str = ""  # why this kernel counts as failed apart from its tests

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.results.values() if o == outcome)


def default_python() -> str:
    venv = REPO / ".venv" / "bin" / "python"
    if venv.exists():
        return str(venv.relative_to(REPO))
    return real_interpreter(sys.executable)


def real_interpreter(python: str) -> str:
    """Resolve a bare name or a shim (pyenv, ...) to the interpreter binary itself.

    The guest sees the host's filesystem but not the host's shell setup, so a path that
    works without PATH tricks is the safest thing to hand it.
    """
    if "/" in python:
        path = python
    else:
        found = shutil.which(python)
        if not found:
            sys.exit(f"matrix: python interpreter '{python}' not found")
        path = found
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print(sys.executable)"],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"matrix: cannot run {path}: {e}")
    return out or path


def parse_report(path: Path, run: KernelRun) -> None:
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    kv = dict(line.split("=", 1) for line in lines if "=" in line)
    run.abi = kv.get("abi", "")
    run.release = kv.get("release", "")
    run.accel = kv.get("accel", "")
    if kv.get("rc", "").lstrip("-").isdigit():
        run.rc = int(kv["rc"])
    try:
        run.seconds = float(kv.get("seconds", ""))
    except ValueError:
        pass


def outcome_of(case: ET.Element) -> str:
    tags = {child.tag for child in case}
    if "error" in tags:
        return "ERR"
    if "failure" in tags:
        return "FAIL"
    if "skipped" in tags:
        return "SKIP"
    return "PASS"


def parse_junit(path: Path) -> dict[tuple[str, str], str]:
    """(classname, name) -> outcome for every testcase in a JUnit XML file."""
    results: dict[tuple[str, str], str] = {}
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        new = outcome_of(case)
        old = results.get(key)
        if old is None or OUTCOMES.index(new) < OUTCOMES.index(old):
            results[key] = new
    return results


def test_ids(keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Readable ids: classname::name without the dotted prefix all classnames share."""
    parts = [k[0].split(".") for k in keys if k[0]]
    common: list[str] = []
    if parts:
        for column in zip(*parts, strict=False):
            if len(set(column)) != 1:
                break
            common.append(column[0])
        # keep at least the module name
        shortest = min(len(p) for p in parts)
        common = common[: max(0, min(len(common), shortest - 1))]
    ids = {}
    for cls, name in keys:
        rest = ".".join(cls.split(".")[len(common) :]) if cls else ""
        ids[(cls, name)] = f"{rest}::{name}" if rest else name
    return ids


def run_kernel(kernel: str, command: str, results_dir: Path) -> KernelRun:
    run = KernelRun(kernel)
    report = results_dir / f"{kernel}.report"
    log = results_dir / f"{kernel}.log"
    for stale in (report, results_dir / f"{kernel}.xml"):
        stale.unlink(missing_ok=True)
    print(f"\n=== kernel {kernel} ===", flush=True)
    env = dict(os.environ, APPLIANCE_VM_RWDIR=str(REPO))
    proc = subprocess.Popen(
        [str(BOOT), "--report", str(report), kernel, command],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with log.open("wb") as out:
            assert proc.stdout is not None
            for chunk in iter(lambda: proc.stdout.readline(), b""):
                out.write(chunk)
                out.flush()
                sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
        boot_rc = proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise

    parse_report(report, run)
    xml = results_dir / f"{kernel}.xml"
    if run.rc is None:
        run.problem = f"could not prepare or boot the kernel (exit {boot_rc}, see {log})"
    elif run.rc == 124:
        run.problem = "timed out"
    elif run.rc == 125:
        run.problem = "did not boot or crashed (no exit code from the guest)"
    if xml.exists():
        try:
            run.results = parse_junit(xml)
        except ET.ParseError as e:
            run.problem = run.problem or f"unreadable {xml.name}: {e}"
    elif not run.problem:
        run.problem = f"pytest wrote no report (exit {run.rc})"
    # pytest exit codes: 0 all passed, 1 some failed, 5 nothing collected
    if not run.problem and run.rc not in (0, 1, 5):
        run.problem = f"pytest exited with {run.rc}"
    if not run.problem and run.rc == 1 and not (run.count("FAIL") or run.count("ERR")):
        run.problem = "pytest reported failure but no test failed"
    return run


def print_table(runs: list[KernelRun]) -> None:
    keys: list[tuple[str, str]] = []
    for run in runs:
        for key in run.results:
            if key not in keys:
                keys.append(key)
    ids = test_ids(keys)
    name_w = max([len("test")] + [len(i) for i in ids.values()])
    col_w = [max(len(r.kernel), 4) for r in runs]
    header = (
        "test".ljust(name_w)
        + "  "
        + "  ".join(r.kernel.ljust(w) for r, w in zip(runs, col_w, strict=True))
    )
    header = header.rstrip()
    print()
    print(header)
    print("-" * len(header))
    for key in keys:
        cells = [
            (r.results.get(key) or ("--" if not r.problem else "n/a")).ljust(w)
            for r, w in zip(runs, col_w, strict=True)
        ]
        print(ids[key].ljust(name_w) + "  " + "  ".join(cells).rstrip())
    if not keys:
        print("(no test results)")
    print()
    for run in runs:
        took = f"{run.seconds:.1f} s" if run.seconds is not None else "-"
        release = run.release or "?"
        counts = (
            ", ".join(
                f"{run.count(o)} {o.lower()}"
                for o in ("PASS", "FAIL", "ERR", "SKIP")
                if run.count(o)
            )
            or "no tests"
        )
        line = f"{run.kernel:>6}: {release:<24} {run.accel or '-':<4} boot+run {took:>8}  {counts}"
        if run.problem:
            line += f"  [{run.problem}]"
        print(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run the integration tests on several kernels in QEMU (tests/vm/boot.sh).",
    )
    ap.add_argument(
        "--kernels",
        nargs="+",
        default=DEFAULT_KERNELS,
        metavar="KERNEL",
        help="kernel aliases (5.10 6.1 6.12 6.12-bpo sid) or Debian ABI names "
        f"(default: {' '.join(DEFAULT_KERNELS)}); commas also separate",
    )
    ap.add_argument(
        "--python",
        default=None,
        help="interpreter that runs pytest in the guest "
        "(default: .venv/bin/python if it exists, else the one running this script)",
    )
    ap.add_argument(
        "--pytest-args",
        default=DEFAULT_PYTEST_ARGS,
        help=f"arguments given to pytest (default: {DEFAULT_PYTEST_ARGS!r}); "
        "--junitxml and -p no:cacheprovider are always added",
    )
    ap.add_argument(
        "--results",
        default=str(REPO / "build" / "vm"),
        help="where the JUnit files, logs and boot reports go; must be inside the "
        "repository, which the guest shares (default: build/vm)",
    )
    ap.add_argument("--timeout", type=int, help="seconds per kernel before the guest is killed")
    args = ap.parse_args(argv)

    kernels = [k for item in args.kernels for k in item.split(",") if k]
    results_dir = Path(args.results).resolve()
    if not results_dir.is_relative_to(REPO):
        ap.error(f"--results must be inside {REPO} (the directory the guest shares)")
    results_dir.mkdir(parents=True, exist_ok=True)
    python = args.python if args.python else default_python()
    if args.python and "/" not in args.python:
        python = real_interpreter(args.python)
    if args.timeout:
        os.environ["APPLIANCE_VM_TIMEOUT"] = str(args.timeout)

    runs = []
    try:
        for kernel in kernels:
            junit = results_dir / f"{kernel}.xml"
            command = " ".join(
                [
                    f"export TETRAGON_VM_GUEST=1 TETRAGON_VM_KERNEL={shlex.quote(kernel)};",
                    "exec",
                    shlex.quote(python),
                    "-m pytest",
                    *[shlex.quote(a) for a in shlex.split(args.pytest_args)],
                    shlex.quote(f"--junitxml={junit}"),
                    "-p no:cacheprovider",
                ]
            )
            runs.append(run_kernel(kernel, command, results_dir))
    except KeyboardInterrupt:
        print("\nmatrix: interrupted", file=sys.stderr)
        if runs:
            print_table(runs)
        return 130

    print_table(runs)
    bad = any(r.problem or r.count("FAIL") or r.count("ERR") for r in runs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
