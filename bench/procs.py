"""Child processes of the benchmark: started in their own process group, always stopped.

Every process the benchmark starts (gunicorn, Celery workers, the SMTP sink) goes through
``Processes.start`` and is stopped by ``Processes.stop_all``: SIGTERM to its own process group
(so gunicorn's and Celery's children go too), SIGKILL after a grace period. ``run.py`` calls
``stop_all`` from ``finally``, from ``atexit`` and on SIGINT/SIGTERM. Nothing is ever stopped by
name: other people's workers run on this machine.
"""
from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Child:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    def __init__(self, logdir: Path):
        self.logdir = logdir
        self.children: list[Child] = []
        atexit.register(self.stop_all)

    def start(self, name: str, argv: list[str], env: dict, cwd: str | None = None) -> Child:
        log = self.logdir / f"{name}.log"
        fh = open(log, "ab")
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        fh.close()
        child = Child(name, popen, log)
        self.children.append(child)
        return child

    def stop(self, child: Child, grace: float = 10.0) -> None:
        if child.popen.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                child.popen.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        # The group may outlive its leader (a pool child still exiting): make sure it is gone.
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            child.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if child in self.children:
            self.children.remove(child)

    def stop_all(self) -> None:
        # TERM to every group first, so they shut down side by side, then reap each.
        for child in self.children:
            if child.popen.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for child in reversed(list(self.children)):
            self.stop(child)


def wait_until(predicate, timeout: float, what: str, child: Child | None = None,
               interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited while waiting for {what}:\n{child.tail()}")
        time.sleep(interval)
    tail = f"\n{child.tail()}" if child is not None else ""
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")


def pool_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (a Celery worker's pool processes)."""
    children: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                children += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return sorted(set(children))


def rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
