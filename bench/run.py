#!/usr/bin/env python3
"""Loopback benchmark: a backend, edgeway (and optionally Traefik) and wrk, on 127.0.0.1.

Prints requests/s, latency p50/p99 and the ratio to the backend alone, from
interleaved rounds (the host is noisy: compare ratios, not absolute numbers).
Needs ``wrk`` and ``nginx`` (Debian packages: ``apt-get install wrk nginx``);
not part of the test suite. Every load run is bounded by wrk's ``-d``.

    python bench/run.py                      # edgeway vs the backend
    python bench/run.py --traefik --runs 5   # and real Traefik (one core) in the same rounds
    python bench/run.py --https              # also HTTPS: keep-alive, and a new TLS connection per request
    python bench/run.py --baseline ../main/kernel   # and edgeway from another source tree
    python bench/run.py --modes none,metrics,alog-json,trace0 --baseline /tmp/old/kernel
                                             # one edgeway per observability mode, same rounds
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

NGINX = """worker_processes 1;
daemon off; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off; keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path {d}/b; proxy_temp_path {d}/p; fastcgi_temp_path {d}/f;
  uwsgi_temp_path {d}/u; scgi_temp_path {d}/s;
  server {{ listen {host}:{port} backlog=4096;
    location = / {{ default_type text/plain; return 200 "hello world\\n"; }}
    location = /v1/traces {{ return 200; }} }}
}}
"""

DYNAMIC = """http:
  routers:
    bench: {{rule: "PathPrefix(`/`)", service: bench{middlewares}}}
    bench-tls: {{rule: "PathPrefix(`/`)", service: bench, entryPoints: [websecure], tls: {{}}{middlewares}}}
  services:
    bench:
      loadBalancer:
        servers: [{{url: "http://{backend}"}}]
"""

#: ``--chain``: the three middlewares of the services/middlewares issue's figure.
CHAIN = """  middlewares:
    hdr: {{headers: {{customRequestHeaders: {{X-Bench: "1"}}, customResponseHeaders: {{X-Proxy: "bench"}}}}}}
    strip: {{stripPrefix: {{prefixes: ["/api"]}}}}
    limit: {{rateLimit: {{average: 100000000, burst: 100000000}}}}
"""

TLS = """tls:
  certificates:
    - {{certFile: "{cert}", keyFile: "{key}"}}
"""

STATIC = """entryPoints:
  web: {{address: "{host}:{port}"}}
  websecure: {{address: "{host}:{tls_port}"}}
log: {{level: ERROR}}
providers:
  file: {{filename: "{dynamic}", watch: false}}
