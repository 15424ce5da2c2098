"""Lines of production code, per package and in total, and of the `roadmap remind` path.

    /work/main/.venv/bin/python bench/loc.py [--against REV] [--no-trace]

Target (issue 10): at least 20 % less production code than before the change.
Production code = *.py under cli config flows models tasks deployments web, migrations
(models/migrations) excluded. Two counts for every figure:
- physical: every line of the file, blank and comment lines included;
- code: lines that hold a token other than a comment, docstrings excluded (the string
  that opens a module, class or function body).

The remind path is found by running the command, not by reading the code: a small
synthetic roadmap (bench/synth.py: 300 tasks, 30 people, a day with reminders) is imported
into a fresh SQLite database and `roadmap remind` is called in-process, against a real SMTP
server on loopback (bench_relay.py's aiosmtpd relay, in its own process), under sys.setprofile and
threading.setprofile. A module is on the path when one of its functions ran while the
command ran (module bodies executed by lazy imports do not count, functions they call do).
Forked children keep the profiler: every module is written to a file the moment it is first
seen, so the modules of a forked worker are counted too. cli/main.py, the entry point, is
always on the path.

With --against REV the same figures are computed for that revision (files read with
`git ls-tree`/`git show`; for the remind path the revision is exported with `git archive`
into a temporary folder and run there) and printed next to the worktree's.
"""

from __future__ import annotations

import argparse
import ast
import io
import os
import subprocess
import sys
import tempfile
import tokenize
from inspect import CO_NEWLOCALS
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cli", "config", "flows", "models", "tasks", "deployments", "web")
EXCLUDED = ("models/migrations/",)
SKIP_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
               tokenize.ENCODING, tokenize.ENDMARKER}


def count(source: str) -> tuple[int, int]:
    """(physical lines, code lines) of one Python source."""
    physical = len(source.splitlines())
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in SKIP_TOKENS:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return physical, len(code - docstrings)


def production(path: str) -> bool:
    return path.endswith(".py") and path.split("/", 1)[0] in PACKAGES and not path.startswith(EXCLUDED)


def sources(rev: str | None) -> dict[str, str]:
    """Path -> source of every production file, in the worktree or at a git revision."""
    if rev is None:
        paths = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
        return {p: (ROOT / p).read_text(encoding="utf-8") for p in sorted(paths) if production(p)}
    listed = git("ls-tree", "-r", "--name-only", rev, "--", *PACKAGES).splitlines()
    return {p: git("show", f"{rev}:{p}") for p in sorted(listed) if production(p)}


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def per_package(files: dict[str, str]) -> dict[str, tuple[int, int]]:
    totals: dict[str, tuple[int, int]] = {}
    for path, text in files.items():
        pkg = path.split("/", 1)[0]
        phys, code = count(text)
        p0, c0 = totals.get(pkg, (0, 0))
        totals[pkg] = (p0 + phys, c0 + code)
    return totals


# -- the remind path, by instrumentation --------------------------------------------------

def trace_child(root: Path, out: Path, argv: list[str]) -> None:
    """Run `roadmap <argv>` in this process under the profiler; append each project module
    whose functions run to ``out`` ("pid path" a line, written at once, so fork-safe)."""
    import threading

    sys.path.insert(0, str(root))
    os.chdir(root)
    from cli.main import app  # the imports cli.main does at start-up are not the path

    prefix = str(root) + os.sep
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    seen: set[object] = set()
    written: set[str] = set()

    def profile(frame, event, arg):  # noqa: ANN001 - the sys.setprofile signature
        if event != "call":
            return
        code = frame.f_code
        if code in seen:
            return
        seen.add(code)
        # Functions only: module bodies and class bodies (no CO_NEWLOCALS) are not calls.
        if code.co_name == "<module>" or not code.co_flags & CO_NEWLOCALS:
            return
        name = code.co_filename
        if name.startswith(prefix):
            rel = name[len(prefix):]
            if production(rel) and rel not in written:
                written.add(rel)
                os.write(fd, f"{os.getpid()} {rel}\n".encode())

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        app(argv, prog_name="roadmap")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
        os.close(fd)


