"""doralens against DuckDB on the same warehouse, the same SQL (issue #24).

    python3 benches/duckdb/compare.py --doralens PATH/TO/doralens \\
        --warehouse DIR [--runs 5] [--task metrics,adhoc] [--out DIR]

Tasks:
  metrics  `doralens metrics --by team --interval week --from 2025-01-01
           --to 2026-01-01 --format csv` against DuckDB running queries/*.sql,
           translated (translate.py), in the engine's order.
  adhoc    the queries of benches/duckdb/adhoc/*.sql with `doralens sql`
           against DuckDB (translated where the dialects differ); one task
           per file, also selectable by name (adhoc:lead_time_by_team).

Every run is a whole process (doralens's binary; `python3 duckdb_run.py`
for DuckDB, at its default threads). Each task is first run once on each
side and the CSVs compared (numbers within 1e-9 relative, timestamps as
instants); any difference is printed and the script exits 1 before
timing. Then `--runs` rounds, doralens and DuckDB interleaved, give the
median, min and max wall time and the peak RSS of each child. DuckDB's
start-up (Python, `import duckdb`, an empty query) is timed on its own.
`--runs 0` only checks.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import translate  # noqa: E402

DUCKDB_VERSION = "2.0.1"
RUNNER = HERE / "duckdb_run.py"
ADHOC = HERE / "adhoc"
WINDOW = ["--from", "2025-01-01", "--to", "2026-01-01"]
RELATIVE_TOLERANCE = 1e-9

# Natural keys (src/store/schema.rs Table::key): an upsert replaces the row
# with the same key, so no key may appear twice among the live segments.
KEYS = {
    "commits": ["repo", "sha"],
    "changes": ["repo", "number"],
    "deployments": ["id"],
    "incidents": ["id"],
    "rollbacks": ["id"],
    "flag_events": ["id"],
    "flags": ["project", "key"],
    "flag_references": ["repo", "flag_key"],
    "teams": ["team", "service"],
    "change_commits": ["repo", "number", "sha"],
    "reviews": ["repo", "number", "reviewer", "submitted_at"],
    "deployment_approvals": ["deployment_id", "approver", "state"],
    "change_files": ["repo", "number", "path"],
}


class Failure(Exception):
    """Stops the comparison with a message (exit 1)."""


# ---------------------------------------------------------------------------
# Tasks
# ---------------------------------------------------------------------------


@dataclass
class Task:
    name: str
    doralens_args: list[str]
    duckdb_statements: list[str]


def metrics_task(warehouse: Path, keys: str) -> Task:
    opts = translate.Options(
        from_us=translate.parse_instant("2025-01-01"),
        to_us=translate.parse_instant("2026-01-01"),
        interval="week",
        group="team",
    )
    return Task(
        name="metrics",
        doralens_args=["metrics", "--warehouse", str(warehouse), "--by", "team",
                       "--interval", "week", *WINDOW, "--format", "csv"],
        duckdb_statements=translate.metrics_script(opts, keys).statements(),
    )


def adhoc_tasks(warehouse: Path, keys: str) -> list[Task]:
    return [
        Task(
            name=f"adhoc:{path.stem}",
            doralens_args=["sql", "--warehouse", str(warehouse), "--format", "csv", "-f", str(path)],
            duckdb_statements=translate.sql_script(path.read_text(), keys).statements(),
        )
        for path in sorted(ADHOC.glob("*.sql"))
    ]


def select_tasks(selection: str, warehouse: Path, keys: str) -> list[Task]:
    available = {"metrics": [metrics_task(warehouse, keys)], "adhoc": adhoc_tasks(warehouse, keys)}
    by_name = {t.name: [t] for tasks in available.values() for t in tasks}
    chosen: list[Task] = []
    for word in (w.strip() for w in selection.split(",") if w.strip()):
        tasks = available.get(word) or by_name.get(word)
        if tasks is None:
            names = ", ".join([*available, *(n for n in by_name if n not in available)])
            raise Failure(f"--task {word}: unknown; choose from {names}")
        chosen += [t for t in tasks if t not in chosen]
    return chosen


# ---------------------------------------------------------------------------
# Running children
# ---------------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    peak_mib: float


def run_child(cmd: list[str], stdout: Path, cwd: Path) -> Run:
    """Runs cmd to completion, stdout to a file; wall time and the child's
    own peak RSS (wait4's rusage)."""
    stderr = stdout.with_suffix(".stderr")
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, stdin=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-15:]
        raise Failure(f"`{' '.join(cmd)}` exited with {child.returncode}:\n  " + "\n  ".join(tail))
    return Run(wall_s=wall, peak_mib=usage.ru_maxrss / 1024.0)  # ru_maxrss: KiB on Linux


