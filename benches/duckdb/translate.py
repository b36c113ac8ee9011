"""Translate doralens's bundled metric SQL into DuckDB's dialect.

The metric SQL is read from `queries/` as it is, rendered with the same
`{{name}}` literals doralens builds (src/metrics/mod.rs `params`,
src/engine/queries.rs `render`), split into statements the way the engine
splits them, and rewritten where DataFusion and DuckDB differ. doralens's
own SQL functions (`bucket_start`, `sha_key`, `duration_summary`) become
DuckDB macros with the same results, and the Rust that shapes the final rows
(src/metrics/output.rs: the level columns and the Wilson intervals) becomes
the script's last SELECT.

    python3 benches/duckdb/translate.py            # the metrics script
    python3 benches/duckdb/translate.py --by team --interval week \\
        --from 2025-01-01 --to 2026-01-01

The rules, and why each holds, are in benches/duckdb/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUERIES = REPO / "queries"

# The files `register_views` (src/metrics/mod.rs) runs after
# production_deployments.sql and the grouping file: `catalogue::views()`
# (src/metrics/catalogue.rs), i.e. grouped_deployments.sql, then each
# metric's file in catalogue order (src/metrics/catalogue/*.rs), the
# lead-time breakdown, then the governance files. Checked against the
# catalogue's sources by `check_catalogue`.
METRIC_FILES = [
    "grouped_deployments.sql",
    "deployment_frequency.sql",
    "lead_time.sql",
    "change_failure_rate.sql",
    "recovery_time.sql",
    "time_to_restore.sql",
    "rework_rate.sql",
    "change_lead_time.sql",
    "four_eyes.sql",
    "deployment_approvals.sql",
    "batch_size.sql",
    "releases.sql",
    "flag_debt.sql",
    "flag_governance.sql",
]

MICROS_PER_DAY = 86_400_000_000

# src/metrics/batch.rs DEFAULT_EXCLUDE, src/metrics/bots.rs
# DEFAULT_BOT_LOGINS, src/metrics/mod.rs defaults.
DEFAULT_BATCH_EXCLUDE = [
    "Cargo.lock", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock",
    "pnpm-lock.yaml", "go.sum", "poetry.lock", "Gemfile.lock", "composer.lock",
    "*.lock", "*.snap", "*.min.js", "vendor/", "node_modules/", "generated/",
    "dist/",
]
DEFAULT_BOT_LOGINS = ["*[bot]"]
DEFAULT_REWORK_LABELS = ["hotfix", "bug", "incident"]

# src/metrics/stats.rs Z95.
Z95 = "1.959963984540054"


class TranslationError(Exception):
    """A construct this translator does not know how to carry over."""


# ---------------------------------------------------------------------------
# Options and parameters (src/metrics/mod.rs MetricsOptions::params)
# ---------------------------------------------------------------------------


def parse_instant(text: str) -> int:
    """Microseconds since the epoch of an RFC 3339 instant or a date (UTC
    midnight), as `doralens --from/--to` read them."""
    text = text.strip()
    try:
        d = date.fromisoformat(text)
        if len(text) == 10:
            return _micros(datetime(d.year, d.month, d.day, tzinfo=timezone.utc))
    except ValueError:
        pass
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise TranslationError(f"`{text}` has no UTC offset (write ...Z or a date)")
    return _micros(t)


def _micros(t: datetime) -> int:
    delta = t - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_micros(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=us)


@dataclass
class Options:
    """The `doralens metrics` options the SQL sees (defaults as the CLI's
    when no doralens.toml is in the working directory)."""

    from_us: int
    to_us: int
    interval: str | None = None  # day, week, month, quarter; None: the window
    group: str | None = None  # team, service, repo; None: the organisation
    incident_window_us: int = 24 * 3600 * 1_000_000
    production: str = "production|prod"
    rework_labels: list[str] = field(default_factory=lambda: list(DEFAULT_REWORK_LABELS))
    include_baseline: bool = False
    bot_logins: list[str] = field(default_factory=lambda: list(DEFAULT_BOT_LOGINS))
    batch_exclude: list[str] = field(default_factory=lambda: list(DEFAULT_BATCH_EXCLUDE))
    large_change_lines: int = 400
    flag_stale_days: int = 30
    # `metrics` judges only the shipped changes (mod.rs `compute`).
    review_every_change: bool = False

    @property
    def production_anchored(self) -> str:
        # src/base/production.rs ProductionPattern::new
        return f"(?i)^(?:{self.production})$"


def string_literal(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def timestamp_literal(us: int) -> str:
    """src/engine/queries.rs timestamp_literal, in doralens's own form (the
    translation turns it into DuckDB's)."""
    return f"arrow_cast({us}, 'Timestamp(Microsecond, Some(\"UTC\"))')"


