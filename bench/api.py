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
