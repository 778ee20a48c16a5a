# ruff: noqa: E501 - the report is built from long f-strings, kept one line per table row
"""The Markdown report: the machine, then one section per phase, and NOTES.md on a full run."""
from __future__ import annotations

from common import BENCH
from stack import Bench

TARGETS = {"catalog": 0.9, "enrollments": 0.8, "put": 0.6, "lesson_page": 0.7}
P99_LIMIT = 1.5


def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def render(r: dict, bench: Bench) -> str:
    a = bench.args
    m = r["machine"]
    lines = ["# Benchmark results", "",
             f"`{r['command']}` on {r['started']} ({r['elapsed'] / 60:.1f} min). "
             "Every ratio compares figures from this same run.", "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, `nproc` = {m['nproc']}; kernel {m['kernel']}",
             "- `free -h`:", "", "```", m["free"], "```", "",
             f"- Python {m['python']}; {m['wrk']}; {m['redis']}",
             "- " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()),
             f"- PostgreSQL {bench.pg.info.server_version // 10000}.{bench.pg.info.server_version % 10000}"
             if bench.pg else "",
             f"- gunicorn (app and references alike): `{bench.gunicorn_settings}`; Celery workers: "
             f"`-Q celery -c 1` (badges) and `-Q mail -c {a.mail_concurrency}` (mail), prefork",
             f"- load: {bench.load}, {a.clients} connections, {a.rounds} interleaved round(s) of "
             f"{a.duration:g}s per side; figures are the median of the rounds", "",
             f"- measured checkout: {a.app_root}", ""]
    if "api" in r:
        lines += api_section(r, a)
    if "sweep" in r:
        lines += sweep_section(r)
    if "delivery" in r:
        lines += delivery_section(r)
    if "pipeline" in r:
        lines += pipeline_section(r)
    if "awards_idle" in r or "awards_loaded" in r:
        lines += awards_section(r)
    if r.get("memory"):
        lines += memory_section(r)
    if "connections" in r:
        lines += connections_section(r["connections"])
    lines.append("")
    notes = BENCH / "NOTES.md"
    if notes.exists() and not a.smoke:
        lines += [notes.read_text()]
    return "\n".join(lines)


def api_section(r: dict, a) -> list[str]:
    lines = ["## 1. API at 16 concurrent clients", "",
             "| endpoint | req/s | p50 ms | p99 ms | reference | ref req/s | ref p50 | ref p99 | "
             "throughput ratio (target) | p99 ratio (target ≤ 1.5) | met |",
             "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    names = {"catalog": ("GET /api/v1/tracks/<slug>", "bare Flask `{}`"),
             "enrollments": ("GET /api/v1/enrollments", "one SELECT"),
             "put": ("PUT …/lessons/<lesson>", "one upsert + one count"),
             "lesson_page": ("GET /tracks/<t>/<lesson> (page, signed in)",
                             "a Jinja template of the same size")}
    for key, (label, ref_label) in names.items():
        s = r["api"][key]
        met = s["ratio"] >= TARGETS[key] and s["p99_ratio"] <= P99_LIMIT
        lines.append(f"| {label} | {s['app']['rps']:.0f} | {s['app']['p50']:.2f} | {s['app']['p99']:.2f} | "
                     f"{ref_label} | {s['ref']['rps']:.0f} | {s['ref']['p50']:.2f} | {s['ref']['p99']:.2f} | "
                     f"{s['ratio']:.2f} (≥ {TARGETS[key]}) | {s['p99_ratio']:.2f} | {_ok(met)} |")
    lines += ["", "Throughput and p99 ratios are medians of the per-round ratios (app and reference back to back); "
              "the absolute figures are medians of the rounds. Per-round throughput ratios: " + "; ".join(
                  f"{k} {r['api'][k]['round_ratios']}" for k in names) + ".",
              "Per-round req/s (app / reference): " + "; ".join(
        f"{k} {r['api'][k]['app']['rounds']} / {r['api'][k]['ref']['rounds']}" for k in names),
        "Errors (non-2xx or socket): " + ", ".join(
        f"{k} {r['api'][k]['app']['errors']}/{r['api'][k]['ref']['errors']}" for k in names), ""]
    return lines


