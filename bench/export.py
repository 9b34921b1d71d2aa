"""export otlp speed: the 1,000,000-attempt ledger of bench/ledger.py sent to a local OTLP/HTTP
receiver (it counts what it takes, as a collector would acknowledge it), then the export run
again with nothing new. Whole processes, on the ledger `bench/ledger.py --keep DIR` built.

Usage: python bench/export.py --ledger DIR [--last 30d]
The peer beside it: the same receiver taking the same bytes from a bare httpx loop, so the
ratio says how much of the time is ours (reading, building messages) and how much the wire.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class Sink(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.requests += 1
                sink.bytes += len(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ledger", type=Path, required=True, help="bench/ledger.py's --keep DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        shutil.copy(args.ledger / "ledger.db", home / "ledger.db")  # the marks land in a copy
        sink = Sink()
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{sink.server_address[1]}"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["TOKENROUTE_HOME"] = str(home)
        script = Path(sys.executable).with_name("tokenroute")
        command = [str(script), "export", "otlp", "--endpoint", url, "--json"]
        began = time.perf_counter()
        done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
        first = time.perf_counter() - began
        attempts = json.loads(done.stdout)["sent"]
        requests, sent = sink.requests, sink.bytes
        began = time.perf_counter()
        subprocess.run(command, env=env, check=True, stderr=subprocess.DEVNULL)
        again = time.perf_counter() - began
        # the peer: the same number of requests of the same average size, from a bare loop
        import httpx

        body = b"x" * (sent // max(requests, 1))
        began = time.perf_counter()
        with httpx.Client() as client:
            for _ in range(requests):
                client.post(url + "/v1/traces", content=body)
        wire = time.perf_counter() - began
        sink.shutdown()
    print(
        f"first export        {first:7.2f} s  ({requests:,} requests, {sent / 1e6:,.0f} MB, "
        f"about {attempts / first:,.0f} attempts/s)"
    )
    print(f"again, nothing new  {again:7.2f} s")
    ratio = f"export is {first / wire:.1f}x the wire"
    print(f"bare httpx, same requests and bytes {wire:6.2f} s -> {ratio}")


if __name__ == "__main__":
    main()
