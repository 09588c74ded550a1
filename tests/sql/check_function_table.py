#!/usr/bin/env python3
"""Keeps docs/reference/kda-functions.md honest (ctest `function_table`).

Usage:
  python3 tests/sql/check_function_table.py [--eddy PATH] [--doc PATH] [-v]

Reads the function table of docs/reference/kda-functions.md: every markdown table whose header's first
cell is `function`. Its first column holds function names in backticks (`A`, `B` are two functions of
one state; `A` / `B` are synonyms of one reference topic, counted once), its second column starts with
the state: `supported`, `partly` or `missing`. Then:

  * supported / partly: some golden case in tests/sql/*.test must call every name in its `--- sql`
    section (case-insensitive; SQL comments, string literals and quoted identifiers do not count;
    Flink SQL cases and `--- compile-error` cases do not count). A call is the name followed by
    optional spaces and `(`; CURRENT_DATE, CURRENT_TIME, CURRENT_TIMESTAMP, LOCALTIME,
    LOCALTIMESTAMP and CURRENT_ROW_TIMESTAMP are called as bare words; the table functions are
    called as `TABLE(name(`.
  * missing: `eddy sql run` must refuse a small application calling it (SAMPLES below): exit code 1
    and a message "unknown function NAME" / "unknown table function NAME". Exit 0 means the function
    compiles now: the table is stale. Any other refusal means the sample itself is wrong.
  * the page's counts line (`**N functions ...: N supported, N partly, N missing.**`) matches the table.

Each problem is one line saying what to do; exits 1 if there is any, else 0 with a one-line summary.
Standard library only.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(REPO, "docs", "reference", "kda-functions.md")
TIMEOUT_S = 30
STATES = ("supported", "partly", "missing")

BARE_WORDS = {"CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP",
              "CURRENT_ROW_TIMESTAMP"}
TABLE_FUNCTIONS = {"TOP_K_ITEMS_TUMBLING", "COUNT_DISTINCT_ITEMS_TUMBLING", "RANDOM_CUT_FOREST",
                   "RANDOM_CUT_FOREST_WITH_EXPLANATION", "HOTSPOTS", "GROUP_RANK"}

# ---------------------------------------------------------------------------------------------
# Applications for the functions marked missing. The input stream SOURCE_SQL_STREAM_001 has columns
# "n" INTEGER, "d" DOUBLE, "w" VARCHAR(64), "b" BOOLEAN (SCHEMA below). Each sample is
# (columns of DESTINATION_SQL_STREAM, the pump's query), written as the reference page uses the
# function, so that it compiles once the function is built (then: update the table, add a golden case).

SRC = '"SOURCE_SQL_STREAM_001"'
CURSOR = 'CURSOR(SELECT STREAM * FROM %s)' % SRC
ALL_COLUMNS = '"n" INTEGER, "d" DOUBLE, "w" VARCHAR(64), "b" BOOLEAN'
SAMPLES = {
    "EXP_AVG": ('"v" DOUBLE',
                "SELECT STREAM EXP_AVG(\"d\", INTERVAL '30' SECOND) OVER (RANGE INTERVAL '30' SECOND PRECEDING) "
                "FROM %s" % SRC),
    "ANY": ('"v" BOOLEAN',
            "SELECT STREAM ANY(\"b\") OVER (RANGE INTERVAL '1' MINUTE PRECEDING) FROM %s" % SRC),
    "EVERY": ('"v" BOOLEAN',
              "SELECT STREAM EVERY(\"b\") OVER (RANGE INTERVAL '1' MINUTE PRECEDING) FROM %s" % SRC),
    "DATE_TO_CHAR": ('"v" VARCHAR(32)',
                     "SELECT STREAM DATE_TO_CHAR('yyyy-MM-dd', CURRENT_DATE) FROM %s" % SRC),
    "TIME_TO_CHAR": ('"v" VARCHAR(32)',
                     "SELECT STREAM TIME_TO_CHAR('HH:mm:ss', CURRENT_TIME) FROM %s" % SRC),
    "FAST_REGEX_LOG_PARSER": ('"COLUMN1" VARCHAR(1024), "COLUMN2" VARCHAR(1024)',
                              "SELECT STREAM FAST_REGEX_LOG_PARSER(\"w\", '(\\w+) (\\w+)') FROM %s" % SRC),
    "FIXED_COLUMN_LOG_PARSE": ('"c1" VARCHAR(1)',
                               "SELECT STREAM FIXED_COLUMN_LOG_PARSE(\"w\", 'c1 TYPE VARCHAR(1) START 0 FOR 1') "
                               "FROM %s" % SRC),
    "REGEX_LOG_PARSE": ('"COLUMN1" VARCHAR(1024), "COLUMN2" VARCHAR(1024)',
                        "SELECT STREAM REGEX_LOG_PARSE(\"w\", '(\\w+) (\\w+)') FROM %s" % SRC),
    "SYS_LOG_PARSE": ('"COLUMN1" TIMESTAMP, "COLUMN2" VARCHAR(1024)',
                      "SELECT STREAM SYS_LOG_PARSE(\"w\") FROM %s" % SRC),
    "VARIABLE_COLUMN_LOG_PARSE": ('"COLUMN1" VARCHAR(1024), "COLUMN2" VARCHAR(1024)',
                                  "SELECT STREAM VARIABLE_COLUMN_LOG_PARSE(\"w\", 2, ' ') FROM %s" % SRC),
    "W3C_LOG_PARSE": ('"COLUMN1" VARCHAR(1024)',
                      "SELECT STREAM W3C_LOG_PARSE(\"w\", 'COMMON') FROM %s" % SRC),
    "GROUP_RANK": (ALL_COLUMNS + ', "r" INTEGER',
                   "SELECT STREAM * FROM TABLE(GROUP_RANK(%s, 'n', 'r', 'asc', 'asc', 5, 100))" % CURSOR),
    "HOTSPOTS": (ALL_COLUMNS + ', "HOTSPOTS_RESULT" VARCHAR(10000)',
                 "SELECT STREAM * FROM TABLE(HOTSPOTS(%s, 100, 0.2, 3))" % CURSOR),
    "RANDOM_CUT_FOREST": (ALL_COLUMNS + ', "ANOMALY_SCORE" DOUBLE',
                          "SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST(%s))" % CURSOR),
    "RANDOM_CUT_FOREST_WITH_EXPLANATION": (
        ALL_COLUMNS + ', "ANOMALY_SCORE" DOUBLE, "ANOMALY_EXPLANATION" VARCHAR(20480)',
        "SELECT STREAM * FROM TABLE(RANDOM_CUT_FOREST_WITH_EXPLANATION(%s, 100, 256, 100000, 1, false))" % CURSOR),
    "LAG": ('"v" INTEGER',
            "SELECT STREAM LAG(\"n\", 1) OVER (ROWS 2 PRECEDING) FROM %s" % SRC),
    "MONOTONIC": ('"k" INTEGER, "c" BIGINT',
                  "SELECT STREAM MONOTONIC(\"n\"), COUNT(*) FROM %s GROUP BY MONOTONIC(\"n\")" % SRC),
    "NTH_VALUE": ('"v" INTEGER',
                  "SELECT STREAM NTH_VALUE(\"n\", 2) OVER (ROWS 3 PRECEDING) FROM %s" % SRC),
}
SCHEMA = ('{"RecordFormat": {"RecordFormatType": "JSON", "MappingParameters": {"JSONMappingParameters": '
          '{"RecordRowPath": "$"}}}, "RecordEncoding": "UTF-8", "RecordColumns": ['
          '{"Name": "n", "Mapping": "$.n", "SqlType": "INTEGER"}, {"Name": "d", "Mapping": "$.d", "SqlType": "DOUBLE"}, '
          '{"Name": "w", "Mapping": "$.w", "SqlType": "VARCHAR(64)"}, '
          '{"Name": "b", "Mapping": "$.b", "SqlType": "BOOLEAN"}]}')
INPUT = '{"n": 1, "d": 2.5, "w": "GET index", "b": true}\n'


# ---------------------------------------------------------------------------------------------
# The table

class Row:
    def __init__(self, lineno, groups, state):
        self.lineno = lineno
        self.groups = groups  # [[name, synonym...], ...]
        self.state = state

    def names(self):
        return [n for g in self.groups for n in g]


def split_cells(line):
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", body)]


def parse_table(path, problems):
    """Rows of every table whose header's first cell is 'function'."""
    rows = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    in_table = False
    for i, line in enumerate(lines, 1):
        if not line.strip().startswith("|"):
            in_table = False
            continue
        cells = split_cells(line)
        if not in_table:
            # A header row, followed by the |---| line.
            nxt = lines[i] if i < len(lines) else ""
            if cells and cells[0].lower() == "function" and re.match(r"^\s*\|?\s*:?-{3,}", nxt):
                in_table = True
            continue
        if re.match(r"^\s*\|?\s*:?-{3,}", line):
            continue
        if len(cells) < 2:
            problems.append("%s:%d: a function row needs at least two cells" % (rel(path), i))
            continue
        first = cells[0]
        groups = []
        for part in first.split(","):
            names = re.findall(r"`([^`]+)`", part)
            if not names:
                continue
            if re.sub(r"`[^`]+`|/|\s", "", part):
                problems.append("%s:%d: first cell %r: write names in backticks, separated by ',' (or '/' for "
                                "synonyms)" % (rel(path), i, first))
            groups.append([n.strip().upper() for n in names])
        if not groups:
            problems.append("%s:%d: first cell %r names no function in backticks" % (rel(path), i, first))
            continue
        m = re.match(r"^\**([A-Za-z]+)", cells[1])
        state = m.group(1).lower() if m else ""
        if state not in STATES:
            problems.append("%s:%d: state %r must start with supported, partly or missing"
                            % (rel(path), i, cells[1][:40]))
            continue
        rows.append(Row(i, groups, state))
    return rows


