#!/usr/bin/env python3
"""Golden SQL test runner for `eddy sql run` (file format: tests/sql/README.md).

Usage:
  python3 tests/sql/run_golden.py [--eddy PATH] [-k SUBSTRING] [FILE_OR_DIR ...]

For every case it writes app.sql, schema.json and events.ndjson to a temporary directory, runs

  <eddy> sql run --sql app.sql --input-schema schema.json --input events.ndjson
                 [--arrival-time-field F] [--no-flush] [--input-prefix NAME]
                 --output STREAM --errors errors.ndjson

(30 s timeout) and compares:
  * stdout (NDJSON rows of STREAM) with `--- output`, as parsed JSON: key order is free, numbers are
    compared by exact decimal value (2 == 2.0, 0.1 != 0.10000000149011612), true/false are never
    numbers; `rowsort` compares sorted multisets;
  * the errors file with `--- errors`: same number of rows, matched in order, each expected object
    lists a subset of the keys of the actual row;
  * `--- compile-error`: exit code 1 and the line is a substring of stderr (case-insensitive).

Parsing notes (README.md leaves these open): section headers are `--- <known section name> [args]`
only, so SQL comments such as `-- x` are content; lines starting with '#' are comments outside
sections and in every section except `--- input`, where only a trailing block of '#' and blank lines
(the comment above the next case) is dropped; trailing blank lines of a section are dropped. A case
may have several `--- output STREAM` sections: the engine is then run once per stream (errors are
checked on the first run).

Prints one line per case (`ok` / `FAIL` with a diff) and ends with `N passed, N failed`; exits 1 if
anything failed. Standard library only.
"""

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
TIMEOUT_S = 30
PARALLELISM = 0  # --parallelism
KEY_GROUPS = False  # --key-groups
SECTION_NAMES = ("sql", "schema", "input", "output", "errors", "compile-error", "reference-schema", "reference")
SECTION_RE = re.compile(r"^--- (%s)(?:[ \t]+(.*?))?[ \t]*$" % "|".join(re.escape(s) for s in SECTION_NAMES))
CASE_RE = re.compile(r"^=== (.*?)\s*$")
DEFAULT_STREAM = "DESTINATION_SQL_STREAM"
DEFAULT_SCHEMA = {
    "RecordFormat": {"RecordFormatType": "JSON",
                     "MappingParameters": {"JSONMappingParameters": {"RecordRowPath": "$"}}},
    "RecordEncoding": "UTF-8",
    "RecordColumns": [{"Name": "x", "Mapping": "$.x", "SqlType": "INTEGER"}],
}


class FormatError(Exception):
    pass


class Section:
    def __init__(self, kind, args, lineno):
        self.kind = kind
        self.args = args.split() if args else []
        self.lineno = lineno
        self.lines = []

    def finish(self):
        lines = self.lines
        if self.kind in ("input", "reference"):
            # Drop the trailing comment/blank block (it belongs to the next case).
            while lines and (lines[-1].strip() == "" or lines[-1].startswith("#")):
                lines.pop()
        else:
            lines = [l for l in lines if not l.startswith("#")]
            while lines and lines[-1].strip() == "":
                lines.pop()
            while lines and lines[0].strip() == "":
                lines.pop(0)
        self.lines = lines


class Case:
    def __init__(self, name, path, lineno):
        self.name = name
        self.path = path
        self.lineno = lineno
        self.sections = []

    def get(self, kind):
        found = [s for s in self.sections if s.kind == kind]
        if len(found) > 1 and kind not in ("output", "reference", "reference-schema"):
            raise FormatError("%s:%d: case '%s' has %d '--- %s' sections"
                              % (self.path, self.lineno, self.name, len(found), kind))
        return found[0] if found else None


