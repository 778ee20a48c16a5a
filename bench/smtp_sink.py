"""A local SMTP server for the benchmark: accepts every message and counts it.

    python bench/smtp_sink.py PORT COUNT_FILE

aiosmtpd on 127.0.0.1:PORT; every 0.2 s it writes ``<messages> <bytes> <when>`` to COUNT_FILE
(``when``: the wall-clock time, ``time.time()``, of the last message's 250 reply) so the benchmark
can tell how many were accepted, and when the last was, without talking SMTP itself. Stops on
SIGTERM.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from aiosmtpd.smtp import SMTP


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.last = 0.0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        self.last = time.time()  # the 250 goes out as this returns
        return "250 OK"


async def main(port: int, count_file: str) -> None:
    counter = Counter()
    loop = asyncio.get_running_loop()
    # hostname given: aiosmtpd's default asks DNS (socket.getfqdn) for this host's name.
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="bench.local", ident="bench-sink", data_size_limit=None),
        host="127.0.0.1", port=port, backlog=128)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp sink listening on 127.0.0.1:{port}", flush=True)
    last = None
    while not stop.is_set():
        now = (counter.messages, counter.bytes, counter.last)
        if now != last:
            tmp = count_file + ".tmp"
            with open(tmp, "w") as fh:
                fh.write(f"{now[0]} {now[1]} {now[2]:.6f}\n")
            os.replace(tmp, count_file)
            last = now
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except TimeoutError:
            pass
    server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