def sweep_section(r: dict) -> list[str]:
    lines = ["## 2. Reminder sweep (select due learners, render, write the outbox)", "",
              "| enrollments | due learners | seconds | ms per due learner |", "| ---: | ---: | ---: | ---: |"]
    for s in r["sweep"]:
        lines.append(f"| {s['enrollments']:,} | {s['due']:,} | {s['seconds']:.2f} | {s['per_due_ms']:.2f} |")
    sw = r["sweep"]
    if len(sw) >= 3:
        lines += ["", f"Same due count, {sw[-2]['enrollments'] / sw[0]['enrollments']:.0f}x the idle rows: "
                  f"{sw[-2]['seconds'] / sw[0]['seconds']:.2f}x the time. Same population, "
                  f"{sw[-1]['due'] / sw[-2]['due']:.0f}x the due learners: {sw[-1]['seconds'] / sw[-2]['seconds']:.2f}x the time."]
    lines.append("")
    return lines


def delivery_section(r: dict) -> list[str]:
    d = r["delivery"]
    ref, pipe = d["reference"], d["pipeline"]
    lines = ["## 2b. Delivery to a local aiosmtpd sink", "",
              f"{pipe['messages']:,} reminders of {r['mail_size']:.0f} bytes on average, "
              f"{d['connections']} SMTP connection(s) on both sides"
              + (f" (the outbox was topped up by copying swept rows {pipe['copies']}x)" if pipe["copies"] else "") + ".",
              "", "| | messages | seconds | msg/s | ratio (target ≥ 0.5) | met |", "| --- | ---: | ---: | ---: | ---: | --- |",
              f"| smtplib loop, pre-rendered (reference), just before | {ref['messages']:,} | "
              f"{ref['before']['seconds']:.1f} | {ref['before']['rate']:.0f} | | |",
              f"| smtplib loop, pre-rendered (reference), just after | {ref['messages']:,} | "
              f"{ref['after']['seconds']:.1f} | {ref['after']['rate']:.0f} | | |",
              f"| reference, mean of the two | {ref['messages']:,} | {ref['seconds']:.1f} | {ref['rate']:.0f} | | |",
              f"| outbox relay: claim, compose, send, mark sent | {pipe['messages']:,} | {pipe['seconds']:.1f} | "
              f"{pipe['rate']:.0f} | {d['ratio']:.2f} | {_ok(d['ratio'] >= 0.5)} |", "",
              f"The sink accepted {pipe['sink']:,} messages during the relay; {pipe['not_sent']} rows were left unsent.", ""]
    return lines


def pipeline_section(r: dict) -> list[str]:
    p = r["pipeline"]
    ref = p["reference"]
    lines = ["## 2c. Reminder pipeline end to end (sweep and relay together, as in production)", "",
             f"{p['messages']:,} due learners, reminders of {p['mail_size']:.0f} bytes on average, "
             f"{p['connections']} SMTP connection(s) on both sides. The sweep is `flask --app wsgi academy "
             f"reminders run` (beat's code), the relay the mail worker (`-Q mail -c {p['connections']}`), "
             "running at the same time: each sweep batch's commit publishes a relay. The clock runs from "
             "launching the sweep to the sink's last 250.", "",
             "| | messages | seconds | msg/s | ratio (target ≥ 0.5) | met |", "| --- | ---: | ---: | ---: | ---: | --- |"]
    for label, run in (("just before", ref["before"]), ("just after", ref["after"])):
        if run:
            lines.append(f"| smtplib loop, pre-rendered (reference), {label} | {ref['messages']:,} | "
                         f"{run['seconds']:.1f} | {run['rate']:.0f} | | |")
    lines += [f"| reference, mean | {ref['messages']:,} | {ref['seconds']:.1f} | {ref['rate']:.0f} | | |",
              f"| pipeline: select, render, queue, claim, compose, send | {p['messages']:,} | {p['seconds']:.1f} | "
              f"{p['rate']:.0f} | {p['ratio']:.2f} | {_ok(p['ratio'] >= 0.5)} |", "",
              f"The sweep itself ended after {p['sweep_seconds']:.1f} s ({p['sweep_seconds'] / p['messages'] * 1000:.2f} ms "
              f"per due learner, relay running beside it); {p['cli_start_up']:.1f} s of the clock is the CLI's start-up "
              f"(interpreter, imports, app, measured on its own), which beat's task in a running worker does not pay"
              + (f": without it, {p['ratio_without_start_up']:.2f}×" if p["seconds"] > 2 * p["cli_start_up"] else "")
              + f". {p['not_sent']} rows were left unsent; beat's 60-second safety-net relay was "
              f"published {p.get('safety_net_relays', 0)} time(s).", ""]
    return lines