def parse_file(path):
    cases = []
    case = None
    section = None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for lineno, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        m = CASE_RE.match(line)
        if m:
            if section:
                section.finish()
            section = None
            if not m.group(1):
                raise FormatError("%s:%d: case without a name" % (path, lineno))
            case = Case(m.group(1), path, lineno)
            cases.append(case)
            continue
        m = SECTION_RE.match(line)
        if m:
            if case is None:
                raise FormatError("%s:%d: section outside a case" % (path, lineno))
            if section:
                section.finish()
            section = Section(m.group(1), m.group(2), lineno)
            case.sections.append(section)
            continue
        if line.startswith("---") or line.startswith("==="):
            raise FormatError("%s:%d: unknown header %r" % (path, lineno, line))
        if section is None:
            if line.strip() == "" or line.startswith("#"):
                continue
            raise FormatError("%s:%d: text outside a section: %r" % (path, lineno, line))
        section.lines.append(line)
    if section:
        section.finish()
    names = set()
    for c in cases:
        if c.name in names:
            raise FormatError("%s:%d: duplicate case name '%s'" % (path, c.lineno, c.name))
        names.add(c.name)
    return cases


# ---------------------------------------------------------------------------------------------
# Value comparison

def load_json(text):
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def canon(v):
    """A hashable, ordered canonical form: numbers by exact decimal value, bools apart."""
    if v is None:
        return ("0null",)
    if isinstance(v, bool):
        return ("1bool", v)
    if isinstance(v, Decimal):
        if v.is_nan():
            return ("2num", "NaN")
        if v == 0:
            v = Decimal(0)
        return ("2num", str(v.normalize()))
    if isinstance(v, (int, float)):
        return canon(Decimal(repr(v)) if isinstance(v, float) else Decimal(v))
    if isinstance(v, str):
        return ("3str", v)
    if isinstance(v, list):
        return ("4list", tuple(canon(x) for x in v))
    if isinstance(v, dict):
        return ("5obj", tuple(sorted((k, canon(x)) for k, x in v.items())))
    return ("9other", repr(v))