def check_counts(path, rows, problems):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"\*\*(\d+) functions[^:*]*: (\d+) supported, (\d+) partly, (\d+) missing\.?\*\*", text)
    counts = {s: sum(len(r.groups) for r in rows if r.state == s) for s in STATES}
    total = sum(counts.values())
    if not m:
        problems.append("%s: no counts line '**N functions ...: N supported, N partly, N missing.**'; add one "
                        "(the table has %d: %d supported, %d partly, %d missing)"
                        % (rel(path), total, counts["supported"], counts["partly"], counts["missing"]))
        return counts
    want = tuple(int(x) for x in m.groups())
    got = (total, counts["supported"], counts["partly"], counts["missing"])
    if want != got:
        problems.append("%s: the counts line says %d functions: %d supported, %d partly, %d missing; the table "
                        "has %d: %d supported, %d partly, %d missing: update the counts line"
                        % ((rel(path),) + want + got))
    return counts


# ---------------------------------------------------------------------------------------------
# Golden cases

FLINK_RE = re.compile(r"(^|;)\s*(CREATE\s+(TEMPORARY\s+)?TABLE|INSERT)\b", re.IGNORECASE)
CASE_RE = re.compile(r"^=== (.*?)\s*$")
SECTION_RE = re.compile(r"^--- ([a-z-]+)")


