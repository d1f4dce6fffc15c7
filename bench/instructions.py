#!/usr/bin/env python3
"""Instructions per request of edgeway, counted by callgrind: steady where timings are not.

On a shared machine rps and CPU time move by 5-30% between runs; valgrind's
instruction counts move by about 1%. edgeway runs under ``valgrind
--tool=callgrind`` twice, serving ``--few`` and then ``--many`` requests over one
keep-alive connection; the difference divided by the difference in requests is
the cost of one request, start-up excluded. The backend is a small asyncio
server in a child process (not counted). Needs Debian's ``valgrind``; not part of
the test suite; loopback only, bounded by the request counts.

    python bench/instructions.py                       # no middleware
    python bench/instructions.py --chain               # headers, stripPrefix, rateLimit
    python bench/instructions.py --static 'metrics: {prometheus: {manualRouting: true}}'
    python bench/instructions.py --kernel /tmp/old/kernel   # another source tree
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent

BACKEND = """
import asyncio, sys
ANSWER = b"HTTP/1.1 200 OK\\r\\nContent-Length: 12\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello world\\n"
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(ANSWER * data.count(b"\\r\\n\\r\\n"))
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
asyncio.run(main())
"""

DYNAMIC = """http:
  routers:
    bench: {{rule: "PathPrefix(`/`)", service: bench{middlewares}}}
  services:
    bench:
      loadBalancer:
        servers: [{{url: "http://{backend}"}}]
"""

#: The chain of the services/middlewares issue's figure (as ``bench/run.py --chain``).
CHAIN = """  middlewares:
    hdr: {headers: {customRequestHeaders: {X-Bench: "1"}, customResponseHeaders: {X-Proxy: "bench"}}}
    strip: {stripPrefix: {prefixes: ["/api"]}}
    limit: {rateLimit: {average: 100000000, burst: 100000000}}
"""

STATIC = """entryPoints:
  web: {{address: "{host}:{port}"}}
log: {{level: ERROR}}
providers:
  file: {{filename: "{dynamic}", watch: false}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def count(args: argparse.Namespace, backend: str, requests: int) -> int:
    """Instructions of one edgeway process that serves ``requests`` (after 50 to warm up)."""
    tmp = Path(tempfile.mkdtemp(prefix="edgeway-instructions-"))
    port = free_port()
    middlewares = ", middlewares: [hdr, strip, limit]" if args.chain else ""
    dynamic = DYNAMIC.format(middlewares=middlewares, backend=backend) + (
        CHAIN if args.chain else ""
    )
    (tmp / "dynamic.yml").write_text(dynamic)
    static = STATIC.format(host=HOST, port=port, dynamic=tmp / "dynamic.yml") + args.static + "\n"
    (tmp / "static.yml").write_text(static)
    out = tmp / "callgrind.out"
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         "-m", "edgeway.cli", f"--configFile={tmp / 'static.yml'}"],
        env=dict(os.environ, PYTHONPATH=str(args.kernel)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    path = "/api/x" if args.chain else "/"
    request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: bench\r\n\r\n".encode()
    try:
        conn = _wait_until_served(port, request, proc)
        for _ in range(50 + requests):
            conn.sendall(request)
            answer = conn.recv(65536)
            if not answer.startswith(b"HTTP/1.1 200 "):
                raise SystemExit(f"unexpected answer: {answer[:80]!r}")
        conn.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no summary in {out}")


def _wait_until_served(port: int, request: bytes, proc: subprocess.Popen[bytes]) -> socket.socket:
    """A connection to edgeway once it answers 200 (start-up under valgrind takes a while)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("edgeway exited under valgrind")
        try:
            conn = socket.create_connection((HOST, port), timeout=60)
            conn.sendall(request)
            if conn.recv(65536).startswith(b"HTTP/1.1 200 "):
                return conn
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("edgeway did not answer within 600 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--chain", action="store_true", help="headers, stripPrefix and rateLimit on the router"
    )
    parser.add_argument("--static", default="", help="YAML appended to the static configuration")
    parser.add_argument(
        "--kernel", type=Path, default=ROOT / "kernel", help="edgeway's source tree"
    )
    parser.add_argument("--few", type=int, default=500)
    parser.add_argument("--many", type=int, default=2500)
    args = parser.parse_args()
    bport = free_port()
    backend = subprocess.Popen([sys.executable, "-c", BACKEND, str(bport)])
    try:
        few = count(args, f"{HOST}:{bport}", args.few)
        many = count(args, f"{HOST}:{bport}", args.many)
    finally:
        backend.kill()
    print(f"{(many - few) / (args.many - args.few):,.0f} instructions per request")


if __name__ == "__main__":
    main()