# regex-syntax's `is_meta_character`: what `regex::escape` escapes.
_RUST_REGEX_META = set("\\.+*?()|[]{}^$#&-~")


def rust_regex_escape(s: str) -> str:
    return "".join("\\" + c if c in _RUST_REGEX_META else c for c in s)


def _glob_translate(glob: str) -> str:
    """src/metrics/batch.rs `translate`."""
    out, i = [], 0
    while i < len(glob):
        c = glob[i]
        if c == "*" and glob[i + 1 : i + 2] == "*":
            i += 2
            if glob[i : i + 1] == "/":
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        else:
            out.append(rust_regex_escape(c))
        i += 1
    return "".join(out)


def glob_regex(glob: str) -> str:
    """src/metrics/batch.rs `glob_regex`."""
    glob = glob.strip()
    while glob.startswith("./"):
        glob = glob[2:]
    glob = glob.lstrip("/")
    if glob.endswith("/"):
        return f"(?:.*/)?{_glob_translate(glob[:-1])}/.*"
    if "/" in glob:
        return f"{_glob_translate(glob)}$"
    return f"(?:.*/)?{_glob_translate(glob)}$"


def batch_exclude_regex(globs: list[str]) -> str | None:
    parts = [glob_regex(g) for g in (g.strip() for g in globs) if g]
    return f"^(?:{'|'.join(parts)})" if parts else None


def bot_regex(globs: list[str]) -> str | None:
    """src/metrics/bots.rs BotRule::regex."""
    globs = [g.strip() for g in globs if g.strip()]
    if not globs:
        return None
    alternatives = [".*".join(rust_regex_escape(p) for p in g.split("*")) for g in globs]
    return f"(?i)^(?:{'|'.join(alternatives)})$"


def params(opts: Options) -> dict[str, str]:
    """MetricsOptions::params: every `{{name}}` as the SQL literal doralens
    substitutes."""
    labels = (
        ", ".join(string_literal(l.lower()) for l in opts.rework_labels)
        if opts.rework_labels
        else "NULL"
    )
    bots = bot_regex(opts.bot_logins)
    return {
        "interval": string_literal(opts.interval or "window"),
        "from": timestamp_literal(opts.from_us),
        "to": timestamp_literal(opts.to_us),
        "production_pattern": string_literal(opts.production_anchored),
        "incident_window_us": str(opts.incident_window_us),
        "include_baseline": _bool(opts.include_baseline),
        "rework_labels": labels,
        "batch_exclude": string_literal(batch_exclude_regex(opts.batch_exclude) or "^\\z."),
        "large_change_lines": str(opts.large_change_lines),
        "flag_stale_days": str(opts.flag_stale_days),
        "review_every_change": _bool(opts.review_every_change),
        "bots": _bool(bots is not None),
        "bot_pattern": string_literal(bots or ""),
    }


def _bool(b: bool) -> str:
    return "true" if b else "false"


# ---------------------------------------------------------------------------
# Buckets (src/metrics/interval.rs) and the `buckets` view (mod.rs)
# ---------------------------------------------------------------------------


