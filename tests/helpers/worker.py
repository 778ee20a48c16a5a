"""A real Celery worker process for the tests that need one (``start_worker`` starts it)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers.services import ROOT, TEST_REDIS_URL, academy_environ


class WorkerProcess:
    """A real ``celery -A worker worker`` process on the test database and Redis."""

    def __init__(self, database_url: str, env: dict, queues: str | None = None):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        full_env = academy_environ(database_url, **{"ACADEMY_REDIS_URL": TEST_REDIS_URL or "", **env})
        args = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--loglevel=info",
                "--concurrency=2", "--without-gossip", "--without-mingle", "-n", f"test{os.getpid()}@%h"]
        if queues:
            args += ["-Q", queues]
        self.proc = subprocess.Popen(args, cwd=ROOT, env=full_env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.wait_for("ready.", timeout=60)
        except BaseException:
            self.stop()  # never leave a half-started worker consuming the test queues
            raise

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def wait_for(self, text: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited:\n{self.output()[-4000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"worker never printed {text!r}:\n{self.output()[-4000:]}")

    def kill(self, sig=None) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig or signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
