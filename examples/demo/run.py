"""``make run``: two demo backends and edgeway in front of them.

Prints what to try, then runs until Ctrl-C (which stops everything).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def main() -> int:
    backends = [
        subprocess.Popen([sys.executable, str(HERE / "backend.py"), "--name", name, "--port", str(port)])
        for name, port in (("backend-a", 9101), ("backend-b", 9102))
    ]
    print(
        "edgeway demo on http://127.0.0.1:8000 (API on http://127.0.0.1:8080/api/http/routers)\n"
        "  curl -s localhost:8000/            # round robin: run it twice, see backend-a then backend-b\n"
        "  curl -si localhost:8000/app/hello  # stripPrefix: the backend sees /hello; X-Demo header added\n"
        "  curl -s localhost:8080/api/http/routers | python3 -m json.tool\n"
        "Edit examples/demo/dynamic.yml while it runs: changes apply live.\n",
        flush=True,
    )
    try:
        return subprocess.call([str(BIN / "edgeway"), f"--configFile={HERE / 'edgeway.yml'}"], cwd=HERE)
    except KeyboardInterrupt:
        return 0
    finally:
        for b in backends:
            b.terminate()
        for b in backends:
            b.wait()


if __name__ == "__main__":
    os.chdir(HERE)
    sys.exit(main())