def strip_sql(sql):
    """The SQL without comments, string literals and quoted identifiers (each becomes a space)."""
    out = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif c == "/" and sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def golden_sql():
    """(file:line of the case, stripped SQL) for every KDA case that is run for its output."""
    cases = []
    for name in sorted(os.listdir(TESTS_DIR)):
        if not name.endswith(".test"):
            continue
        path = os.path.join(TESTS_DIR, name)
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        case = None  # [label, sql lines, compile-error?]
        section = None
        for lineno, line in enumerate(lines, 1):
            if CASE_RE.match(line):
                case = ["%s:%d" % (name, lineno), [], False]
                cases.append(case)
                section = None
                continue
            m = SECTION_RE.match(line)
            if m and case is not None:
                section = m.group(1)
                if section == "compile-error":
                    case[2] = True
                continue
            if case is not None and section == "sql" and not line.startswith("#"):
                case[1].append(line)
    out = []
    for label, sql_lines, compile_error in cases:
        sql = "\n".join(sql_lines)
        if compile_error or FLINK_RE.search(sql):
            continue
        out.append((label, strip_sql(sql)))
    return out


def call_pattern(name):
    word = re.escape(name)
    if name in BARE_WORDS:
        return re.compile(r"(?<![\w.$])%s(?![\w$])" % word, re.IGNORECASE)
    if name in TABLE_FUNCTIONS:
        return re.compile(r"(?<![\w.$])TABLE\s*\(\s*%s\s*\(" % word, re.IGNORECASE)
    return re.compile(r"(?<![\w.$])%s\s*\(" % word, re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# eddy sql run

def run_sample(eddy, workdir, name, verbose):
    """None when eddy refuses the sample as an unknown function, else a problem line."""
    if name not in SAMPLES:
        return ("%s is marked missing but has no sample application: add one to SAMPLES in "
                "tests/sql/check_function_table.py" % name)
    columns, query = SAMPLES[name]
    sql = ('CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" (%s);\n'
           'CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"\n  %s;\n' % (columns, query))
    paths = {k: os.path.join(workdir, k) for k in ("app.sql", "schema.json", "events.ndjson")}
    with open(paths["app.sql"], "w", encoding="utf-8") as f:
        f.write(sql)
    with open(paths["schema.json"], "w", encoding="utf-8") as f:
        f.write(SCHEMA)
    with open(paths["events.ndjson"], "w", encoding="utf-8") as f:
        f.write(INPUT)
    cmd = [eddy, "sql", "run", "--sql", paths["app.sql"], "--input-schema", paths["schema.json"],
           "--input", paths["events.ndjson"], "--output", "DESTINATION_SQL_STREAM"]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S, cwd=workdir)
    except subprocess.TimeoutExpired:
        return "%s: eddy sql run timed out after %d s on its sample" % (name, TIMEOUT_S)
    except OSError as e:
        raise SystemExit("check_function_table.py: cannot run %s: %s" % (eddy, e))
    err = p.stderr.decode("utf-8", "replace").strip()
    if verbose:
        print("  %s: exit %d: %s" % (name, p.returncode, err.split("\n")[0] if err else "(no message)"))
    if p.returncode == 0:
        return ("%s is marked missing but eddy sql run compiles and runs it now: mark it supported or partly in "
                "docs/reference/kda-functions.md and add a golden case calling it" % name)
    first = err.split("\n")[0] if err else "(no message)"
    if p.returncode != 1:
        return "%s: eddy sql run exited %d on its sample (not a compile error): %s" % (name, p.returncode, first)
    if not re.search(r"unknown (table )?function %s\b" % re.escape(name), err, re.IGNORECASE):
        return ("%s: eddy sql run refuses its sample for another reason (%s): fix the sample in SAMPLES, or, if %s "
                "is built now, update docs/reference/kda-functions.md" % (name, first, name))
    return None