@dataclass
class Sides:
    doralens: Path
    warehouse: Path
    work: Path
    python: str = sys.executable

    def doralens_cmd(self, task: Task) -> list[str]:
        return [str(self.doralens), *task.doralens_args]

    def duckdb_cmd(self, task: Task) -> list[str]:
        script = self.work / f"{safe(task.name)}.duckdb.json"
        if not script.exists():
            script.write_text(json.dumps(task.duckdb_statements, indent=1))
        return [self.python, str(RUNNER), "--warehouse", str(self.warehouse), "--script", str(script)]

    def empty_cmd(self) -> list[str]:
        return [self.python, str(RUNNER), "--empty"]

    def doralens_empty_cmd(self) -> list[str]:
        """doralens's start-up: open the warehouse's snapshot, register its
        tables and views, answer a query that reads nothing."""
        return [str(self.doralens), "sql", "--warehouse", str(self.warehouse), "--format", "csv",
                "SELECT 1 AS x WHERE false"]

    def run(self, cmd: list[str], label: str) -> Run:
        # An empty working directory: doralens reads ./doralens.toml ([bots],
        # [batch]) when there is one; the translation assumes the defaults.
        return run_child(cmd, self.work / f"{label}.csv", cwd=self.work / "cwd")


def safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


# ---------------------------------------------------------------------------
# Comparing results
# ---------------------------------------------------------------------------

_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?)(Z|[+-]\d{2}(?::?\d{2})?)$"
)


def _instant(text: str) -> int | None:
    m = _TIMESTAMP.match(text)
    if not m:
        return None
    zone = m.group(3)
    if zone == "Z":
        zone = "+00:00"
    elif len(zone) == 3:
        zone += ":00"
    t = datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}{zone}").astimezone(timezone.utc)
    return translate._micros(t)


@dataclass
class Agreement:
    rows: int = 0
    cells: int = 0
    max_relative: float = 0.0
    differences: list[str] = field(default_factory=list)


def _same(a: str, b: str, agreement: Agreement) -> bool:
    if a == b:
        return True
    if a == "" or b == "":
        return False
    ta, tb = _instant(a), _instant(b)
    if ta is not None or tb is not None:
        return ta == tb
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    if x == y:
        return True
    relative = abs(x - y) / max(abs(x), abs(y))
    if relative <= RELATIVE_TOLERANCE:
        agreement.max_relative = max(agreement.max_relative, relative)
        return True
    return False


def compare_csv(doralens_csv: Path, duckdb_csv: Path, show: int = 5) -> Agreement:
    with open(doralens_csv, newline="") as f:
        left = list(csv.reader(f))
    with open(duckdb_csv, newline="") as f:
        right = list(csv.reader(f))
    agreement = Agreement()
    if not left or not right:
        agreement.differences.append("an empty output (no header)")
        return agreement
    if left[0] != right[0]:
        agreement.differences.append(f"columns differ:\n  doralens: {left[0]}\n  duckdb:   {right[0]}")
        return agreement
    header = left[0]
    if len(left) != len(right):
        agreement.differences.append(f"doralens has {len(left) - 1} rows, DuckDB {len(right) - 1}")
    for i, (a, b) in enumerate(zip(left[1:], right[1:]), start=1):
        agreement.rows += 1
        bad = [c for c, x, y in zip(header, a, b) if not _same(x, y, agreement)]
        agreement.cells += len(header)
        if bad and len(agreement.differences) < show:
            cells = "\n".join(
                f"    {c}: doralens {a[header.index(c)]!r}, duckdb {b[header.index(c)]!r}" for c in bad
            )
            agreement.differences.append(
                f"row {i} differs in {len(bad)} column(s):\n"
                f"  doralens: {','.join(a)}\n  duckdb:   {','.join(b)}\n{cells}"
            )
    return agreement


# ---------------------------------------------------------------------------
# DuckDB itself
# ---------------------------------------------------------------------------


