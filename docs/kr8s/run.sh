#!/bin/sh
# kr8s's cluster tests against a running svclab cluster (see README, "kr8s's cluster tests").
# usage: docs/kr8s/run.sh KUBECONFIG [pytest args]; needs the venv /tmp/kr8s-venv (README says how).
set -e
here=$(cd "$(dirname "$0")" && pwd)
venv=${KR8S_VENV:-/tmp/kr8s-venv}
site=$("$venv/bin/python" -c 'import kr8s, pathlib; print(pathlib.Path(kr8s.__file__).parent.parent)')
kubeconfig=$(mktemp)
cp "$1" "$kubeconfig"; shift
cd "$here"
SVCLAB_KUBECONFIG=$kubeconfig PYTHONPATH=$here exec "$venv/bin/python" -m pytest -c pytest.ini \
  --confcutdir="$site" -p svclab_cluster -p no:cacheprovider -rfEs "$site/kr8s/tests" "$@"
