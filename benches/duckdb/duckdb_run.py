"""DuckDB's side of the comparison, one process per run: an in-memory DuckDB
with a view per warehouse table over exactly the Parquet files doralens
reads, then a translated script (translate.py), its last statement's rows
written to stdout as CSV.

    python3 duckdb_run.py --warehouse DIR --script SCRIPT.json
    python3 duckdb_run.py --empty      # Python, `import duckdb` and an empty query

SCRIPT.json is a JSON list of statements; compare.py writes it. DuckDB runs
with its default settings (threads: every core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# The production pattern attribution was computed with (doralens's default
# `--environment`), part of the stamp that names the live generation.
DEFAULT_PRODUCTION = "(?i)^(?:production|prod)$"
ATTRIBUTION_VERSION = 2  # src/engine/materialised.rs
DERIVED_TABLES = ["deployment_commits", "deployment_warnings"]


class WarehouseError(Exception):
    pass


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def live_segments(root: Path) -> dict[str, list[Path]]:
    """Each table's live segments at the warehouse's committed state: the
    files its `_manifest.json` lists under `segments` (retired ones are
    not read), each checked present with its recorded size, as doralens's
    Snapshot::verify does (src/store/warehouse.rs)."""
    tables: dict[str, list[Path]] = {}
    for manifest_path in sorted(root.glob("*/_manifest.json")):
        table = manifest_path.parent.name
        manifest = json.loads(manifest_path.read_text())
        files = []
        for seg in manifest["segments"]:
            path = manifest_path.parent / seg["file"]
            if not path.is_file():
                raise WarehouseError(f"{path}: a segment the `{table}` manifest lists is missing")
            expected = seg.get("bytes")
            if expected is not None and path.stat().st_size != expected:
                raise WarehouseError(f"{path}: {path.stat().st_size} bytes, the manifest says {expected}")
            files.append(path)
        tables[table] = files
    if not tables:
        raise WarehouseError(f"{root}: no `<table>/_manifest.json`; pass the warehouse directory")
    return tables


def manifest_version(root: Path, table: str) -> int:
    return json.loads((root / table / "_manifest.json").read_text())["version"]


def attribution_files(root: Path, production: str = DEFAULT_PRODUCTION) -> dict[str, list[Path]]:
    """The derived tables of the attribution generation doralens uses: the
    one `_derived/attribution.json` names, when its stamp is the one
    doralens computes for these inputs (src/engine/materialised.rs);
    doralens would otherwise compute a new generation, which this does not."""
    pointer_path = root / "_derived" / "attribution.json"
    if not pointer_path.is_file():
        raise WarehouseError(
            f"{pointer_path} is missing: run `doralens metrics --warehouse {root}` once "
            "(it computes attribution), then again"
        )
    pointer = json.loads(pointer_path.read_text())
    stamp = (
        f"attribution-v{ATTRIBUTION_VERSION};commits={manifest_version(root, 'commits')};"
        f"deployments={manifest_version(root, 'deployments')};production={production}"
    )
    if pointer["stamp"] != stamp:
        raise WarehouseError(
            f"{pointer_path} is for `{pointer['stamp']}`, not the warehouse's `{stamp}`: "
            f"run `doralens metrics --warehouse {root}` once to recompute attribution"
        )
    generation = root / "_derived" / f"attribution-g{pointer['generation']:06d}"
    out = {}
    for table in DERIVED_TABLES:
        files = sorted((generation / table).glob("*.parquet"))
        if not files:
            raise WarehouseError(f"{generation / table}: no Parquet part")
        out[table] = files
    return out


def register_warehouse(con, root: Path) -> None:
    """Each table as `wh.<table>` over exactly its files, and as `<table>`
    over that (which a script may redefine: translate.NATIVE_KEYS)."""
    con.execute("CREATE SCHEMA wh")
    for table, files in {**live_segments(root), **attribution_files(root)}.items():
        if not files:
            raise WarehouseError(f"table `{table}` has no live segment (an empty table is not supported)")
        paths = ", ".join(_sql_string(str(f)) for f in files)
        con.execute(f"CREATE VIEW wh.{table} AS SELECT * FROM read_parquet([{paths}])")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM wh.{table}")


def write_csv(con, query: str) -> None:
    sys.stdout.flush()
    con.execute(f"COPY ({query}) TO '/dev/stdout' (FORMAT csv, HEADER true)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, help="the warehouse directory (an org of `doralens generate`)")
    parser.add_argument("--script", type=Path, help="JSON list of statements; the last one's rows are printed")
    parser.add_argument("--empty", action="store_true", help="only start DuckDB and run an empty query")
    parser.add_argument("--timings", action="store_true", help="print each statement's time to stderr")
    args = parser.parse_args()

    import duckdb

    con = duckdb.connect()
    if args.empty:
        write_csv(con, "SELECT 1 AS x WHERE false")
        return 0
    if args.warehouse is None or args.script is None:
        parser.error("pass --warehouse DIR and --script FILE (or --empty)")
    if not args.warehouse.is_dir():
        parser.error(f"--warehouse {args.warehouse}: no such directory")
    try:
        register_warehouse(con, args.warehouse.resolve())
        statements = json.loads(args.script.read_text())
        if not (isinstance(statements, list) and statements and all(isinstance(s, str) for s in statements)):
            raise ValueError("not a non-empty JSON list of statements")
    except WarehouseError as e:
        print(f"duckdb_run.py: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"duckdb_run.py: --script {args.script}: {e}", file=sys.stderr)
        return 2
    *setup, query = statements
    for statement in setup:
        started = time.perf_counter()
        con.execute(statement)
        if args.timings:
            first = statement.strip().splitlines()[0][:90]
            print(f"{time.perf_counter() - started:8.3f} s  {first}", file=sys.stderr)
    started = time.perf_counter()
    write_csv(con, query)
    if args.timings:
        print(f"{time.perf_counter() - started:8.3f} s  the result", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