def ensure_duckdb(python: str) -> str:
    """DuckDB's version, installing the pinned one when it is missing."""
    probe = [python, "-c", "import duckdb; print(duckdb.__version__)"]
    found = subprocess.run(probe, capture_output=True, text=True)
    if found.returncode != 0:
        print(f"duckdb is not installed; pip install duckdb=={DUCKDB_VERSION}", file=sys.stderr)
        subprocess.run([python, "-m", "pip", "install", f"duckdb=={DUCKDB_VERSION}"], check=True)
        found = subprocess.run(probe, capture_output=True, text=True, check=True)
    version = found.stdout.strip()
    if version != DUCKDB_VERSION:
        print(
            f"warning: duckdb {version} is installed; the README's numbers are for "
            f"{DUCKDB_VERSION} (pip install duckdb=={DUCKDB_VERSION})",
            file=sys.stderr,
        )
    return version


def duckdb_threads(python: str) -> str:
    probe = "import duckdb; print(duckdb.connect().sql(\"SELECT current_setting('threads')\").fetchall()[0][0])"
    return subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()


def check_keys(sides: Sides) -> list[str]:
    """Each table's natural key is unique over its live segments (so no row
    is superseded by a later one, and DuckDB needs no upsert rule)."""
    checks = "\nUNION ALL ".join(
        f"SELECT '{t}' AS table_name, count(*) AS row_count, "
        f"count(DISTINCT row({', '.join(k)})) AS distinct_keys FROM {t}"
        for t, k in KEYS.items()
    )
    script = sides.work / "keys.duckdb.json"
    script.write_text(json.dumps([checks]))
    out = sides.work / "keys.csv"
    run_child([sides.python, str(RUNNER), "--warehouse", str(sides.warehouse), "--script", str(script)],
              out, cwd=sides.work / "cwd")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        f"{r['table_name']}: {r['row_count']} rows, {r['distinct_keys']} distinct keys"
        + ("" if r["row_count"] == r["distinct_keys"] else "  <-- SUPERSEDED ROWS")
        for r in rows
    ]


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--doralens", type=Path, required=True,
                        help="the doralens binary (a release build), e.g. target/release/doralens")
    parser.add_argument("--warehouse", type=Path, required=True,
                        help="the warehouse directory: an org of `doralens generate`, holding <table>/_manifest.json")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds per task (0: only check)")
    parser.add_argument("--task", default="metrics,adhoc",
                        help="comma-separated: metrics, adhoc, or one ad hoc query as adhoc:NAME")
    parser.add_argument("--out", type=Path,
                        help="keep the outputs, scripts and stderr here (default: a temporary directory)")
    parser.add_argument("--keys", choices=["sha", "sha_key"], default="sha",
                        help="DuckDB's commit join key: the sha itself (default: its native choice, the same "
                             "rows) or doralens's sha_key recomputed by an exact SQL macro (slow in SQL)")
    parser.add_argument("--check-keys", action="store_true",
                        help="also check that no natural key appears twice in the live segments")
    args = parser.parse_args()
    if not (args.doralens.is_file() and os.access(args.doralens, os.X_OK)):
        parser.error(f"--doralens {args.doralens}: no executable there; pass the doralens binary "
                     "(cargo build --release: target/release/doralens)")
    if not (args.warehouse / "deployments" / "_manifest.json").is_file():
        parser.error(f"--warehouse {args.warehouse}: not a warehouse (no deployments/_manifest.json); "
                     "pass the organisation's directory, e.g. .../doralens-bench/t10-s5-i8")
    if args.runs < 0:
        parser.error("--runs must be 0 or more")
    return args


def summary(runs: list[Run]) -> tuple[float, float, float, float]:
    walls = [r.wall_s for r in runs]
    return statistics.median(walls), min(walls), max(walls), max(r.peak_mib for r in runs)


def main() -> int:
    args = arguments()
    work = args.out.resolve() if args.out else Path(tempfile.mkdtemp(prefix="doralens-duckdb-"))
    (work / "cwd").mkdir(parents=True, exist_ok=True)
    try:
        return compare(args, work)
    except Failure as e:
        sys.stdout.flush()
        print(f"\nFAILED: {e}", file=sys.stderr)
        return 1
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


