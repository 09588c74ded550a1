#!/usr/bin/env python3
"""The module graph is what src/CMakeLists.txt declares, and the build enforces it.

1. Every `eddy_module(NAME ... MODULES ...)` in src/CMakeLists.txt matches the "uses" column of
   src/README.md's table (the table is the graph, not a second opinion).
2. For every module, an include of a module it may not use (not in its transitive closure) fails
   to compile with that module's include roots, and an include of its own header compiles: the
   check the compiler makes on every build, shown once per module.

Run: python3 tests/arch/module_boundaries.py --build-dir build/release [--cxx c++]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def declared_modules():
    text = open(os.path.join(ROOT, 'src', 'CMakeLists.txt'), encoding='utf-8').read()
    graph = {}
    for m in re.finditer(r'^eddy_module\((\w+)([^)]*)\)', text, re.M):
        name, rest = m.group(1), ' '.join(m.group(2).split())
        uses = re.search(r'MODULES ((?:\w+ ?)+?)(?: SOURCES| LIBS|$)', rest)
        graph[name] = set(uses.group(1).split()) if uses else set()
    return graph


def documented_modules():
    text = open(os.path.join(ROOT, 'src', 'README.md'), encoding='utf-8').read()
    graph = {}
    for line in text.splitlines():
        m = re.match(r'^\| `(\w+)/` \|.*\| ([^|]*) \|$', line)
        if m:
            graph[m.group(1)] = set(re.findall(r'`(\w+)/`', m.group(2)))
    return graph


def closure(graph, name):
    seen, todo = set(), [name]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def a_header(module):
    folder = os.path.join(ROOT, 'src', module)
    return module + '/' + sorted(f for f in os.listdir(folder) if f.endswith('.h'))[0]


def compiles(cxx, build_dir, module, graph, include):
    roots = [os.path.join(build_dir, 'src', 'include', m) for m in [module] + sorted(closure(graph, module))]
    with tempfile.NamedTemporaryFile('w', suffix='.cc', delete=False) as f:
        f.write('#include "%s"\n' % include)
        path = f.name
    try:
        r = subprocess.run([cxx, '-std=c++20', '-fsyntax-only'] + ['-I' + r for r in roots] + [path],
                           capture_output=True, text=True, timeout=300)
        return r.returncode == 0, r.stderr
    finally:
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build-dir', required=True)
    ap.add_argument('--cxx', default=os.environ.get('CXX', 'c++'))
    args = ap.parse_args()
    failures = []
    graph, docs = declared_modules(), documented_modules()
    if graph != docs:
        for name in sorted(set(graph) | set(docs)):
            if graph.get(name) != docs.get(name):
                failures.append('module %s: src/CMakeLists.txt says it uses %s, src/README.md says %s'
                                % (name, sorted(graph.get(name, [])), sorted(docs.get(name, []))))
    for name in sorted(graph):
        allowed = closure(graph, name) | {name}
        forbidden = sorted(set(graph) - allowed)
        ok, err = compiles(args.cxx, args.build_dir, name, graph, a_header(name))
        if not ok:
            failures.append('module %s: its own header %s does not compile alone:\n%s' % (name, a_header(name), err[-2000:]))
        if forbidden:
            target = forbidden[-1]
            ok, err = compiles(args.cxx, args.build_dir, name, graph, a_header(target))
            if ok or 'No such file' not in err:
                failures.append('module %s: including %s (a module it may not use) did not fail as it should:\n%s'
                                % (name, a_header(target), err[-2000:]))
            else:
                print('%-9s may use %-60s; #include "%s" fails: not found' % (name, ' '.join(sorted(allowed - {name})) or '-', a_header(target)))
    for f in failures:
        print('FAIL: ' + f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