# ---------------------------------------------------------------------------------------------

def rel(path):
    return os.path.relpath(path, REPO) if path.startswith(REPO) else path


def default_eddy():
    return os.environ.get("EDDY_BIN") or os.path.join(REPO, "build", "release", "eddy")


def main():
    ap = argparse.ArgumentParser(description="Check docs/reference/kda-functions.md against golden cases and eddy.")
    ap.add_argument("--eddy", default=default_eddy(), help="eddy binary (default: $EDDY_BIN or build/release/eddy)")
    ap.add_argument("--doc", default=DOC, help="the function table (default: docs/reference/kda-functions.md)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print where each function is called or refused")
    a = ap.parse_args()

    eddy = a.eddy
    if not os.path.isabs(eddy) and not os.path.exists(eddy) and os.path.exists(os.path.join(REPO, eddy)):
        eddy = os.path.join(REPO, eddy)
    eddy = os.path.abspath(eddy) if os.path.exists(eddy) else eddy

    problems = []
    doc = os.path.abspath(a.doc)
    rows = parse_table(doc, problems)
    if not rows:
        print("FAIL %s: no function table (a markdown table whose header starts with '| function |')" % rel(doc))
        return 1
    seen = {}
    for r in rows:
        for n in r.names():
            if n in seen:
                problems.append("%s:%d: %s is already listed on line %d: list each function once"
                                % (rel(doc), r.lineno, n, seen[n]))
            seen[n] = r.lineno
    counts = check_counts(doc, rows, problems)

    cases = golden_sql()
    for r in rows:
        if r.state == "missing":
            continue
        for n in r.names():
            pat = call_pattern(n)
            where = next((label for label, sql in cases if pat.search(sql)), None)
            if a.verbose:
                print("  %s (%s): %s" % (n, r.state, where or "no golden case"))
            if where is None:
                form = ("the bare word %s" % n if n in BARE_WORDS else
                        "TABLE(%s(...))" % n if n in TABLE_FUNCTIONS else "%s(...)" % n)
                problems.append("%s is marked %s (%s:%d) but no golden case calls it: add a case calling %s to "
                                "tests/sql/*.test" % (n, r.state, rel(doc), r.lineno, form))

    missing = [n for r in rows if r.state == "missing" for n in r.names()]
    workdir = tempfile.mkdtemp(prefix="eddy_function_table_")
    try:
        for n in missing:
            problem = run_sample(eddy, workdir, n, a.verbose)
            if problem:
                problems.append(problem)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for n in sorted(set(SAMPLES) - set(missing)):
        if n not in seen:
            problems.append("SAMPLES has %s, which the table does not list: remove it from "
                            "tests/sql/check_function_table.py" % n)

    for p in problems:
        print("FAIL " + p)
    if problems:
        print("%d problem(s) in %s" % (len(problems), rel(doc)))
        return 1
    names = sum(len(r.names()) for r in rows)
    print("ok   %s: %d functions (%d names): %d supported, %d partly with golden cases; %d missing, refused by "
          "eddy sql run" % (rel(doc), sum(counts.values()), names, counts["supported"], counts["partly"],
                            counts["missing"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