def bucket_floor(us: int, interval: str) -> int:
    t = _from_micros(us)
    if interval == "day":
        d = t.date()
    elif interval == "week":
        d = t.date() - timedelta(days=t.weekday())  # ISO: Monday
    elif interval == "month":
        d = date(t.year, t.month, 1)
    elif interval == "quarter":
        d = date(t.year, (t.month - 1) // 3 * 3 + 1, 1)
    else:
        raise TranslationError(f"unknown interval `{interval}`")
    return _micros(datetime(d.year, d.month, d.day, tzinfo=timezone.utc))


def bucket_next(start: int, interval: str) -> int:
    if interval == "day":
        return start + MICROS_PER_DAY
    if interval == "week":
        return start + 7 * MICROS_PER_DAY
    months = 1 if interval == "month" else 3
    t = _from_micros(start)
    total = t.year * 12 + (t.month - 1) + months
    return _micros(datetime(total // 12, total % 12 + 1, 1, tzinfo=timezone.utc))


def buckets(opts: Options) -> list[tuple[int, float]]:
    """interval::buckets: (start, days of the bucket inside the window)."""

    def days(a: int, b: int) -> float:
        return float(b - a) / float(MICROS_PER_DAY)

    if opts.interval is None:
        return [(opts.from_us, days(opts.from_us, opts.to_us))]
    out = []
    start = bucket_floor(opts.from_us, opts.interval)
    while start < opts.to_us:
        end = bucket_next(start, opts.interval)
        out.append((start, days(max(start, opts.from_us), min(end, opts.to_us))))
        start = end
    return out


def _rust_debug_f64(v: float) -> str:
    """Rust's `{:?}` of an f64 (`7.0`, `4.5`): Python's repr agrees for the
    values a bucket can have (whole and fractional day counts)."""
    if not math.isfinite(v):
        raise TranslationError(f"a bucket of {v} days")
    return repr(v)


def buckets_statement(opts: Options) -> str:
    """The statement register_views runs, in doralens's dialect."""
    rows = ", ".join(
        f"({timestamp_literal(start)}, arrow_cast({_rust_debug_f64(d)}, 'Float64'))"
        for start, d in buckets(opts)
    )
    return (
        "CREATE OR REPLACE VIEW buckets AS SELECT column1 AS interval_start, "
        f"column2 AS days_in_window FROM (VALUES {rows}) v"
    )


# ---------------------------------------------------------------------------
# Rendering and splitting (src/engine/queries.rs)
# ---------------------------------------------------------------------------


def render(sql: str, values: dict[str, str], path: str) -> str:
    out, rest = [], sql
    while (start := rest.find("{{")) >= 0:
        out.append(rest[:start])
        after = rest[start + 2 :]
        end = after.find("}}")
        if end < 0:
            raise TranslationError(f"{path}: unclosed `{{{{`")
        name = after[:end].strip()
        if name not in values:
            raise TranslationError(f"{path}: unknown parameter `{name}`")
        out.append(values[name])
        rest = after[end + 2 :]
    out.append(rest)
    return "".join(out)


def statements(sql: str) -> list[str]:
    """queries::statements: split at `;` outside quotes, `--` comments
    dropped (their newline kept)."""
    out, current, in_string, i = [], [], False, 0
    while i < len(sql):
        c = sql[i]
        if in_string:
            current.append(c)
            if c == "'":
                in_string = False
        elif c == "'":
            in_string = True
            current.append(c)
        elif c == "-" and sql[i + 1 : i + 2] == "-":
            end = sql.find("\n", i)
            if end < 0:
                break
            current.append("\n")
            i = end
        elif c == ";":
            if "".join(current).strip():
                out.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    if "".join(current).strip():
        out.append("".join(current).strip())
    return out


def bundled_statements(relative: str, values: dict[str, str]) -> list[str]:
    """queries::bundled_statement_list for one file of queries/."""
    path = QUERIES / relative
    sql = render(path.read_text(), values, relative)
    return [
        s.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1)
        for s in statements(sql)
        if any(l.strip() and not l.strip().startswith("--") for l in s.splitlines())
    ]


# ---------------------------------------------------------------------------
# DataFusion -> DuckDB
# ---------------------------------------------------------------------------


def _skip_string(sql: str, i: int) -> int:
    """Index after the quoted literal or identifier starting at i."""
    quote = sql[i]
    j = i + 1
    while j < len(sql):
        if sql[j] == quote:
            if sql[j + 1 : j + 2] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    raise TranslationError(f"unclosed {quote} in: {sql[i:i + 60]}")


def _scan(sql: str, start: int = 0):
    """(index, character, depth) of each character of sql from start that
    is outside quotes; depth counts the parentheses open once the
    character is read (a `(` reports the depth it opens, a `)` the depth it
    returns to)."""
    depth, i = 0, start
    while i < len(sql):
        c = sql[i]
        if c in "'\"":
            i = _skip_string(sql, i)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        yield i, c, depth
        i += 1


def _call_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """The top-level arguments of the call whose `(` is at open_paren, and
    the index after its `)`."""
    start, args = open_paren + 1, []
    for i, c, depth in _scan(sql, open_paren):
        if c == ")" and depth == 0:
            args.append(sql[start:i].strip())
            return args, i + 1
        if c == "," and depth == 1:
            args.append(sql[start:i].strip())
            start = i + 1
    raise TranslationError(f"unbalanced parentheses in: {sql[open_paren:open_paren + 60]}")


def _outside_strings(sql: str):
    """(start, end) of each stretch of sql outside quotes."""
    i, start = 0, 0
    while i < len(sql):
        if sql[i] in "'\"":
            yield start, i
            i = _skip_string(sql, i)
            start = i
        else:
            i += 1
    yield start, len(sql)


def _rewrite_calls(sql: str, name: str, rewrite) -> str:
    """Replaces each call `name(...)` outside strings by
    rewrite(args, text_after_the_call)."""
    pattern = re.compile(rf"\b{name}\s*\(", re.IGNORECASE)
    out, pos = [], 0
    while True:
        match = None
        for start, end in _outside_strings(sql[pos:]):
            m = pattern.search(sql, pos + start, pos + end)
            if m:
                match = m
                break
        if match is None:
            out.append(sql[pos:])
            return "".join(out)
        args, after = _call_args(sql, match.end() - 1)
        out.append(sql[pos : match.start()])
        out.append(rewrite([translate_expression(a) for a in args], sql[after:]))
        pos = after


_TIMESTAMP_UTC = 'Timestamp(Microsecond, Some("UTC"))'


def _arrow_cast(args: list[str], _after: str) -> str:
    expr, target = args
    target = target.strip("'")
    if target == "Int64":
        # Every arrow_cast(x, 'Int64') of the bundled SQL is of a
        # TIMESTAMP(us, UTC): its microseconds since the epoch.
        return f"epoch_us({expr})"
    if target == "Float64":
        return f"CAST({expr} AS DOUBLE)"
    if target == _TIMESTAMP_UTC:
        if not re.fullmatch(r"-?\d+", expr):
            raise TranslationError(f"arrow_cast of `{expr}` to a timestamp: only literals")
        return f"TIMESTAMPTZ '{_from_micros(int(expr)).isoformat()}'"
    raise TranslationError(f"arrow_cast to {target!r} has no DuckDB rule")


def _first_value(args: list[str], after: str) -> str:
    # `first_value(x ORDER BY ...)` without OVER is DataFusion's ordered
    # aggregate; DuckDB's is `first(x ORDER BY ...)` (both keep nulls).
    if re.match(r"\s*OVER\b", after, re.IGNORECASE):
        return f"first_value({', '.join(args)})"
    return f"first({', '.join(args)})"


def _regexp_like(args: list[str], _after: str) -> str:
    if len(args) != 2:
        raise TranslationError("regexp_like with flags has no DuckDB rule")
    # Both search anywhere in the text (Rust's is_match, RE2's partial match);
    # the patterns doralens builds use only syntax both engines share.
    return f"regexp_matches({args[0]}, {args[1]})"


_FLOAT_LITERAL = re.compile(r"(?<![\w.])(\d+\.\d+)(?![\w.])")


def _double_literals(sql: str) -> str:
    """DataFusion reads `1000000.0` as a DOUBLE, DuckDB as a DECIMAL."""
    out, last = [], 0
    for start, end in _outside_strings(sql):
        out.append(sql[last:start])
        out.append(_FLOAT_LITERAL.sub(r"CAST(\1 AS DOUBLE)", sql[start:end]))
        last = end
    out.append(sql[last:])
    return "".join(out)


# Column names that DuckDB's grammar reserves where DataFusion's does not
# (`at`, as in AT TIME ZONE): quoted when they stand alone.
_RESERVED_NAMES = ["at"]


def _quote_reserved(sql: str) -> str:
    out, last = [], 0
    for start, end in _outside_strings(sql):
        out.append(sql[last:start])
        part = sql[start:end]
        for name in _RESERVED_NAMES:
            part = re.sub(rf"(?<![\w.\"]){name}(?![\w\"(])", f'"{name}"', part)
        out.append(part)
        last = end
    out.append(sql[last:])
    return "".join(out)


def translate_expression(sql: str) -> str:
    sql = _rewrite_calls(sql, "arrow_cast", _arrow_cast)
    sql = _rewrite_calls(sql, "regexp_like", _regexp_like)
    sql = _rewrite_calls(sql, "first_value", _first_value)
    return sql


def translate(statement: str, tables: set[str] = frozenset()) -> str:
    """One statement in DuckDB's dialect. A view named in `tables` (the
    engine's shared views) is created as a table: doralens computes each
    once and reads the rows after (src/metrics/mod.rs SHARED_VIEWS)."""
    sql = _double_literals(statement)
    sql = _quote_reserved(sql)
    sql = translate_expression(sql)
    # DataFusion names a VALUES list's columns column1, column2, ...;
    # DuckDB col0, col1, ...
    sql = re.sub(
        r"FROM \(VALUES (.*)\) v$",
        lambda m: f"FROM (VALUES {m.group(1)}) v(column1, column2)",
        sql,
        flags=re.DOTALL,
    )
    m = re.match(r"CREATE OR REPLACE VIEW (\w+) AS\b", sql)
    if m and m.group(1) in tables:
        sql = f"CREATE OR REPLACE TEMP TABLE {m.group(1)} AS" + sql[m.end() :]
    for construct in ("arrow_cast", "regexp_like", "make_array", "array_element"):
        if re.search(rf"\b{construct}\s*\(", sql):
            raise TranslationError(f"`{construct}` left untranslated in:\n{sql}")
    return sql


# ---------------------------------------------------------------------------
# doralens's functions as DuckDB macros
# ---------------------------------------------------------------------------

_U64 = "18446744073709551615::UHUGEINT"


def _u64(v: int) -> str:
    return f"{v}::UBIGINT"


_K1, _K2 = _u64(0x9E3779B97F4A7C15), _u64(0xC2B2AE3D27D4EB4F)

MACROS = [
    # bucket_start(ts, interval, origin): src/metrics/mod.rs BucketStart and
    # interval::floor. UTC calendar buckets (the session's TimeZone is UTC),
    # ISO weeks from Monday; 'window' is the origin.
    """CREATE OR REPLACE MACRO bucket_start(ts, iv, origin) AS
    CASE iv
        WHEN 'day' THEN date_trunc('day', ts)
        WHEN 'week' THEN date_trunc('week', ts)
        WHEN 'month' THEN date_trunc('month', ts)
        WHEN 'quarter' THEN date_trunc('quarter', ts)
        WHEN 'window' THEN origin
        ELSE error('bucket_start: unknown interval ' || iv)
    END""",
    # sha_key(sha): src/store/keys.rs sha_key and sha_key_bytes, two
    # multiply-rotate chains over little-endian 8-byte words, then a 64-bit
    # avalanche each, as 16 big-endian bytes. Wrapping 64-bit products are
    # taken in UHUGEINT and masked; shas are ASCII (hex), so characters are
    # bytes.
    f"CREATE OR REPLACE MACRO dl_mul(x, k) AS ((x::UHUGEINT * k::UHUGEINT) & {_U64})::UBIGINT",
    f"""CREATE OR REPLACE MACRO dl_rotl(x, r) AS
    ((x::UHUGEINT << r::UHUGEINT) & {_U64})::UBIGINT | (x::UBIGINT >> (64 - r)::UBIGINT)""",
    f"""CREATE OR REPLACE MACRO dl_avalanche(x) AS
    list_transform([dl_mul(xor(x, x >> 33::UBIGINT), {_u64(0xFF51AFD7ED558CCD)})], lambda y:
        list_transform([dl_mul(xor(y, y >> 33::UBIGINT), {_u64(0xC4CEB9FE1A85EC53)})], lambda z:
            xor(z, z >> 33::UBIGINT))[1])[1]""",
    """CREATE OR REPLACE MACRO dl_word(s, i) AS
    ('0x' || hex(reverse(substr(s, 8 * i + 1, 8))))::UBIGINT""",
    f"""CREATE OR REPLACE MACRO sha_key(s) AS
    CASE WHEN s IS NOT NULL THEN list_transform([list_reduce(
        list_transform(range(0, (strlen(s) + 7) // 8), lambda i: dl_word(s, i)),
        lambda st, w: {{'a': dl_rotl(dl_mul(xor(st.a, w), {_K1}), 27),
                        'b': dl_rotl(dl_mul(xor(st.b, dl_rotl(w, 19)), {_K2}), 31)}},
        {{'a': xor({_K1}, strlen(s)::UBIGINT), 'b': xor({_K2}, dl_rotl(strlen(s)::UBIGINT, 32))}})],
      lambda st: unhex(printf('%016x%016x',
          dl_avalanche(xor(st.a, dl_rotl(st.b, 13))),
          dl_avalanche(xor(xor(st.b, dl_rotl(st.a, 41)), {_K1})))))[1]
    END""",
    # duration_summary(x): src/metrics/stats.rs summarise over the non-null
    # values. p50 and p90 interpolate between closest ranks (numpy type 7:
    # h = (n - 1) p); the median's interval is the order statistics of
    # ranks j = max(1, floor(n/2 - z sqrt(n)/2)) and
    # k = min(n, ceil(1 + n/2 + z sqrt(n)/2)), every step in doubles as in
    # Rust. An empty sample gives a struct of nulls, as the Rust aggregate.
    """CREATE OR REPLACE MACRO dl_quantile7(v, p) AS
    CASE WHEN floor((len(v) - 1)::DOUBLE * p)::BIGINT + 1 >= len(v)
              OR (len(v) - 1)::DOUBLE * p = floor((len(v) - 1)::DOUBLE * p)
         THEN v[floor((len(v) - 1)::DOUBLE * p)::BIGINT + 1]
         ELSE v[floor((len(v) - 1)::DOUBLE * p)::BIGINT + 1]
              + ((len(v) - 1)::DOUBLE * p - floor((len(v) - 1)::DOUBLE * p))
                * (v[floor((len(v) - 1)::DOUBLE * p)::BIGINT + 2]
                   - v[floor((len(v) - 1)::DOUBLE * p)::BIGINT + 1])
    END""",
    f"""CREATE OR REPLACE MACRO dl_rank_low(n) AS
    least(greatest(floor(n::DOUBLE / 2.0::DOUBLE - '{Z95}'::DOUBLE * sqrt(n::DOUBLE) / 2.0::DOUBLE),
                   1.0::DOUBLE), n::DOUBLE)::BIGINT""",
    f"""CREATE OR REPLACE MACRO dl_rank_high(n) AS
    greatest(least(ceil(1.0::DOUBLE + n::DOUBLE / 2.0::DOUBLE
                        + '{Z95}'::DOUBLE * sqrt(n::DOUBLE) / 2.0::DOUBLE),
                   n::DOUBLE), 1.0::DOUBLE)::BIGINT""",
    """CREATE OR REPLACE MACRO dl_summary_of_sorted(v) AS
    CASE WHEN len(v) = 0
         THEN {'p50': NULL::DOUBLE, 'p90': NULL::DOUBLE,
               'p50_low': NULL::DOUBLE, 'p50_high': NULL::DOUBLE}
         ELSE {'p50': dl_quantile7(v, '0.5'::DOUBLE), 'p90': dl_quantile7(v, '0.9'::DOUBLE),
               'p50_low': v[dl_rank_low(len(v))], 'p50_high': v[dl_rank_high(len(v))]}
    END""",
    """CREATE OR REPLACE MACRO duration_summary(x) AS
    list_transform([coalesce(list(CAST(x AS DOUBLE) ORDER BY CAST(x AS DOUBLE))
                                 FILTER (WHERE x IS NOT NULL), []::DOUBLE[])],
                   lambda v: dl_summary_of_sorted(v))[1]""",
    # src/metrics/stats.rs wilson(x, n), for output.rs's interval columns:
    # null when n = 0; counts null as 0.
    f"""CREATE OR REPLACE MACRO dl_wilson(x, n) AS
    CASE WHEN coalesce(n, 0) > 0 THEN list_transform(
        [{{'p': greatest(coalesce(x, 0), 0)::DOUBLE / n::DOUBLE, 'n': n::DOUBLE,
           'z': '{Z95}'::DOUBLE}}],
        lambda w: {{
            'low': greatest((w.p + w.z * w.z / (2.0::DOUBLE * w.n)) / (1.0::DOUBLE + w.z * w.z / w.n)
                            - w.z * sqrt(w.p * (1.0::DOUBLE - w.p) / w.n
                                         + w.z * w.z / (4.0::DOUBLE * w.n * w.n))
                              / (1.0::DOUBLE + w.z * w.z / w.n), 0.0::DOUBLE),
            'high': least((w.p + w.z * w.z / (2.0::DOUBLE * w.n)) / (1.0::DOUBLE + w.z * w.z / w.n)
                          + w.z * sqrt(w.p * (1.0::DOUBLE - w.p) / w.n
                                       + w.z * w.z / (4.0::DOUBLE * w.n * w.n))
                            / (1.0::DOUBLE + w.z * w.z / w.n), 1.0::DOUBLE)}})[1]
    END""",
]

# How a DuckDB session must be set up for the macros and the timestamps:
# date_trunc and the buckets follow the session's time zone.
SESSION = ["SET TimeZone = 'UTC'"]

# The join key each engine uses natively. doralens joins commits on
# `sha_key`, a 128-bit hash that attribution stores beside the sha and that
# its Rust function `sha_key(sha)` computes (src/store/keys.rs). The exact
# macro above reproduces it byte for byte, but in SQL it costs DuckDB about
# 14 s for the metrics' 13 M shas, where doralens pays 0.6 s. Every use of
# `sha_key` in the bundled SQL is an equality join or a distinct count, so
# joining on the sha itself gives the same rows (a different answer needs
# two shas with one 128-bit key). With `keys="sha"` (the default) DuckDB
# does that: `sha_key(x)` is `x`, and deployment_commits' `sha_key` column
# is its `sha` (duckdb_run.py registers the Parquet files as `wh.<table>`).
NATIVE_KEYS = [
    "CREATE OR REPLACE MACRO sha_key(s) AS s",
    "CREATE OR REPLACE VIEW deployment_commits AS SELECT * REPLACE (sha AS sha_key) FROM wh.deployment_commits",
]


def session(keys: str) -> list[str]:
    """The statements before any query: settings, doralens's functions and,
    for `keys="sha"`, the sha as the commits' join key (NATIVE_KEYS)."""
    if keys not in ("sha", "sha_key"):
        raise TranslationError(f"keys: `sha` or `sha_key`, not `{keys}`")
    return list(SESSION) + list(MACROS) + (NATIVE_KEYS if keys == "sha" else [])


# ---------------------------------------------------------------------------
# The final rows (src/metrics/output.rs)
# ---------------------------------------------------------------------------

# (metric column, level column), in catalogue order (catalogue::levelled()).
LEVELS = [
    ("deploys_per_day", "df_level"),
    ("lead_time_p50_s", "lt_level"),
    ("change_failure_rate", "cfr_level"),
    ("recovery_time_p50_s", "rt_level"),
]
# Wilson intervals (catalogue: Method::Wilson): (metric, successes, trials).
WILSON = [
    ("change_failure_rate", "failed_deployments", "deployments"),
    ("rework_rate", "rework_deployments", "deployments"),
]


def level_bands(benchmark: str = "dora-2023") -> dict[str, list[tuple[str, str, float]]]:
    """queries/levels/<benchmark>.csv as Benchmark::parse reads it: per
    metric, its (level, comparison, threshold) rows in file order."""
    text = (QUERIES / "levels" / f"{benchmark}.csv").read_text()
    rows = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    header, body = rows[0].split(","), rows[1:]
    if header != ["metric", "level", "comparison", "threshold"]:
        raise TranslationError(f"{benchmark}: only unscored benchmarks are translated")
    bands: dict[str, list[tuple[str, str, float]]] = {}
    for row in csv.reader(io.StringIO("\n".join(body))):
        metric, level, comparison, threshold = row
        if comparison not in (">=", ">", "<=", "<"):
            raise TranslationError(f"{benchmark}: comparison `{comparison}` not translated")
        if "/" in threshold:
            a, b = threshold.split("/", 1)
            value = float(a.strip()) / float(b.strip())
        else:
            value = float(threshold.strip())
        bands.setdefault(metric, []).append((level, comparison, value))
    return bands


def _level_case(metric: str, bands: list[tuple[str, str, float]]) -> str:
    v = f"CAST({metric} AS DOUBLE)"
    whens = " ".join(
        f"WHEN {v} {cmp} '{threshold!r}'::DOUBLE THEN '{level}'"
        for level, cmp, threshold in bands
    )
    return f"CASE WHEN {v} IS NULL OR isnan({v}) THEN NULL {whens} ELSE 'low' END"


def shaped_metrics(sql_columns: list[str], opts: Options, benchmark: str = "dora-2023") -> str:
    """output::shape over the rows of metrics.sql (a relation `m`): the
    group column renamed, `interval_start` dropped for whole-window rows,
    the levels and the Wilson intervals inserted after `rework_rate`."""
    bands = level_bands(benchmark)
    columns = []
    if opts.group:
        columns.append(f"grp AS {opts.group}")
    if opts.interval:
        columns.append("interval_start")
    for name in sql_columns:
        if name in ("grp", "interval_start"):
            continue
        columns.append(name)
        if name == "rework_rate":
            columns += [f"{_level_case(m, bands[m])} AS {level}" for m, level in LEVELS]
            for metric, x, n in WILSON:
                columns.append(f"dl_wilson({x}, {n})['low'] AS {metric}_low")
                columns.append(f"dl_wilson({x}, {n})['high'] AS {metric}_high")
    return "SELECT " + ",\n       ".join(columns) + "\nFROM m"


# ---------------------------------------------------------------------------
# The whole metrics script
# ---------------------------------------------------------------------------


def shared_views() -> set[str]:
    """SHARED_VIEWS of src/metrics/mod.rs."""
    source = (REPO / "src" / "metrics" / "mod.rs").read_text()
    m = re.search(r"pub const SHARED_VIEWS: \[&str; (\d+)\] = \[(.*?)\];", source, re.DOTALL)
    if not m:
        raise TranslationError("SHARED_VIEWS not found in src/metrics/mod.rs")
    names = re.findall(r'"(\w+)"', m.group(2))
    if len(names) != int(m.group(1)):
        raise TranslationError("SHARED_VIEWS: could not read every name")
    return set(names)


def check_catalogue() -> None:
    """Every metric file the catalogue names is in METRIC_FILES."""
    named = set()
    for rs in (REPO / "src" / "metrics" / "catalogue").glob("*.rs"):
        named |= set(re.findall(r'query_file!\("([\w/]+\.sql)"\)', rs.read_text()))
    missing = named - set(METRIC_FILES)
    if missing:
        raise TranslationError(
            f"src/metrics/catalogue names {sorted(missing)}, which METRIC_FILES lacks: "
            "add them in the order catalogue::views() registers them"
        )


def select_names(query: str) -> list[str]:
    """The output names of a query's last top-level SELECT list (each item
    `... AS name` or `alias.column`), read from the text."""
    upper = query.upper()
    select_at = None
    for i, _, depth in _scan(query):
        if depth == 0 and re.match(r"\bSELECT\b", upper[i : i + 7]) and (
            i == 0 or not (query[i - 1].isalnum() or query[i - 1] == "_")
        ):
            select_at = i + len("SELECT")
    if select_at is None:
        raise TranslationError("no top-level SELECT")
    items, start = [], select_at
    for i, c, depth in _scan(query, select_at):
        if depth == 0 and c == ",":
            items.append(query[start:i])
            start = i + 1
        elif depth == 0 and re.match(r"\sFROM\s", query[i : i + 6]):
            items.append(query[start:i])
            break
    names = []
    for item in items:
        m = re.search(r"(?:\bAS\s+|\.)(\w+)\s*$", item.strip(), re.IGNORECASE)
        if not m:
            raise TranslationError(f"cannot tell the name of `{item.strip()}`")
        names.append(m.group(1))
    return names


@dataclass
class Script:
    """The DuckDB statements of one run: set-up (session, macros, views),
    then the query whose rows are the result."""

    setup: list[str]
    query: str

    def statements(self) -> list[str]:
        return [*self.setup, self.query]


def metrics_script(opts: Options, keys: str = "sha") -> Script:
    """`doralens metrics` as DuckDB statements: the views of
    register_views, then metrics.sql shaped as output.rs shapes it."""
    check_catalogue()
    values = params(opts)
    tables = shared_views()
    setup = session(keys)
    setup.append(translate(buckets_statement(opts)))
    group_file = f"groups/{opts.group or 'organisation'}.sql"
    for relative in ["production_deployments.sql", group_file, *METRIC_FILES]:
        setup += [translate(s, tables) for s in bundled_statements(relative, values)]
    (final,) = [translate(s) for s in bundled_statements("metrics.sql", values)]
    order = re.search(r"ORDER BY a\.grp, b\.interval_start\s*$", final)
    if not order:
        raise TranslationError("metrics.sql no longer ends with ORDER BY a.grp, b.interval_start")
    shaped = shaped_metrics(select_names(final), opts)
    query = f"WITH m AS (\n{final[: order.start()]}\n)\n{shaped}\nORDER BY grp, interval_start"
    return Script(setup=setup, query=query)


def sql_script(query: str, keys: str = "sha") -> Script:
    """A query for `doralens sql` (doralens's dialect) as DuckDB statements:
    doralens's functions are there as in `doralens sql`."""
    (statement,) = statements(query)
    return Script(setup=session(keys), query=translate(statement))


def options_from_args(args: argparse.Namespace) -> Options:
    return Options(
        from_us=parse_instant(args.from_),
        to_us=parse_instant(args.to),
        interval=args.interval,
        group=args.by,
    )


def add_window_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--by", choices=["team", "service", "repo"], default="team",
                        help="as doralens metrics --by (default: team)")
    parser.add_argument("--interval", choices=["day", "week", "month", "quarter"], default="week",
                        help="as doralens metrics --interval (default: week)")
    parser.add_argument("--from", dest="from_", metavar="FROM", default="2025-01-01",
                        help="window start, a date or RFC 3339 instant (default: 2025-01-01)")
    parser.add_argument("--to", metavar="TO", default="2026-01-01",
                        help="window end, exclusive (default: 2026-01-01)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_window_arguments(parser)
    args = parser.parse_args()
    for statement in metrics_script(options_from_args(args)).statements():
        print(statement + ";\n")


if __name__ == "__main__":
    try:
        main()
    except TranslationError as e:
        sys.exit(f"translate.py: {e}")