def compare(args: argparse.Namespace, work: Path) -> int:
    sides = Sides(doralens=args.doralens.resolve(), warehouse=args.warehouse.resolve(), work=work)
    version = ensure_duckdb(sides.python)
    tasks = select_tasks(args.task, sides.warehouse, args.keys)
    load_before = os.getloadavg()

    print(f"warehouse: {sides.warehouse}")
    if args.check_keys:
        print("natural keys over the live segments:")
        lines = check_keys(sides)
        for line in lines:
            print(f"  {line}")
        if any("SUPERSEDED" in line for line in lines):
            raise Failure("a key appears twice: DuckDB would need doralens's upsert rule")

    print("\nchecking that both sides return the same rows")
    failed = False
    for task in tasks:
        sides.run(sides.doralens_cmd(task), f"{safe(task.name)}.doralens")
        sides.run(sides.duckdb_cmd(task), f"{safe(task.name)}.duckdb")
        agreement = compare_csv(work / f"{safe(task.name)}.doralens.csv", work / f"{safe(task.name)}.duckdb.csv")
        if agreement.differences:
            failed = True
            print(f"  {task.name}: DIFFERENT")
            for d in agreement.differences:
                print("    " + d.replace("\n", "\n    "))
        else:
            print(f"  {task.name}: same ({agreement.rows} rows x {agreement.cells // max(agreement.rows, 1)} "
                  f"columns; largest relative difference {agreement.max_relative:.1e})")
    if failed:
        raise Failure("doralens and DuckDB return different results (outputs: --out DIR keeps them)")
    if args.runs == 0:
        return 0

    print(f"\ntiming: {args.runs} rounds per task, doralens and DuckDB interleaved")
    results = {}
    for task in tasks:
        d_runs, k_runs = [], []
        for i in range(args.runs):
            d_runs.append(sides.run(sides.doralens_cmd(task), f"{safe(task.name)}.doralens.{i}"))
            k_runs.append(sides.run(sides.duckdb_cmd(task), f"{safe(task.name)}.duckdb.{i}"))
            print(f"  {task.name} round {i + 1}: doralens {d_runs[-1].wall_s:.2f} s, "
                  f"DuckDB {k_runs[-1].wall_s:.2f} s", flush=True)
        results[task.name] = (summary(d_runs), summary(k_runs))
    empty = [sides.run(sides.empty_cmd(), f"empty.{i}") for i in range(args.runs)]
    doralens_empty = [sides.run(sides.doralens_empty_cmd(), f"empty.doralens.{i}") for i in range(args.runs)]
    load_after = os.getloadavg()

    print()
    print("| task | doralens median s | min | max | peak MiB | DuckDB median s | min | max | peak MiB "
          "| DuckDB / doralens |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (d, k) in results.items():
        print(f"| {name} | {d[0]:.2f} | {d[1]:.2f} | {d[2]:.2f} | {d[3]:.0f} "
              f"| {k[0]:.2f} | {k[1]:.2f} | {k[2]:.2f} | {k[3]:.0f} | {k[0] / d[0]:.2f} |")
    e = summary(empty)
    de = summary(doralens_empty)
    print(f"\nDuckDB start-up alone (Python, import duckdb, an empty query): median {e[0]:.2f} s "
          f"(min {e[1]:.2f}, max {e[2]:.2f}), peak {e[3]:.0f} MiB; it is part of every DuckDB time above.")
    print(f"doralens start-up alone (open the snapshot, register the tables, an empty query): median "
          f"{de[0]:.2f} s (min {de[1]:.2f}, max {de[2]:.2f}), peak {de[3]:.0f} MiB.")
    print("\nThe SQL part (each side's median less its own start-up's median):\n")
    print("| task | doralens s | DuckDB s | DuckDB / doralens |")
    print("|---|---:|---:|---:|")
    for name, (d, k) in results.items():
        sql_d, sql_k = d[0] - de[0], k[0] - e[0]
        ratio = f"{sql_k / sql_d:.2f}" if sql_d > 0 else "n/a"
        print(f"| {name} | {sql_d:.2f} | {sql_k:.2f} | {ratio} |")
    print(f"machine: {os.cpu_count()} cores; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after; DuckDB {version} at {duckdb_threads(sides.python)} threads; "
          f"doralens {sides.doralens}; DuckDB's commit join key: {args.keys}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
