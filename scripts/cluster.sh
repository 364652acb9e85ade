#!/usr/bin/env bash
# A Kubernetes control plane on loopback for the real-engine tests, from the binaries that
# scripts/setup-tools.sh builds into .tools/bin:
#   kine (etcd's API on SQLite) -> kube-apiserver -> kube-controller-manager, kube-scheduler,
#   kwok (fake nodes with GPUs; scheduled pods become Ready; scripts/cluster/kwok.yaml),
#   the Gateway API's standard CRDs and Contour's (Contour itself is started by the test that needs
#   it, test/peers/contour.ts: other routes are stored, not served).
# Nothing runs inside the pods: this proves what the API server, the controllers and the engines do
# with our Terraform, not what Triton does.
#
#   scripts/cluster.sh up      start it (idempotent: a running cluster is reused); prints KUBECONFIG
#   scripts/cluster.sh down    stop it and delete its state
#   scripts/cluster.sh status  exit 0 when it answers
#
# State, certificates, logs and the kubeconfig live in $CLUSTER_DIR (default .tools/cluster).
# Ports (loopback only): $CLUSTER_API_PORT (16443), $CLUSTER_KINE_PORT (12379),
# $CLUSTER_KWOK_PORT (10247, the fake nodes' kubelet endpoint: logs, port-forward).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.tools/bin
DIR=${CLUSTER_DIR:-$ROOT/.tools/cluster}
API_PORT=${CLUSTER_API_PORT:-16443}
KINE_PORT=${CLUSTER_KINE_PORT:-12379}
KWOK_PORT=${CLUSTER_KWOK_PORT:-10247}
KUBECONFIG_FILE=$DIR/kubeconfig
NODES=${CLUSTER_NODES:-2}

log() { echo "cluster: $*" >&2; }
KUBECTL=$BIN/kubectl # of the cluster's own version, built by setup-tools
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }

answers() { [[ -f $KUBECONFIG_FILE ]] && kc get --raw /readyz >/dev/null 2>&1; }

certs() {
  local d=$DIR/pki
  [[ -f $d/admin.crt ]] && return
  mkdir -p "$d"
  log "generating a CA, serving and client certificates and the service-account key (openssl)"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=cdktf-triton-test-ca" 2>/dev/null
    sign() { # name subject sans(optional)
      openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      local ext=/dev/null
      if [[ -n ${3:-} ]]; then printf 'subjectAltName=%s\n' "$3" > "$1.ext"; ext=$1.ext; fi
      openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$ext" 2>/dev/null
    }
    sign apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    sign kubelet "/CN=kwok-kubelet" "IP:127.0.0.1,DNS:localhost"
    sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
    sign admin "/O=system:masters/CN=cdktf-triton-admin"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
}

kubeconfig() {
  local d=$DIR/pki
  cat > "$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: cdktf-triton-test
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 < "$d/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $(base64 -w0 < "$d/admin.crt")
    client-key-data: $(base64 -w0 < "$d/admin.key")
contexts:
- name: cdktf-triton-test
  context: {cluster: cdktf-triton-test, user: admin}
current-context: cdktf-triton-test
EOF
  chmod 600 "$KUBECONFIG_FILE"
}

start() { # name args...: runs in the background, logs to $DIR/<name>.log, pid in $DIR/<name>.pid
  local name=$1; shift
  setsid "$BIN/$name" "$@" > "$DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$name.pid"
}

