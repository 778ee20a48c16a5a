"""The API phase: each endpoint beside its bare reference, in interleaved rounds of load."""
from __future__ import annotations

import json
import random
import statistics

import seed
from common import http_request, log
from loadgen import run_python_load, run_wrk, write_requests
from stack import Bench

ENDPOINTS = ("catalog", "enrollments", "put", "lesson_page")


def measure(bench: Bench) -> dict:
    a = bench.args
    cat = bench.catalog
    wd = bench.workdir
    rng = random.Random(8)
    half = a.api_learners // 2
    app_users, ref_users = range(half), range(half, 2 * half)
    catalog_lines = [("GET", f"/api/v1/tracks/{slug}", None, None) for _, slug in cat.tracks]
    empty_lines = [("GET", "/ref/empty", None, None)]
    tokens = [seed.token_secret("api", i) for i in app_users]
    rng.shuffle(tokens)
    enroll_lines = [("GET", "/api/v1/enrollments", t, None) for t in tokens]
    select_lines = [("GET", "/ref/enrollments", t, None) for t in tokens]
    body = json.dumps({"status": "completed"})

    def combos(users):
        out = []
        for i in users:
            for j, (track_id, slug) in enumerate(cat.tracks):
                for lesson_id, lesson_slug, _ in cat.lessons[track_id]:
                    out.append((i, j, track_id, slug, lesson_id, lesson_slug))
        rng.shuffle(out)
        return out

    app_combos, ref_combos = combos(app_users), combos(ref_users)
    slices = a.rounds + 1  # one unused slice per round plus the warm-up: never the same row twice
    per = len(app_combos) // slices

    def put_files(round_no: int):
        app_part = app_combos[round_no * per:(round_no + 1) * per]
        ref_part = ref_combos[round_no * per:(round_no + 1) * per]
        app_file = write_requests(wd / f"put-app-{round_no}.tsv", [
            ("PUT", f"/api/v1/enrollments/{slug}/lessons/{lesson}", seed.token_secret("api", i), body)
            for i, _, _, slug, _, lesson in app_part])
        ref_file = write_requests(wd / f"put-ref-{round_no}.tsv", [
            ("PUT", f"/ref/completions/{seed.API_ENR_BASE + i * seed.TRACKS_PER_API_USER + j}/{lesson_id}",
             seed.token_secret("api", i), body) for i, j, _, _, lesson_id, _ in ref_part])
        return app_file, ref_file

    # The lesson page, signed in (a Bearer token signs a page request in as the cookie does),
    # beside a bare Jinja render of the same size.
    lesson_lines = [("GET", f"/tracks/{slug}/{lesson_slug}", t, None)
                    for t in tokens[:200] for track_id, slug in cat.tracks[:1]
                    for _, lesson_slug, _ in cat.lessons[track_id]]
    rng.shuffle(lesson_lines)
    status, sample = http_request(bench.app_port, *lesson_lines[0][:3])
    if status != 200:
        raise RuntimeError(f"lesson page answered {status}: {sample[:300]!r}")
    page_lines = [("GET", f"/ref/page?bytes={len(sample)}", None, None)]
    files = {
        "lesson_page": (write_requests(wd / "lesson-page.tsv", lesson_lines),
                        write_requests(wd / "ref-page.tsv", page_lines)),
        "catalog": (write_requests(wd / "catalog.tsv", catalog_lines),
                    write_requests(wd / "empty.tsv", empty_lines)),
        "enrollments": (write_requests(wd / "enrollments.tsv", enroll_lines),
                        write_requests(wd / "select.tsv", select_lines)),
    }
    # Sanity: each request the load sends answers 2xx on both sides.
    for name, (app_file, ref_file) in [*files.items(), ("put", put_files(a.rounds))]:
        for port, path in ((bench.app_port, app_file), (bench.ref_port, ref_file)):
            method, target, token, payload = open(path).readline().rstrip("\n").split("\t")
            status, content = http_request(port, method, target, None if token == "-" else token,
                                           None if payload == "-" else json.loads(payload))
            if status >= 300:
                raise RuntimeError(
                    f"{name}: {method} {target} on :{port} answered {status}: {content[:300]!r}")
    drive = run_wrk if bench.load == "wrk" else run_python_load
    log(f"API: {a.rounds} round(s) of {a.duration:g}s per side at {a.clients} clients ({bench.load})")
    # Warm-up: every gunicorn worker imports, connects and fills its caches before measuring.
    warm = min(2.0, a.duration)
    app_warm, ref_warm = put_files(a.rounds)
    for app_file, ref_file in ([] if a.smoke else [*files.values(), (app_warm, ref_warm)]):
        drive(bench.app_port, app_file, warm, a.clients)
        drive(bench.ref_port, ref_file, warm, a.clients)
    runs = {name: {"app": [], "ref": []} for name in ENDPOINTS}
    for round_no in range(a.rounds):
        round_files = dict(files, put=put_files(round_no))
        for name in ENDPOINTS:
            app_file, ref_file = round_files[name]
            order = [("app", bench.app_port, app_file), ("ref", bench.ref_port, ref_file)]
            if round_no % 2:
                order.reverse()  # neither side always runs first
            for side, port, path in order:
                result = drive(port, path, a.duration, a.clients)
                runs[name][side].append(result)
                log(f"  {name:11} {side}: {result['rps']:7.1f} req/s  p50 {result['p50']:6.2f} ms  "
                    f"p99 {result['p99']:6.2f} ms  errors {result['errors']}")
    return {name: summarize(sides) for name, sides in runs.items()}