def awards_section(r: dict) -> list[str]:
    idle, loaded = r.get("awards_idle") or {}, r.get("awards_loaded") or {}
    lines = ["## 3. Award latency (PUT completing a track → badge_award row visible)", "",
              "| condition | samples | p50 ms | p95 ms | max ms | target p95 | met |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for label, s, target in (("worker idle", idle, 1.0), ("during the relay", loaded, 5.0)):
        if s.get("samples"):
            lines.append(f"| {label} | {s['samples']} | {s['p50'] * 1000:.0f} | {s['p95'] * 1000:.0f} | "
                         f"{s['max'] * 1000:.0f} | {target * 1000:.0f} | {_ok(s['p95'] <= target)} |")
        else:
            lines.append(f"| {label} | 0 | | | | {target * 1000:.0f} | not measured |")
    lines += ["", "Measured from sending the PUT to the row being visible to another connection "
              "(polled every 5 ms); badges on queue `celery`, mail on queue `mail`, separate workers.", ""]
    return lines


def memory_section(r: dict) -> list[str]:
    mem = r["memory"]
    lines = ["## 4. Mail worker memory across the batch (VmRSS of its pool processes)", ""]
    if mem:
        lines += [f"Cold {mem['cold_kib'] / 1024:.1f} MiB; once under way {mem['base_kib'] / 1024:.1f} MiB; "
                  f"min {mem['min_kib'] / 1024:.1f}, max {mem['max_kib'] / 1024:.1f}, end {mem['end_kib'] / 1024:.1f} MiB: "
                  f"{mem['drift'] * 100:+.1f}% / {mem['dip'] * 100:+.1f}% (target within ±10%: "
                  f"{_ok(abs(mem['drift']) <= 0.1 and abs(mem['dip']) <= 0.1)}); {mem['samples']} samples.", "",
                  "| s | sent | KiB |", "| ---: | ---: | ---: |"]
        lines += [f"| {t} | {sent:,} | {kib:,} |" for t, sent, kib in mem["series"]]
    lines.append("")
    return lines


def connections_section(c: dict) -> list[str]:
    lines = ["## 5. Connections PostgreSQL sees: direct and through PgBouncer", "",
             f"{c['processes']}; {c['pool']}. PgBouncer 1.18 in transaction mode from "
             "`ops/pgbouncer/pgbouncer.ini` (`default_pool_size = 20`, `reserve_pool_size = 5`). "
             "Peak backends of the bench database in `pg_stat_activity`, sampled every 20 ms while "
             "wrk loaded both web instances (`GET /api/v1/enrollments`) and the workers ran 400 "
             "award tasks.", "",
             "| path | peak connections | samples | req/s (both instances) | errors |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for run in c["runs"]:
        lines.append(f"| {run['mode']} | {run['peak']} | {run['samples']} | {run['rps']:.0f} | "
                     f"{run['errors']} |")
    if c.get("missing"):
        lines.append(f"| pooled | not measured: {c['missing']} | | | |")
    return lines + [""]
