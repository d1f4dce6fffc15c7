"""Fixtures for every test directory (tests/, plugins/*/tests/).

``real_apiserver``: a real kube-apiserver + etcd on loopback (see tests/real_apiserver.py).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "tests"))

from real_apiserver import real_apiserver  # noqa: E402, F401