def summarize(sides: dict[str, list[dict]]) -> dict:
    """Medians over the rounds of one endpoint, both sides, and the paired ratios."""
    summary = {}
    for side, results in sides.items():
        summary[side] = {
            "rps": statistics.median(r["rps"] for r in results),
            "p50": statistics.median(r["p50"] for r in results),
            "p99": statistics.median(r["p99"] for r in results),
            "requests": sum(r["requests"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "rounds": [round(r["rps"], 1) for r in results],
        }
    # Ratios are paired by round (app and reference back to back) and the median taken:
    # a neighbour's load that comes and goes then weighs on both sides of each pair.
    pairs = list(zip(sides["app"], sides["ref"]))
    summary["ratio"] = statistics.median(app["rps"] / ref["rps"] for app, ref in pairs)
    summary["p99_ratio"] = statistics.median(app["p99"] / ref["p99"] for app, ref in pairs)
    summary["round_ratios"] = [round(app["rps"] / ref["rps"], 2) for app, ref in pairs]
    return summary


# -- in-process CPU per request -----------------------------------------------------------------
# wrk against gunicorn measures what a client sees, but on this shared 2-core machine the other
# engineers' tests swing its figures by up to 2x. The CPU time a request costs the Python process
# (``time.process_time``) hardly moves with the neighbours' load: each endpoint and its
# reference are called through their WSGI callables (as gunicorn calls them, environ built
# once) in interleaved rounds, and the median of the per-round ratios is reported. PostgreSQL's
# own CPU (another process) is not counted, on either side.

def _environ(method: str, path: str, token: str | None = None, body: str | None = None) -> dict:
    from werkzeug.test import EnvironBuilder

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    builder = EnvironBuilder(path=path, method=method, headers=headers, data=body,
                             content_type="application/json" if body else None)
    try:
        return builder.get_environ()
    finally:
        builder.close()


def _call(app, environ: dict) -> int:
    """One request through ``app`` as a WSGI server makes it; the status code."""
    import io

    status = []
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(environ["_body"])

    def start_response(line, headers, exc_info=None):
        status.append(line)

    chunks = app(env, start_response)
    try:
        for _ in chunks:
            pass
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return int(status[0][:3])


def _prepare(method, path, token=None, body=None) -> dict:
    environ = _environ(method, path, token, body)
    environ["_body"] = environ["wsgi.input"].read()
    return environ


def _cpu_per_call(app, environs: list[dict], expect: int = 200) -> float:
    import time

    started = time.process_time()
    for environ in environs:
        status = _call(app, environ)
        if status != expect:
            raise RuntimeError(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}: {status}")
    return (time.process_time() - started) / len(environs)


def in_process(database_url: str, rounds: int, calls: int, learners: int, workdir: str,
               only: set[str] | None = None, profile: str | None = None) -> dict:
    """CPU µs per request of each endpoint and of its reference; see the comment above."""
    import cProfile
    import os
    import pstats
    import statistics
    import subprocess
    import sys
    import time
    from pathlib import Path

    from common import NOW, VENV_BIN, connect, reset_database
    from stack import SECRET, self_completed_content

    env = {"ACADEMY_ENV": "development", "ACADEMY_DATABASE_URL": database_url,
           "ACADEMY_RATE_LIMITS": "off", "ACADEMY_SECRET_KEY": SECRET,
           "ACADEMY_CONTENT_DIR": str(self_completed_content(Path(workdir))),
           "ACADEMY_REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")}
    os.environ.update(env)
    reset_database(database_url)
    for argv in (["db", "upgrade"], ["academy", "content", "sync"]):
        subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *argv], check=True,
                       env={**os.environ, "PYTHONPATH": os.getcwd()}, capture_output=True)
    pg = connect(database_url)
    cat = seed.catalog(pg)
    with pg.transaction():
        seed.seed_api_users(pg, cat, learners, NOW)
        seed.fix_sequences(pg)
    pg.execute("VACUUM ANALYZE")

    from academy import create_app

    app = create_app()
    sys.path.insert(0, str(Path(__file__).parent))
    import reference_app

    ref = reference_app.app
    rng = random.Random(8)
    half = learners // 2
    tokens = [seed.token_secret("api", i) for i in range(half)]
    body = json.dumps({"status": "completed"})

    def combos(users):
        out = [(i, j, slug, lesson_id, lesson_slug) for i in users
               for j, (track_id, slug) in enumerate(cat.tracks)
               for lesson_id, lesson_slug, _ in cat.lessons[track_id]]
        rng.shuffle(out)
        return iter(out)

    app_puts, ref_puts = combos(range(half)), combos(range(half, 2 * half))
    cases = {
        "catalog": (lambda: [_prepare("GET", f"/api/v1/tracks/{rng.choice(cat.tracks)[1]}")
                             for _ in range(calls)],
                    lambda: [_prepare("GET", "/ref/empty")] * calls),
        "enrollments": (lambda: [_prepare("GET", "/api/v1/enrollments", rng.choice(tokens))
                                 for _ in range(calls)],
                        lambda: [_prepare("GET", "/ref/enrollments", rng.choice(tokens))
                                 for _ in range(calls)]),
        "put": (lambda: [_prepare("PUT", f"/api/v1/enrollments/{slug}/lessons/{lesson}",
                                  seed.token_secret("api", i), body)
                         for i, _, slug, _, lesson in (next(app_puts) for _ in range(calls))],
                lambda: [_prepare("PUT", f"/ref/completions/"
                                  f"{seed.API_ENR_BASE + i * seed.TRACKS_PER_API_USER + j}/{lid}",
                                  seed.token_secret("api", i), body)
                         for i, j, _, lid, _ in (next(ref_puts) for _ in range(calls))]),
    }
    names = [name for name in cases if not only or name in only]
    results = {name: {"app": [], "ref": [], "ratio": []} for name in names}
    for name in names:  # warm-up: imports, pools, caches
        make_app, make_ref = cases[name]
        _cpu_per_call(app, make_app()[:50])
        _cpu_per_call(ref, make_ref()[:50])
    if profile:
        make_app, _ = cases[profile]
        environs = make_app()
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        _cpu_per_call(app, environs)
        profiler.disable()
        profiler.dump_stats(f"{workdir}/{profile}.prof")
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        return {}
    for round_no in range(rounds):
        for name in names:
            make_app, make_ref = cases[name]
            sides = [("app", app, make_app()), ("ref", ref, make_ref())]
            if round_no % 2:
                sides.reverse()
            measured = {side: _cpu_per_call(wsgi, environs) for side, wsgi, environs in sides}
            results[name]["app"].append(measured["app"] * 1e6)
            results[name]["ref"].append(measured["ref"] * 1e6)
            results[name]["ratio"].append(measured["ref"] / measured["app"])
    summary = {}
    for name, figures in results.items():
        summary[name] = {"app_us": statistics.median(figures["app"]),
                         "ref_us": statistics.median(figures["ref"]),
                         "ratio": statistics.median(figures["ratio"]),
                         "ratios": [round(r, 2) for r in figures["ratio"]]}
        log(f"{name:12} app {summary[name]['app_us']:7.1f} µs  ref {summary[name]['ref_us']:7.1f} µs"
            f"  ratio (ref/app CPU) {summary[name]['ratio']:.2f}  rounds {summary[name]['ratios']}")
    return summary


if __name__ == "__main__":
    import argparse
    import sys
    from pathlib import Path

    sys.path[:0] = [str(Path(__file__).parent)]
    p = argparse.ArgumentParser(description="In-process CPU per request, app vs reference "
                                            "(bench/NOTES.md, rounds 2 and 3).")
    p.add_argument("--database-url", required=True,
                   help="a database of its own: dropped and recreated")
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--calls", type=int, default=300, help="requests per side per round")
    p.add_argument("--learners", type=int, default=400)
    p.add_argument("--workdir", default="/tmp/academy-bench-inprocess")
    p.add_argument("--only", default="", help="comma-separated: catalog,enrollments,put")
    p.add_argument("--profile", choices=("catalog", "enrollments", "put"),
                   help="cProfile (CPU clock) one batch of the app's requests instead")
    a = p.parse_args()
    print(json.dumps(in_process(a.database_url, a.rounds, a.calls, a.learners, a.workdir,
                                {n for n in a.only.split(",") if n}, a.profile), indent=1))