def show(v):
    """Deterministic one-line text of a parsed JSON value (keys sorted, numbers as written)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + show(v[k]) for k in sorted(v)) + "}"
    return repr(v)


def parse_rows(lines, what):
    rows = []
    for i, line in enumerate(lines, 1):
        if line.strip() == "":
            continue
        try:
            rows.append(load_json(line))
        except ValueError as e:
            raise FormatError("%s line %d is not JSON (%s): %r" % (what, i, e, line))
    return rows


def diff_rows(expected, got):
    lines = difflib.unified_diff([show(r) for r in expected], [show(r) for r in got],
                                 "expected", "got", lineterm="", n=2)
    return "\n".join("      " + l for l in lines)


def compare_output(expected, got, rowsort):
    if rowsort:
        expected = sorted(expected, key=canon)
        got = sorted(got, key=canon)
    if len(expected) == len(got) and all(canon(a) == canon(b) for a, b in zip(expected, got)):
        return None
    return ("output differs (%d expected, %d got%s):\n%s"
            % (len(expected), len(got), ", rowsort" if rowsort else "", diff_rows(expected, got)))


def compare_errors(expected, got):
    problems = []
    if len(expected) != len(got):
        problems.append("error_stream: %d rows expected, %d got" % (len(expected), len(got)))
    for i, (e, g) in enumerate(zip(expected, got), 1):
        if not isinstance(e, dict) or not isinstance(g, dict):
            problems.append("error row %d: not a JSON object" % i)
            continue
        for k, v in e.items():
            if k not in g:
                problems.append("error row %d: key %s missing" % (i, k))
            elif canon(g[k]) != canon(v):
                problems.append("error row %d: %s expected %s, got %s" % (i, k, show(v), show(g[k])))
    if not problems:
        return None
    subset = [{k: g.get(k) for k in ("input_line", "ERROR_LEVEL", "ERROR_NAME", "MESSAGE")} if isinstance(g, dict) else g
              for g in got]
    return ("\n      ".join(problems) + "\n      expected:\n" +
            "\n".join("        " + show(r) for r in expected) + "\n      got:\n" +
            "\n".join("        " + show(r) for r in subset))


# ---------------------------------------------------------------------------------------------
# Running a case

def section_opts(sec, allowed_flags=(), allowed_kv=(), positional=0):
    flags, kv, pos = set(), {}, []
    for a in sec.args if sec else []:
        if "=" in a:
            k, v = a.split("=", 1)
            if k not in allowed_kv:
                raise FormatError("line %d: unknown option %r" % (sec.lineno, a))
            kv[k] = v
        elif a in allowed_flags:
            flags.add(a)
        else:
            pos.append(a)
    if len(pos) > positional:
        raise FormatError("line %d: unexpected arguments %r" % (sec.lineno, pos))
    return flags, kv, pos


def reference_args(case, workdir):
    """`--- reference NAME` (the object's lines) and `--- reference-schema NAME` (its
    ReferenceSchema JSON) pairs, written to files: the --reference options of eddy sql run. A
    Flink filesystem table brings its own schema: its `--- reference NAME` stands alone."""
    objects = {}
    schemas = {}
    for sec in case.sections:
        if sec.kind not in ("reference", "reference-schema"):
            continue
        _, _, pos = section_opts(sec, positional=1)
        if not pos:
            raise FormatError("line %d: '--- %s' needs the table's name" % (sec.lineno, sec.kind))
        into = objects if sec.kind == "reference" else schemas
        if pos[0] in into:
            raise FormatError("line %d: a second '--- %s %s'" % (sec.lineno, sec.kind, pos[0]))
        into[pos[0]] = sec.lines
    sql_sec = case.get("sql")
    flink = sql_sec is not None and "CREATE TABLE" in " ".join(" ".join(sql_sec.lines).upper().split())
    if set(schemas) - set(objects) or (not flink and set(objects) != set(schemas)):
        raise FormatError("case '%s': every '--- reference NAME' needs a '--- reference-schema NAME'" % case.name)
    args = []
    for i, name in enumerate(sorted(objects)):
        data = os.path.join(workdir, "reference_%d.dat" % i)
        schema = os.path.join(workdir, "reference_%d.json" % i)
        with open(data, "w", encoding="utf-8") as f:
            f.write("".join(l + "\n" for l in objects[name]))
        args += ["--reference", "%s=%s" % (name, data)]
        if name in schemas:
            with open(schema, "w", encoding="utf-8") as f:
                f.write("\n".join(schemas[name]))
            args += ["--reference-schema", "%s=%s" % (name, schema)]
    return args


def run_eddy(eddy, workdir, sql, schema_text, input_lines, input_opts, stream, verbose, extra=()):
    paths = {n: os.path.join(workdir, n) for n in ("app.sql", "schema.json", "events.ndjson", "errors.ndjson")}
    with open(paths["app.sql"], "w", encoding="utf-8") as f:
        f.write(sql)
    if schema_text is not None:
        with open(paths["schema.json"], "w", encoding="utf-8") as f:
            f.write(schema_text)
    with open(paths["events.ndjson"], "w", encoding="utf-8") as f:
        f.write("".join(l + "\n" for l in input_lines))
    if os.path.exists(paths["errors.ndjson"]):
        os.unlink(paths["errors.ndjson"])
    cmd = [eddy, "sql", "run", "--sql", paths["app.sql"], "--input", paths["events.ndjson"]]
    if schema_text is not None:
        cmd += ["--input-schema", paths["schema.json"]]
    flags, kv, prefix = input_opts
    if "arrival-field" in kv:
        cmd += ["--arrival-time-field", kv["arrival-field"]]
    if "no-flush" in flags:
        cmd += ["--no-flush"]
    if prefix:
        cmd += ["--input-prefix", prefix]
    cmd += ["--output", stream, "--errors", paths["errors.ndjson"]]
    cmd += list(extra)
    if PARALLELISM:
        cmd += ["--parallelism", str(PARALLELISM)]
    if KEY_GROUPS:
        cmd += ["--key-groups"]
    if verbose:
        print("    $ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S, cwd=workdir)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %d s" % TIMEOUT_S, []
    except OSError as e:
        return None, "", "cannot run %s: %s" % (eddy, e), []
    errors = []
    if os.path.exists(paths["errors.ndjson"]):
        with open(paths["errors.ndjson"], encoding="utf-8", errors="replace") as f:
            errors = f.read().split("\n")
    return (p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), errors)


def indent(text, n=6, limit=40):
    lines = text.rstrip("\n").split("\n")
    if len(lines) > limit:
        lines = lines[:limit] + ["... (%d more lines)" % (len(lines) - limit)]
    return "\n".join(" " * n + l for l in lines)


def run_case(case, eddy, verbose, keep):
    """Returns None on success, else a failure description."""
    sql_sec = case.get("sql")
    if sql_sec is None:
        raise FormatError("case has no '--- sql' section")
    schema_sec = case.get("schema")
    input_sec = case.get("input")
    outputs = [s for s in case.sections if s.kind == "output"]
    errors_sec = case.get("errors")
    compile_sec = case.get("compile-error")
    if compile_sec is not None and (outputs or errors_sec):
        raise FormatError("a compile-error case cannot also expect output or errors")
    if compile_sec is None and not outputs:
        raise FormatError("case needs '--- output' or '--- compile-error'")

    _, schema_kv, _ = section_opts(schema_sec, allowed_kv=("prefix",))
    prefix = schema_kv.get("prefix")
    sql = "\n".join(sql_sec.lines) + "\n"
    # Flink SQL (CREATE TABLE / INSERT INTO) reads its source table: no schema unless given.
    flink = re.search(r"(^|;)\s*(CREATE\s+(TEMPORARY\s+)?TABLE|INSERT)\b", sql, re.IGNORECASE) is not None
    schema_text = "\n".join(schema_sec.lines) if schema_sec else (None if flink else json.dumps(DEFAULT_SCHEMA))
    try:
        if schema_text is not None:
            json.loads(schema_text)
    except ValueError as e:
        raise FormatError("schema is not JSON: %s" % e)
    in_flags, in_kv, _ = section_opts(input_sec, allowed_flags=("no-flush",), allowed_kv=("arrival-field",))
    input_opts = (in_flags, in_kv, prefix)
    input_lines = input_sec.lines if input_sec else []

    workdir = tempfile.mkdtemp(prefix="eddy_golden_")
    try:
        extra = reference_args(case, workdir)
        if compile_sec is not None:
            want = "\n".join(compile_sec.lines).strip()
            rc, out, err, _ = run_eddy(eddy, workdir, sql, schema_text, input_lines, input_opts,
                                       DEFAULT_STREAM, verbose, extra)
            if rc is None:
                return err
            problems = []
            if rc != 1:
                problems.append("expected exit code 1 (compile error), got %s" % rc)
            if want.lower() not in err.lower():
                problems.append("stderr lacks %r" % want)
            if problems:
                return "; ".join(problems) + "\n    stderr:\n" + indent(err or "(empty)") + (
                    "\n    stdout:\n" + indent(out) if out.strip() else "")
            return None

        expected_errors = parse_rows(errors_sec.lines, "--- errors") if errors_sec else None
        failures = []
        for i, out_sec in enumerate(outputs):
            flags, _, pos = section_opts(out_sec, allowed_flags=("rowsort",), positional=1)
            stream = pos[0] if pos else DEFAULT_STREAM
            expected = parse_rows(out_sec.lines, "--- output")
            rc, out, err, err_lines = run_eddy(eddy, workdir, sql, schema_text, input_lines, input_opts,
                                               stream, verbose, extra)
            if rc is None:
                return err
            if rc != 0:
                failures.append("[%s] exit code %d\n    stderr:\n%s" % (stream, rc, indent(err or "(empty)")))
                continue
            try:
                got = parse_rows(out.split("\n"), "stdout")
            except FormatError as e:
                failures.append("[%s] %s" % (stream, e))
                continue
            problem = compare_output(expected, got, "rowsort" in flags)
            if problem:
                failures.append("[%s] %s" % (stream, problem))
                if err.strip():
                    failures.append("    stderr:\n" + indent(err, limit=10))
            if i == 0 and expected_errors is not None:
                try:
                    got_errors = parse_rows(err_lines, "errors file")
                except FormatError as e:
                    failures.append(str(e))
                    continue
                problem = compare_errors(expected_errors, got_errors)
                if problem:
                    failures.append(problem)
        return "\n    ".join(failures) if failures else None
    finally:
        if keep:
            print("    (kept %s)" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def collect_files(args):
    if not args:
        args = [TESTS_DIR]
    files = []
    for a in args:
        if os.path.isdir(a):
            for root, dirs, names in os.walk(a):
                dirs.sort()
                files += [os.path.join(root, n) for n in sorted(names) if n.endswith(".test")]
        elif os.path.isfile(a):
            files.append(a)
        else:
            raise SystemExit("run_golden.py: no such file or directory: %s" % a)
    return files


def default_eddy():
    env = os.environ.get("EDDY_BIN")
    if env:
        return env
    return os.path.join(REPO, "build", "release", "eddy")


def main():
    ap = argparse.ArgumentParser(description="Run eddy's golden SQL tests (tests/sql/*.test).")
    ap.add_argument("--eddy", default=default_eddy(), help="eddy binary (default: $EDDY_BIN or build/release/eddy)")
    ap.add_argument("-k", dest="filter", default=None, help="only cases whose name contains this substring")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each command line")
    ap.add_argument("--keep", action="store_true", help="keep each case's temporary directory")
    ap.add_argument("--parallelism", type=int, default=0, help="eddy sql run --parallelism (default: eddy's own default)")
    ap.add_argument("--key-groups", action="store_true",
                    help="eddy sql run --key-groups: keyed pumps keep their state in key groups, as a server's do")
    ap.add_argument("--list", action="store_true", help="list the selected cases and exit")
    ap.add_argument("paths", nargs="*", help="test files or directories (default: all of tests/sql)")
    a = ap.parse_args()
    global PARALLELISM, KEY_GROUPS
    PARALLELISM = a.parallelism
    KEY_GROUPS = a.key_groups

    eddy = a.eddy
    if not os.path.isabs(eddy) and not os.path.exists(eddy) and os.path.exists(os.path.join(REPO, eddy)):
        eddy = os.path.join(REPO, eddy)
    eddy = os.path.abspath(eddy) if os.path.exists(eddy) else eddy

    passed = failed = 0
    for path in collect_files(a.paths):
        rel = os.path.relpath(path, REPO) if path.startswith(REPO) else path
        try:
            cases = parse_file(path)
        except (FormatError, OSError, UnicodeDecodeError) as e:
            print("FAIL %s: cannot parse: %s" % (rel, e))
            failed += 1
            continue
        for case in cases:
            if a.filter and a.filter not in case.name:
                continue
            label = "%s: %s" % (os.path.basename(path), case.name)
            if a.list:
                print(label)
                continue
            try:
                problem = run_case(case, eddy, a.verbose, a.keep)
            except FormatError as e:
                problem = "bad case (%s:%d): %s" % (rel, case.lineno, e)
            if problem is None:
                passed += 1
                print("ok   %s" % label)
            else:
                failed += 1
                print("FAIL %s\n    %s" % (label, problem))
            sys.stdout.flush()
    if a.list:
        return 0
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