def remind_path(root: Path) -> tuple[list[str], list[str]]:
    """Files (relative to root) of the modules `roadmap remind` runs, cli/main.py first; and
    those first met in a forked child process."""
    sys.path.insert(0, str(ROOT / "bench"))
    sys.path.insert(0, str(ROOT))
    import synth
    from bench_relay import free_port

    work = Path(tempfile.mkdtemp(prefix="bench-loc-"))
    meta = synth.write(work / "roadmap.yaml", 300, 30, seed=7, reminder_day="auto", reminder_share=0.2)
    db = f"sqlite:///{work}/loc.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ROADMAP_", "PREFECT_API"))}
    env.update(ROADMAP_SMTP_HOST="127.0.0.1", ROADMAP_SMTP_PORT=str(port), ROADMAP_SMTP_SECURITY="none",
               ROADMAP_MAIL_FROM="bench@example.org", PYTHONPATH=str(root))
    server = subprocess.Popen(  # the relay of bench_relay.py, without latency
        [sys.executable, str(ROOT / "bench" / "bench_relay.py"), "--serve", str(port), "--latency", "0",
         "--spool", str(work / "spool")],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**env, "PYTHONPATH": str(ROOT)})
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "listening on ..."
        subprocess.run([sys.executable, "-m", "cli.main", "import", str(work / "roadmap.yaml"), "--db", db],
                       cwd=root, env=env, check=True, capture_output=True)
        out = work / "modules.txt"
        argv = ["remind", "--as-of", str(meta["reminder_day"]), "--db", db]
        done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--trace-child", str(root),
                               str(out), *argv], cwd=root, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"traced `roadmap remind` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        sent = sum(1 for _ in (work / "spool").glob("*.eml"))
        if not sent:
            raise SystemExit("traced `roadmap remind` sent nothing: the path would stop before SMTP")
    finally:
        server.terminate()
        server.wait(10)
    lines = [line.split(" ", 1) for line in out.read_text().splitlines()]
    found = list(dict.fromkeys(rel for _, rel in lines))
    main_pid = lines[0][0]
    forked = list(dict.fromkeys(rel for pid, rel in lines if pid != main_pid))  # a child writes only what is new
    return ["cli/main.py"] + [f for f in found if f != "cli/main.py"], forked


def report(label: str, files: dict[str, str], traced: tuple[list[str], list[str]] | None) -> tuple[int, int, int, int]:
    print(f"== {label}")
    print(f"{'package':<12} {'files':>5} {'physical':>9} {'code':>7}")
    totals = per_package(files)
    for pkg in PACKAGES:
        n = sum(1 for p in files if p.startswith(pkg + "/"))
        phys, code = totals.get(pkg, (0, 0))
        print(f"{pkg:<12} {n:>5} {phys:>9} {code:>7}")
    all_phys, all_code = sum(p for p, _ in totals.values()), sum(c for _, c in totals.values())
    print(f"{'total':<12} {len(files):>5} {all_phys:>9} {all_code:>7}")
    path_phys = path_code = 0
    if traced is not None:
        path, forked = traced
        print(f"remind path: {len(path)} modules (functions ran during `roadmap remind`)")
        for p in path:
            phys, code = count(files[p])
            path_phys, path_code = path_phys + phys, path_code + code
            print(f"  {p:<34} {phys:>6} {code:>6}")
        print(f"  {'remind path total':<34} {path_phys:>6} {path_code:>6}")
        if forked:
            print(f"  first met after a fork, in a child process: {', '.join(forked)}")
    return all_phys, all_code, path_phys, path_code


def main() -> int:
    if len(sys.argv) > 3 and sys.argv[1] == "--trace-child":
        trace_child(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", metavar="REV", help="a git revision to compare with (e.g. cada780)")
    ap.add_argument("--no-trace", action="store_true", help="skip the remind path (no command is run)")
    args = ap.parse_args()

    now = report("worktree", sources(None), None if args.no_trace else remind_path(ROOT))
    if not args.against:
        return 0
    before_files = sources(args.against)
    traced = None
    if not args.no_trace:
        with tempfile.TemporaryDirectory(prefix="bench-loc-rev-") as tree:
            archive = subprocess.run(["git", "archive", args.against], cwd=ROOT, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
            traced = remind_path(Path(tree))
    before = report(f"at {args.against}", before_files, traced)
    print("== change (worktree vs " + args.against + ")")
    for name, b, a in zip(("production physical", "production code", "remind path physical", "remind path code"),
                          before, now, strict=True):
        if b:
            print(f"{name:<22} {b:>6} -> {a:>6}  {100 * (a - b) / b:+.1f} %")
    b_code, a_code = before[1], now[1]
    verdict = "PASS" if a_code <= 0.8 * b_code else "MISS"
    print(f"target: production code lines at least 20 % fewer: {verdict} "
          f"({a_code} vs {0.8 * b_code:.0f} allowed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
