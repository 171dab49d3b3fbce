#!/usr/bin/env bash
# A customer site with no network, run by test_offline_install.py as `unshare --net --mount offline_site.sh ...`:
# installs the bundle with packaging/install.sh, then, as the service user, indexes a repository, creates a
# token, serves, and asks for one completion over loopback. Writes its findings under WORK.
#
#   offline_site.sh INSTALL_SH ARCHIVE REPO WORK AUDIT_DIR
set -euo pipefail
install_sh=$1 archive=$2 repo=$3 work=$4 audit_dir=$5

ip link set lo up
# The site's own /etc (the service user is created there, not on the host) and /opt (the prefix; whatever the
# host keeps in /opt, such as a local package index, is out of sight).
cp -a /etc "$work/etc"
mount --bind "$work/etc" /etc
install -d -m 0755 "$work/opt"
mount --bind "$work/opt" /opt
export HOME=$work/home XDG_CACHE_HOME=$work/home/.cache
mkdir -p "$HOME"

# Every Python process from here on records its name lookups and connections (netaudit/sitecustomize.py).
install -d -m 0755 /opt/netaudit
cp "$audit_dir/sitecustomize.py" /opt/netaudit/
install -m 0666 /dev/null /opt/net-audit.jsonl
export PYTHONPATH=/opt/netaudit CODEMOAT_NET_AUDIT=/opt/net-audit.jsonl

start=$(date +%s.%N)
"$install_sh" "$archive" /opt/codemoat --python /usr/bin/python3.11 >"$work/install.out" 2>"$work/install.log"
installed=$(date +%s.%N)

codemoat=/opt/codemoat/bin/codemoat
as_service() { runuser -u codemoat -- "$@"; }
install -d -m 0755 /opt/repo
cp -r "$repo"/. /opt/repo/
stat -c '%a %U' /opt/codemoat/var >"$work/data-dir"
as_service "$codemoat" doctor --json >"$work/doctor.json" || true
as_service "$codemoat" index /opt/repo --name shop >"$work/index.log" 2>&1
as_service "$codemoat" token create site --admin >"$work/token" 2>/dev/null

as_service "$codemoat" serve --port 8765 >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
TOKEN=$(cat "$work/token") START=$start INSTALLED=$installed as_service /opt/codemoat/current/bin/python - \
  >"$work/result.json" <<'PY'
import json, os, time
import httpx

client = httpx.Client(base_url="http://127.0.0.1:8765", timeout=120)
for _ in range(600):
    try:
        if client.get("/readyz").status_code == 200:
            break
    except httpx.TransportError:
        pass
    time.sleep(0.5)
ready = time.time()
auth = {"Authorization": f"Bearer {os.environ['TOKEN']}"}
model = client.get("/v1/models", headers=auth).json()["data"][0]["id"]
response = client.post(
    "/v1/completions",
    headers=auth,
    json={"model": model, "prompt": "def total_price(items):\n    return", "max_tokens": 8},
)
print(json.dumps({
    "status": response.status_code,
    "model": model,
    "body": response.json(),
    "install_s": float(os.environ["INSTALLED"]) - float(os.environ["START"]),
    "ready_s": ready - float(os.environ["START"]),
}))
PY
cp /opt/net-audit.jsonl "$work/net-audit.jsonl"
