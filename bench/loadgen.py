"""HTTP load for the API phase: request files, wrk with ``load.lua``, and a Python stand-in."""
from __future__ import annotations

import http.client
import json
import subprocess
import threading
import time
from pathlib import Path

from common import BENCH, pct


def write_requests(path: Path, lines: list[tuple[str, str, str | None, str | None]]) -> Path:
    with open(path, "w") as fh:
        for method, target, token, body in lines:
            fh.write(f"{method}\t{target}\t{token or '-'}\t{body or '-'}\n")
    return path


def run_wrk(port: int, requests: Path, duration: float, clients: int) -> dict:
    threads = min(2, clients)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
         "-s", str(BENCH / "load.lua"), f"http://127.0.0.1:{port}", "--", str(requests)],
        capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr or out.stdout}")
    summary = json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])
    errors = sum(summary[k] for k in ("connect", "read", "write", "status", "timeout"))
    seconds = summary["duration_us"] / 1e6
    return {"rps": summary["requests"] / seconds, "p50": summary["p50_us"] / 1000,
            "p99": summary["p99_us"] / 1000, "requests": summary["requests"], "errors": errors,
            "status_errors": summary["status"]}


def run_python_load(port: int, requests: Path, duration: float, clients: int) -> dict:
    """A keep-alive HTTP/1.1 client per thread; for --smoke where wrk may be missing."""
    lines = [line.rstrip("\n").split("\t") for line in open(requests)]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + duration

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        mine: list[float] = []
        i = offset
        while time.perf_counter() < stop_at:
            method, target, token, body = lines[i % len(lines)]
            i += 1
            headers = {}
            if token != "-":
                headers["Authorization"] = f"Bearer {token}"
            if body != "-":
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                conn.request(method, target, body=None if body == "-" else body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    with lock:
                        errors[0] += 1
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
            except OSError:
                with lock:
                    errors[0] += 1
                conn.close()
            mine.append((time.perf_counter() - started) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n * max(1, len(lines) // clients),))
               for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return {"rps": len(latencies) / seconds, "p50": pct(latencies, 50), "p99": pct(latencies, 99),
            "requests": len(latencies), "errors": errors[0], "status_errors": errors[0]}
