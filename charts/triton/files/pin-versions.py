# The pod's postStart hook for models whose versions are pinned (TritonModelCanary): Triton has
# loaded each model from its config.pbtxt; this re-loads it with the same configuration and
# `version_policy: specific` set to the versions the pair's ConfigMap holds now (read into the
# container's environment at its start), so a pod that starts or restarts mid-promotion serves what
# the others serve. The pod is not Running, so not ready, until it exits 0; a non-zero exit has the
# kubelet kill and restart the container. Standard library only (the Triton image's python3).
# Usage: python3 -c <this> <http port> <admin header or ""> <deadline seconds> <model>...
# with TRITON_PINNED_VERSIONS_<i> (e.g. "3,4") for the i-th model.
import json
import os
import sys
import time
import urllib.error
import urllib.request

port, header, budget, models = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4:]
deadline = time.time() + budget
key = os.environ.get("TRITON_RESTRICTED_API_KEY", "")


def fail(message):
    print(f"pin-versions: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if header and key:
        request.add_header(header, key)
    with urllib.request.urlopen(request, timeout=max(1.0, deadline - time.time())) as answer:
        text = answer.read()
        return json.loads(text) if text else None


def index():
    return call("POST", "/v2/repository/index", {})


for i, model in enumerate(models):
    raw = os.environ.get(f"TRITON_PINNED_VERSIONS_{i}", "")
    try:
        versions = sorted({int(v) for v in raw.split(",") if v.strip()})
    except ValueError:
        fail(f"TRITON_PINNED_VERSIONS_{i} is {raw!r}, not versions like 3,4")
    if not versions:
        fail(f"no versions for model {model} (TRITON_PINNED_VERSIONS_{i} is empty)")
    # Wait until Triton has loaded the model from its file (or said it could not).
    while True:
        try:
            call("GET", f"/v2/models/{model}/ready")
            break
        except (urllib.error.URLError, OSError) as e:
            if isinstance(e, urllib.error.HTTPError):
                try:
                    states = [m for m in index() if m.get("name") == model]
                except (urllib.error.URLError, OSError):
                    states = []
                if states and all(m.get("state") == "UNAVAILABLE" for m in states):
                    fail(f"model {model} did not load from its file: {'; '.join(m.get('reason', '') for m in states)}")
            if time.time() > deadline:
                fail(f"model {model} was not ready within {budget:g} s: {e}")
            time.sleep(1)
    config = call("GET", f"/v2/models/{model}/config")
    config["version_policy"] = {"specific": {"versions": versions}}
    try:
        call("POST", f"/v2/repository/models/{model}/load", {"parameters": {"config": json.dumps(config)}})
    except urllib.error.HTTPError as e:
        fail(f"loading versions {versions} of {model} failed: {e.code} {e.read().decode(errors='replace')[:500]}")
    served = sorted(int(m["version"]) for m in index() if m.get("name") == model and m.get("state") == "READY")
    if served != versions:
        fail(f"model {model} serves versions {served}, not the pinned {versions}")
    print(f"pin-versions: {model} serves versions {','.join(map(str, versions))}", flush=True)