"""


#: ``--modes``: the static configuration each observability mode adds ({tmp}: the
#: bench's folder; {otlp}: the backend, which also takes OTLP exports and answers 200).
MODES = {
    "none": "",
    # Traefik's default serves /metrics on its own entry point (:8080), leaving web's
    # routing as it is; manualRouting does the same without a second listener.
    "metrics": "metrics: {prometheus: {manualRouting: true}}\n",
    "metrics-web": "metrics: {prometheus: {entryPoint: web}}\n",  # /metrics routed on web too
    "metrics-nolabels": "metrics: {prometheus: {manualRouting: true, addEntryPointsLabels: false, addServicesLabels: false}}\n",
    "alog-json": "accessLog: {filePath: \"{tmp}/access-json.log\", format: json}\n",
    "alog-common": "accessLog: {filePath: \"{tmp}/access-common.log\", format: common}\n",
    "alog-clf": "accessLog: {filePath: \"{tmp}/access-clf.log\", format: genericCLF}\n",
    "trace0": "tracing: {sampleRate: 0, otlp: {http: {endpoint: \"http://{otlp}/v1/traces\"}}}\n",
    "trace1": "tracing: {sampleRate: 1, otlp: {http: {endpoint: \"http://{otlp}/v1/traces\"}}}\n",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_ok(port: int, timeout: float = 20.0, scheme: str = "http") -> None:
    deadline = time.monotonic() + timeout
    insecure = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{scheme}://{HOST}:{port}/", timeout=1, context=insecure) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"nothing answered 200 on port {port} within {timeout}s")


PIN: dict[str, list[str]] = {"load": [], "proxy": []}


def start(cmd: list[str], role: str = "proxy", **kw: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(PIN[role] + cmd, start_new_session=True, stdout=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (from /proc), in seconds."""
    total = 0.0
    tck = os.sysconf("SC_CLK_TCK")
    for task in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{task}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tck
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def wrk(port: int, duration: int, conns: int, scheme: str = "http", close: bool = False) -> dict[str, float]:
    extra = ["-H", "Connection: close"] if close else []
    out = subprocess.run(
        [*PIN["load"], "wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", *extra, f"{scheme}://{HOST}:{port}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"\s+(50|99)%\s+([\d.]+\w+)", out)}
    errors = sum(int(x) for x in re.findall(r"(?:Non-2xx or 3xx responses|Socket errors:.*?):?\s+(\d+)", out))
    return {"rps": rps, "p50": lat.get("50", 0.0), "p99": lat.get("99", 0.0), "errors": errors}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA certificate for 127.0.0.1 (what a TLS benchmark client accepts)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(tmp / "bench.key"), "-out", str(tmp / "bench.crt"), "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return tmp / "bench.crt", tmp / "bench.key"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--traefik", action="store_true", help="also measure real Traefik (GOMAXPROCS=1)")
    ap.add_argument(
        "--chain", action="store_true", help="route through headers, stripPrefix and rateLimit middlewares"
    )
    ap.add_argument("--static", default="", help="extra static configuration (YAML) appended for edgeway")
    ap.add_argument(
        "--https", action="store_true", help="also HTTPS: keep-alive, and a new TLS connection per request"
    )
    ap.add_argument(
        "--modes",
        default="",
        help=f"comma-separated observability modes, one edgeway (and baseline) each: {', '.join(MODES)}",
    )
    ap.add_argument(
        "--baseline", default="", help="also edgeway from this source tree's kernel/ (e.g. ../main/kernel)"
    )
    ap.add_argument(
        "--pin",
        action="store_true",
        help="taskset: backend and wrk on CPU 0, each proxy alone on CPU 1 (steadier figures)",
    )
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install wrk nginx")

    if args.pin:
        PIN.update(load=["taskset", "-c", "0"], proxy=["taskset", "-c", "1"])
    tmp = Path(tempfile.mkdtemp(prefix="edgeway-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        bport = free_port()
        (tmp / "nginx.conf").write_text(NGINX.format(d=tmp, host=HOST, port=bport))
        procs.append(start(["nginx", "-c", str(tmp / "nginx.conf"), "-p", str(tmp)], role="load"))
        wait_ok(bport)
        dynamic = DYNAMIC.format(
            backend=f"{HOST}:{bport}", middlewares=", middlewares: [hdr, strip, limit]" if args.chain else ""
        )
        cert, key = _certificate(tmp)
        (tmp / "dynamic.yml").write_text(dynamic + (CHAIN.format() if args.chain else "") + TLS.format(cert=cert, key=key))
        # name -> (port, pid, scheme, new connection per request)
        targets: dict[str, tuple[int, int | None, str, bool]] = {"direct": (bport, None, "http", False)}

        def proxy(
            name: str, cmd: list[str], env: dict[str, str] | None = None, extra: str = "", https: bool = True
        ) -> None:
            port, tls_port = free_port(), free_port()
            conf = tmp / f"{name}.yml"
            conf.write_text(STATIC.format(host=HOST, port=port, tls_port=tls_port, dynamic=tmp / "dynamic.yml") + extra)
            proc = start([*cmd, f"--configFile={conf}"], cwd=tmp, env=env)
            procs.append(proc)
            wait_ok(port)
            targets[name] = (port, proc.pid, "http", False)
            if args.https and https:
                wait_ok(tls_port, scheme="https")
                targets[f"{name} https"] = (tls_port, proc.pid, "https", False)
                targets[f"{name} https new conn"] = (tls_port, proc.pid, "https", True)

        proxy("edgeway", [str(BIN / "edgeway")], extra=args.static)
        base = str(Path(args.baseline).resolve()) if args.baseline else ""
        if base:
            proxy("baseline", [str(BIN / "edgeway")], env={**os.environ, "PYTHONPATH": base}, extra=args.static, https=False)
        for mode in filter(None, args.modes.split(",")):
            extra = args.static + MODES[mode].replace("{tmp}", str(tmp)).replace("{otlp}", f"{HOST}:{bport}")
            proxy(f"edgeway {mode}", [str(BIN / "edgeway")], extra=extra, https=False)
            if base:
                env = {**os.environ, "PYTHONPATH": base}
                proxy(f"baseline {mode}", [str(BIN / "edgeway")], env=env, extra=extra, https=False)

        traefik = shutil.which("traefik", path=str(BIN)) or shutil.which("traefik")
        if args.traefik and traefik:
            proxy("traefik-p1", [traefik], env={**os.environ, "GOMAXPROCS": "1"})

        results: dict[str, list[dict[str, float]]] = {t: [] for t in targets}
        for port, _, scheme, close in targets.values():
            wrk(port, 2, args.conns, scheme, close)  # warm-up
        for _ in range(args.runs):
            for name, (port, pid, scheme, close) in targets.items():
                before = cpu_seconds(pid) if pid else 0.0
                r = wrk(port, args.duration, args.conns, scheme, close)
                if pid:
                    r["cpu_us"] = (cpu_seconds(pid) - before) / max(1.0, r["rps"] * args.duration) * 1e6
                results[name].append(r)

        pinned = ", pinned: backend+wrk on CPU 0, proxy on CPU 1" if args.pin else ""
        chain = "headers+stripPrefix+rateLimit" if args.chain else "no middleware"
        print(
            f"wrk -t1 -c{args.conns} -d{args.duration}s x{args.runs}, GET / (12-byte body), "
            f"one router, {chain}{pinned}\n"
        )
        print("| target | rps (median) | p50 ms | p99 ms | ratio to direct | ratio to edgeway | CPU us/req | errors |")
        print("|---|---|---|---|---|---|---|---|")
        for name, runs in results.items():
            rps = statistics.median(r["rps"] for r in runs)
            ratio = statistics.median(r["rps"] / d["rps"] for r, d in zip(runs, results["direct"], strict=True))
            vs_ew = statistics.median(r["rps"] / e["rps"] for r, e in zip(runs, results["edgeway"], strict=True))
            cpu = statistics.median(r.get("cpu_us", 0.0) for r in runs)
            mid = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            errors = sum(int(r["errors"]) for r in runs)
            print(
                f"| {name} | {rps:,.0f} | {mid['p50']:.2f} | {mid['p99']:.2f} | {ratio:.2f} | {vs_ew:.2f} | "
                f"{cpu:.1f} | {errors} |"
            )
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