wait_for() { # what seconds command...
  local what=$1 limit=$2 start=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start > limit )); then log "$what did not come up in ${limit}s; logs in $DIR"; tail -n 20 "$DIR"/*.log >&2 || true; return 1; fi
    sleep 0.5
  done
}

up() {
  for b in kine kube-apiserver kube-controller-manager kube-scheduler kwok kubectl; do
    [[ -x $BIN/$b ]] || { log "$BIN/$b is missing: run scripts/setup-tools.sh"; exit 1; }
  done
  if answers; then log "already up (KUBECONFIG=$KUBECONFIG_FILE)"; echo "$KUBECONFIG_FILE"; return; fi
  down_processes
  # A cluster that does not answer is a leftover (a killed run, an earlier session): start clean.
  rm -f "$DIR"/state.db*
  mkdir -p "$DIR"
  local began=$SECONDS d=$DIR/pki
  certs
  kubeconfig
  # kine serves metrics on :8080 of every interface unless told otherwise: off.
  start kine --listen-address "127.0.0.1:$KINE_PORT" --metrics-bind-address 0 --endpoint "sqlite://$DIR/state.db?_journal=WAL&cache=shared&_busy_timeout=30000"
  wait_for kine 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$KINE_PORT"
  start kube-apiserver \
    --etcd-servers "http://127.0.0.1:$KINE_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" --client-ca-file "$d/ca.crt" \
    --kubelet-client-certificate "$d/apiserver-kubelet-client.crt" --kubelet-client-key "$d/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$d/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC --allow-privileged=true \
    --endpoint-reconciler-type none \
    --disable-admission-plugins TaintNodesByCondition
  wait_for kube-apiserver 120 kc get --raw /readyz
  # No node lifecycle controller: kwok nodes send no heartbeats, and nothing here needs evictions;
  # so nodes are not tainted not-ready at creation either (TaintNodesByCondition is off above).
  start kube-controller-manager --kubeconfig "$KUBECONFIG_FILE" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
    --cluster-signing-cert-file "$d/ca.crt" --cluster-signing-key-file "$d/ca.key" \
    --controllers '*,-node-lifecycle-controller,-node-ipam-controller'
  start kube-scheduler --kubeconfig "$KUBECONFIG_FILE" --leader-elect=false --bind-address 127.0.0.1 --secure-port 0
  kc apply --server-side -f "$ROOT/.tools/kwok-crds/" -f "$ROOT/.tools/gateway-api-crds/" -f "$ROOT/.tools/monitoring-crds/" -f "$ROOT/.tools/contour-crds/" >/dev/null
  wait_for "the CRDs (kwok's port-forwards and logs, Gateway API, Prometheus Operator, Contour)" 30 kc wait --for condition=established --timeout 5s \
    crd/clusterportforwards.kwok.x-k8s.io crd/portforwards.kwok.x-k8s.io crd/logs.kwok.x-k8s.io crd/httproutes.gateway.networking.k8s.io \
    crd/prometheusrules.monitoring.coreos.com crd/servicemonitors.monitoring.coreos.com crd/httpproxies.projectcontour.io
  start kwok --kubeconfig "$KUBECONFIG_FILE" --config "$ROOT/scripts/cluster/kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 --node-port "$KWOK_PORT" --server-address "127.0.0.1:$KWOK_PORT" \
    --tls-cert-file "$d/kubelet.crt" --tls-private-key-file "$d/kubelet.key" --cidr 10.244.0.1/16 \
    --enable-crds PortForward,ClusterPortForward,Logs
  local i
  for ((i = 0; i < NODES; i++)); do
    kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-gpu-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels:
    kubernetes.io/hostname: kwok-gpu-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    nvidia.com/gpu.product: NVIDIA-L4
    topology.kubernetes.io/zone: zone-$((i % 2))
EOF
  done
  wait_for "the kwok nodes" 60 bash -c "[[ \$('$KUBECTL' --kubeconfig '$KUBECONFIG_FILE' get nodes --no-headers 2>/dev/null | grep -c ' Ready ') -eq $NODES ]]"
  wait_for "the default service account" 60 kc get serviceaccount default -n default
  log "up in $((SECONDS - began))s: API https://127.0.0.1:$API_PORT, $NODES kwok nodes; KUBECONFIG=$KUBECONFIG_FILE"
  echo "$KUBECONFIG_FILE"
}

# The pid recorded for a component, if that process is still that component (pids get reused).
ours() {
  local pid; pid=$(cat "$DIR/$1.pid" 2>/dev/null || true)
  [[ -n $pid ]] && { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -q "^$BIN/$1 " && echo "$pid"
}

down_processes() {
  local name pid
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver kine; do
    pid=$(ours "$name" || true)
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
  done
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver kine; do
    pid=$(ours "$name" || true)
    rm -f "$DIR/$name.pid"
    [[ -z $pid ]] && continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

case ${1:-} in
  up) up ;;
  down) down_processes; rm -rf "$DIR"; log "down" ;;
  status) answers ;;
  *) echo "usage: scripts/cluster.sh up|down|status" >&2; exit 2 ;;
esac
