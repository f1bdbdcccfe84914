#!/usr/bin/env bash
# Creates bench/randproj/.venv (with the system's NumPy/SciPy/scikit-learn visible) and installs
# the peers the bench compares against: scikit-learn, SciPy and the `fastrp` package (Rust).
# Run by `tessera bench randproj` on first use; never needed by `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ ! -x "$here/.venv/bin/python" ]; then
    python3 -m venv --system-site-packages "$here/.venv"
fi
py="$here/.venv/bin/python"
"$py" -c "import numpy, scipy, sklearn" 2>/dev/null || "$py" -m pip install -q numpy scipy scikit-learn
"$py" -c "import fastrp" 2>/dev/null || "$py" -m pip install -q fastrp || echo "setup: fastrp not installed (the bench reports it unavailable)" >&2
echo "$py"
