#!/usr/bin/env bash
# A real single-node Kubernetes v1.20.2 cluster on loopback for the tests in tests/k8s:
# etcd, kube-apiserver, kube-scheduler, kube-controller-manager, kubelet, and a private
# containerd 1.6 (Debian) with runc and CNI bridge networking on a private bridge. No registry
# is reachable, so the Kubernetes binaries are built from Debian's kubernetes source package
# and images are built or imported locally (pods use imagePullPolicy: Never).
#
#   cluster.sh build               build the binaries into $CACHE (~10 min once) + kubectl
#   cluster.sh images [DIR]        build local/pause:1 and local/python:3 tars into $CACHE/images;
#                                  with DIR of a started cluster, import them into its containerd
#   cluster.sh start DIR           start everything with state in DIR; prints the kubeconfig
#   cluster.sh load-image DIR IMG  import a local Docker image (docker save) into DIR's containerd
#   cluster.sh stop DIR            stop what start DIR started (by PID), remove its containers,
#                                  mounts, bridge, CNI state and kubepods cgroups; restore sysctls
#
# CACHE is ${KUBE_TEST_CACHE:-$HOME/.cache/k8s-test}. kubectl: DIR/kubectl with
# KUBECONFIG=DIR/api/kubeconfig. CLUSTER_OCI_HOOKS: path of a JSON file with an OCI "hooks"
# object that containerd puts into every app container's spec (base_runtime_spec); unset, no
# hooks. Env: KUBE_NODE_NAME (localhost), KUBE_CNI_BRIDGE (k8stest0), KUBE_POD_SUBNET
# (10.87.0.0/16), KUBELET_PORT (10250), KUBE_APISERVER_PORT (6443), ETCD_PORT (2379).
# No kube-proxy and no DNS. Host facts: cgroup v1 (cgroupfs driver), no systemd, no
# CAP_SYS_RESOURCE (restrict_oom_score_adj; runc through a wrapper that drops the capability
# from the bounding set). kubelet 1.20 refuses a loopback --node-ip, so the node is named
# localhost and the apiserver reaches kubelet by that Hostname address.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${KUBE_TEST_CACHE:-$HOME/.cache/k8s-test}
BIN=$CACHE/kube-apiserver
NODE=${KUBE_NODE_NAME:-localhost}  # must resolve to 127.0.0.1: apiserver reaches kubelet by it
BRIDGE=${KUBE_CNI_BRIDGE:-k8stest0}
SUBNET=${KUBE_POD_SUBNET:-10.87.0.0/16}
KPORT=${KUBELET_PORT:-10250}
KUBECTL=$CACHE/kubectl
SYSCTLS="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
log() { printf 'cluster.sh %(%T)T: %s\n' -1 "$*" >&2; }

mirror() {  # the Debian mirror this host's apt already uses
  { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } \
    | grep -oE 'https?://[^ ]+/debian/?$' | head -1 | sed 's:/*$::'
}

pkgs() {  # Debian packages the node needs
  local p missing=""
  for p in containerd runc containernetworking-plugins busybox-static debootstrap iproute2 python3 curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
  done
  [ -z "$missing" ] || { log "installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; }
}

build() {
  local need="" b
  for b in kube-apiserver kubelet kube-scheduler kube-controller-manager; do [ -x "$CACHE/$b" ] || need="$need $b"; done
  if [ -n "$need" ]; then
    # all commands from one source tree in one go build
    local W; W=$(mktemp -d "${TMPDIR:-/tmp}/k8sbuild.XXXX")
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends golang-1.19-go golang-github-modern-go-reflect2-dev \
      rsync make etcd-server openssl >/dev/null
    local M; M=$(mirror); [ -n "$M" ] || { log "no Debian mirror found in apt sources"; exit 2; }
    mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/src"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s bookworm main\n' "$M" > "$W/apt/sources.list"
    printf 'deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s-security bookworm-security main\n' "$M" >> "$W/apt/sources.list"
    local O="-o Dir::Etc::SourceList=$W/apt/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$W/apt/lists -o Dir::Cache=$W/apt/cache"
    apt-get $O -q update >/dev/null 2>&1
    (cd "$W/src" && apt-get $O source --download-only kubernetes >/dev/null 2>&1)
    (cd "$W/src" && tar xzf kubernetes_*.orig.tar.gz)
    local K; K=$(ls -d "$W"/src/kubernetes-1.*/ | head -1); K=${K%/}
    local R=$K/vendor/github.com/modern-go/reflect2; rm -f "$R"/*.go "$R"/*.s
    cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.{go,s} "$R"/; rm -f "$R"/*_test.go
    export PATH=/usr/lib/go-1.19/bin:$PATH GOCACHE=$W/gocache CGO_ENABLED=0 GOFLAGS= GOPROXY=off GO111MODULE=off
    (cd "$K" && KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean make gen_openapi >/dev/null)
    mkdir -p "$W/gopath/src/k8s.io" && ln -sfn "$K" "$W/gopath/src/k8s.io/kubernetes"
    local LD="-s -w" V pk=""
    for V in k8s.io/kubernetes/vendor/k8s.io/component-base/version k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version; do
      LD="$LD -X $V.gitVersion=v1.20.2 -X $V.gitMajor=1 -X $V.gitMinor=20 -X $V.gitTreeState=clean"
    done
    for b in $need; do pk="$pk k8s.io/kubernetes/cmd/$b"; done
    mkdir -p "$CACHE" "$W/out"
    log "building$need (about 10 minutes on 2 cores)"
    (cd "$W/gopath/src/k8s.io/kubernetes" && GOPATH=$W/gopath go build -p 2 -ldflags "$LD" -o "$W/out/" $pk)
    for b in $need; do mv "$W/out/$b" "$CACHE/$b"; done
    rm -rf "$W"; log "built$need in $CACHE"
  fi
  if [ ! -x "$KUBECTL" ]; then  # Debian's kubernetes-client 1.20, unpacked (no clash with other kubectls)
    local T; T=$(mktemp -d "${TMPDIR:-/tmp}/kubectl.XXXX")
    (cd "$T" && apt-get download kubernetes-client >/dev/null 2>&1 && dpkg-deb -x kubernetes-client_*.deb x)
    install -m 0755 "$T/x/usr/bin/kubectl" "$KUBECTL"; rm -rf "$T"
  fi
  pkgs
}

# docker-archive (docker save) tar from a rootfs dir: NAME ROOTFS OUT CONFIGJSON
mkimage() {
  python3 - "$@" <<'PY'
import hashlib, json, os, subprocess, sys, tarfile, tempfile
name, rootfs, out, cfg = sys.argv[1:5]
with tempfile.TemporaryDirectory(dir=os.path.dirname(out)) as t:
    layer = os.path.join(t, "layer.tar")
    subprocess.check_call(["tar", "--numeric-owner", "-C", rootfs, "-cf", layer, "."])
    h = hashlib.sha256()
    with open(layer, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""): h.update(b)
    diff = "sha256:" + h.hexdigest()
    conf = {"architecture": "amd64", "os": "linux", "config": json.loads(cfg),
            "rootfs": {"type": "layers", "diff_ids": [diff]},
            "history": [{"created_by": "cluster.sh images"}]}
    cb = json.dumps(conf).encode(); ch = hashlib.sha256(cb).hexdigest()
    man = [{"Config": ch + ".json", "RepoTags": [name], "Layers": [h.hexdigest() + "/layer.tar"]}]
    with tarfile.open(out + ".tmp", "w") as tf:
        for n, data in ((ch + ".json", cb), ("manifest.json", json.dumps(man).encode())):
            p = os.path.join(t, n); open(p, "wb").write(data); tf.add(p, n)
        tf.add(layer, h.hexdigest() + "/layer.tar")
    os.replace(out + ".tmp", out)
PY
}

images() {
  local I=$CACHE/images R; mkdir -p "$I"; pkgs
  if [ ! -s "$I/pause.tar" ]; then
    R=$(mktemp -d "${TMPDIR:-/tmp}/pause.XXXX"); mkdir -p "$R/bin"; cp /bin/busybox "$R/bin/busybox"
    mkimage local/pause:1 "$R" "$I/pause.tar" \
      '{"Entrypoint":["/bin/busybox","sleep","2147483647"],"StopSignal":"SIGKILL","Env":["PATH=/bin"]}'
    rm -rf "$R"; log "built local/pause:1"
  fi
  if [ ! -s "$I/python.tar" ]; then
    local M; M=$(mirror); [ -n "$M" ] || { log "no Debian mirror found in apt sources"; exit 2; }
    R=$(mktemp -d "${TMPDIR:-/tmp}/pyroot.XXXX"); log "debootstrap bookworm + python3 into $R"
    debootstrap --variant=minbase --include=python3 bookworm "$R" "$M" >"$I/debootstrap.log" 2>&1 \
      || { tail -20 "$I/debootstrap.log" >&2; rm -rf "$R"; exit 1; }
    rm -f "$I/debootstrap.log"
    rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/cache/apt/*.bin "$R"/var/lib/apt/lists/* \
      "$R"/etc/apt/sources.list "$R"/usr/share/doc/* "$R"/usr/share/man/* \
      "$R"/var/log/bootstrap.log
    mkimage local/python:3 "$R" "$I/python.tar" \
      '{"Cmd":["python3"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8"]}'
    rm -rf "$R"; log "built local/python:3"
  fi
  local D=${1:-}
  if [ -n "$D" ]; then
    D=$(cd "$D" && pwd); alive "$D" containerd || { log "containerd of $D is not running"; exit 1; }
    local t; for t in "$I"/*.tar; do
      ctr -a "$D/containerd/containerd.sock" -n k8s.io images import "$t" >/dev/null
    done
  fi
}

put() {  # FILE < content: replace atomically, only when it changed (containerd watches net.d)
  local t; t=$(mktemp "$(dirname "$(dirname "$1")")/.put.XXXX"); cat > "$t"
  if cmp -s "$t" "$1"; then rm -f "$t"; else mv -f "$t" "$1"; fi
}

alive() { [ -s "$1/$2.pid" ] && kill -0 "$(cat "$1/$2.pid")" 2>/dev/null; }

spawn() {  # DIR NAME CMD...: setsid, log DIR/NAME.log, pid DIR/NAME.pid
  local D=$1 N=$2; shift 2
  alive "$D" "$N" && return 0
  setsid "$@" >"$D/$N.log" 2>&1 </dev/null &
  echo $! > "$D/$N.pid"
}

base_spec() {  # the default OCI spec, plus the hooks of $CLUSTER_OCI_HOOKS when set
  ctr oci spec | python3 -c '
import json, sys
s = json.load(sys.stdin)
if sys.argv[1]:
    with open(sys.argv[1]) as f:
        s["hooks"] = json.load(f)
json.dump(s, sys.stdout, indent=1)' "${CLUSTER_OCI_HOOKS:-}"
}

start() {
  local D=${1:?usage: start DIR}; mkdir -p "$D"; D=$(cd "$D" && pwd)
  local t0=$SECONDS
  build; [ -s "$CACHE/images/python.tar" ] && [ -s "$CACHE/images/pause.tar" ] || images
  ln -sfn "$KUBECTL" "$D/kubectl"
  local KC=$D/api/kubeconfig
  if ! alive "$D/api" apiserver; then
    local port; for port in "${KUBE_APISERVER_PORT:-6443}" "${ETCD_PORT:-2379}" "$KPORT"; do
      ! ss -Hltn "sport = :$port" | grep -q . || { log "port $port is in use (another cluster?)"; exit 1; }
    done
    # apiserver -> kubelet (logs, exec) by the node's Hostname address, localhost: kubelet 1.20
    # refuses a loopback --node-ip ("nodeIP can't be loopback address") and would report none
    KUBE_APISERVER_EXTRA_ARGS="--kubelet-preferred-address-types=Hostname ${KUBE_APISERVER_EXTRA_ARGS:-}" \
      api_start "$D/api" >/dev/null
  fi
  local C=$D/containerd; mkdir -p "$C" "$D/cni/net.d" "$D/cni/ipam" "$D/kubelet"
  put "$D/cni/net.d/10-k8stest.conflist" <<J
{"cniVersion": "0.4.0", "name": "k8stest", "plugins": [
  {"type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "$SUBNET"}]], "dataDir": "$D/cni/ipam"}}]}
J
  base_spec | put "$C/base-spec.json"
  put "$C/config.toml" <<T
version = 2
root = "$C/root"
state = "$C/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$C/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$C/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/local/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      base_runtime_spec = "$C/base-spec.json"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$HERE/runc_boundcaps.py"
        Root = "$C/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$D/cni/net.d"
T
  if ! alive "$D" containerd; then
    spawn "$D" containerd containerd --config "$C/config.toml"
    local i; for i in $(seq 60); do ctr -a "$C/containerd.sock" version >/dev/null 2>&1 && break; sleep 0.5; done
    ctr -a "$C/containerd.sock" version >/dev/null 2>&1 || { tail -20 "$D/containerd.log" >&2; exit 1; }
  fi
  images "$D"
  local K=$D/kubelet
  put "$K/config.yaml" <<Y
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KPORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 0
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
failSwapOn: false
oomScoreAdj: 0
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
resolvConf: /etc/resolv.conf
Y
  if ! alive "$D" kubelet; then
    [ -s "$D/sysctl.saved" ] || sysctl -n $SYSCTLS > "$D/sysctl.saved" 2>/dev/null || true
    spawn "$D" kubelet "$CACHE/kubelet" --config="$K/config.yaml" --kubeconfig="$KC" --root-dir="$K/root" \
      --cert-dir="$K/pki" --hostname-override="$NODE" \
      --container-runtime=remote --container-runtime-endpoint="unix://$C/containerd.sock" \
      --runtime-request-timeout=5m --pod-infra-container-image=docker.io/local/pause:1 --v=1
  fi
  spawn "$D" scheduler "$CACHE/kube-scheduler" --kubeconfig="$KC" --leader-elect=false --port=0 \
    --secure-port=0 --bind-address=127.0.0.1
  spawn "$D" controller-manager "$CACHE/kube-controller-manager" --kubeconfig="$KC" --leader-elect=false \
    --port=0 --secure-port=0 --bind-address=127.0.0.1 --use-service-account-credentials=false \
    --service-account-private-key-file="$D/api/pki/sa.key" --root-ca-file="$D/api/pki/ca.crt" \
    --controllers='*,-nodeipam,-cloud-node-lifecycle,-route,-service'
  local i; for i in $(seq 180); do
    [ "$("$KUBECTL" --kubeconfig="$KC" get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ] && break
    alive "$D" kubelet || break; sleep 0.5
  done
  # kubelet sets kernel.panic_on_oops=1 etc. once at start; give the host its values back
  if [ -s "$D/sysctl.saved" ]; then paste -d= <(tr ' ' '\n' <<<"$SYSCTLS") "$D/sysctl.saved" | xargs -r sysctl -q -w 2>/dev/null || true; fi
  if [ "$("$KUBECTL" --kubeconfig="$KC" get node "$NODE" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" != True ]; then
    log "node $NODE not Ready after 90 s"; tail -30 "$D/kubelet.log" >&2; stop "$D"; exit 1
  fi
  log "node $NODE Ready in $((SECONDS - t0)) s"
  echo "$KC"
}

kill_pid() {  # DIR NAME: TERM, wait, KILL
  local pid; [ -s "$1/$2.pid" ] || return 0; pid=$(cat "$1/$2.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1/$2.pid"
}

stop() {
  local D=${1:?usage: stop DIR}; [ -d "$D" ] || return 0; D=$(cd "$D" && pwd)
  local C=$D/containerd S=$D/containerd/containerd.sock n id
  for n in controller-manager scheduler kubelet; do alive "$D" "$n" && kill "$(cat "$D/$n.pid")" 2>/dev/null || true; done
  for n in controller-manager scheduler kubelet; do kill_pid "$D" "$n"; done
  [ -z "${NODE_DEBUG:-}" ] || log "components stopped"
  if alive "$D" containerd; then  # remove every container and sandbox (their shims exit with them)
    for id in $(ctr -a "$S" -n k8s.io tasks ls -q 2>/dev/null); do ctr -a "$S" -n k8s.io tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr -a "$S" -n k8s.io tasks ls -q 2>/dev/null); do
      for _ in $(seq 20); do  # (CRI itself deletes tasks that exit; then there is nothing to do)
        ctr -a "$S" -n k8s.io tasks delete "$id" >/dev/null 2>&1 && break
        ctr -a "$S" -n k8s.io tasks ls -q 2>/dev/null | grep -qx "$id" || break; sleep 0.25
      done
    done
    for id in $(ctr -a "$S" -n k8s.io containers ls -q 2>/dev/null); do ctr -a "$S" -n k8s.io containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  [ -z "${NODE_DEBUG:-}" ] || log "containers removed"
  kill_pid "$D" containerd
  [ -z "${NODE_DEBUG:-}" ] || log "containerd stopped"
  # shims of this containerd that are still there (their command line names our socket)
  for id in $(pgrep -x containerd-shim 2>/dev/null || true); do
    tr '\0' ' ' < "/proc/$id/cmdline" 2>/dev/null | grep -qF -- "-address $S " && kill -9 "$id" 2>/dev/null || true
  done
  # mounts under DIR (rootfs overlays, netns, volumes), deepest first
  local m; for m in $(awk -v d="$D/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$D/cni/ipam"
  # pod logs kubelet wrote to /var/log/pods (fixed path in 1.20) for this node's pods
  if [ -d "$D/kubelet/root/pods" ]; then
    for id in $(ls "$D/kubelet/root/pods"); do rm -rf /var/log/pods/*_"$id"; done
    find /var/log/containers -maxdepth 1 -xtype l -delete 2>/dev/null || true
  fi
  # the kubepods cgroups kubelet created (only empty ones can go)
  for m in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$m" ] && find "$m" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  [ -z "${NODE_DEBUG:-}" ] || log "cleaned up"
  api_stop "$D/api" 2>/dev/null || true
  if [ -s "$D/sysctl.saved" ]; then
    paste -d= <(tr ' ' '\n' <<<"$SYSCTLS") "$D/sysctl.saved" | xargs -r sysctl -q -w 2>/dev/null || true
  fi
  log "stopped $D"
}

api_start() {
  local D=${1:?usage: start DIR}; mkdir -p "$D"; D=$(cd "$D" && pwd)
  command -v etcd >/dev/null || apt-get install -y -q --no-install-recommends etcd-server >/dev/null
  mkdir -p "$D/pki" "$D/etcd"
  local P=$D/pki
  if [ ! -f "$P/server.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=test-ca -keyout "$P/ca.key" -out "$P/ca.crt" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$P/server.key" -out "$P/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$P/san.ext"
    openssl x509 -req -in "$P/server.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 30 \
      -extfile "$P/san.ext" -out "$P/server.crt" 2>/dev/null
    openssl genrsa -out "$P/sa.key" 2048 2>/dev/null; openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null
    local TOKEN; TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s,test-admin,1,"system:masters"\n' "$TOKEN" > "$P/tokens.csv"
    cat > "$D/kubeconfig" <<K
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:${KUBE_APISERVER_PORT:-6443}", certificate-authority: $P/ca.crt}}]
users: [{name: admin, user: {token: $TOKEN}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
K
  fi
  local EP=${ETCD_PORT:-2379} PP=$(( ${ETCD_PORT:-2379} + 1 ))
  setsid etcd --name t --data-dir "$D/etcd" --listen-client-urls "http://127.0.0.1:$EP" \
    --advertise-client-urls "http://127.0.0.1:$EP" --listen-peer-urls "http://127.0.0.1:$PP" \
    --initial-advertise-peer-urls "http://127.0.0.1:$PP" --initial-cluster "t=http://127.0.0.1:$PP" \
    --unsafe-no-fsync >"$D/etcd.log" 2>&1 </dev/null &
  echo $! > "$D/etcd.pid"
  setsid "$BIN" --etcd-servers="http://127.0.0.1:$EP" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --secure-port="${KUBE_APISERVER_PORT:-6443}" --tls-cert-file="$P/server.crt" --tls-private-key-file="$P/server.key" \
    --client-ca-file="$P/ca.crt" --token-auth-file="$P/tokens.csv" --authorization-mode=RBAC \
    --service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$P/sa.pub" \
    --service-account-signing-key-file="$P/sa.key" --service-cluster-ip-range=10.96.0.0/24 \
    --disable-admission-plugins=ServiceAccount --allow-privileged=true --cert-dir="$D/certs" \
    ${KUBE_APISERVER_EXTRA_ARGS:-} >"$D/apiserver.log" 2>&1 </dev/null &
  echo $! > "$D/apiserver.pid"
  local i
  for i in $(seq 120); do
    curl -sk --max-time 1 "https://127.0.0.1:${KUBE_APISERVER_PORT:-6443}/readyz" 2>/dev/null | grep -q ok && { echo "$D/kubeconfig"; return 0; }
    sleep 0.5
  done
  log "not ready after 60 s"; tail -20 "$D/apiserver.log" >&2; api_stop "$D"; exit 1
}

api_stop() {
  local D=${1:?usage: stop DIR} f pid
  for f in apiserver etcd; do
    [ -s "$D/$f.pid" ] || continue
    pid=$(cat "$D/$f.pid"); kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    rm -f "$D/$f.pid"
  done
}

api_restart() {  # DIR [SECONDS]: the API server down for SECONDS (etcd keeps running), then back
  local D=${1:?usage: api-restart DIR [SECONDS]}; D=$(cd "$D" && pwd)/api
  local pid cmd=() i
  pid=$(cat "$D/apiserver.pid")
  mapfile -d '' cmd < "/proc/$pid/cmdline"
  kill "$pid"; for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  log "API server stopped"
  sleep "${2:-5}"
  setsid "${cmd[@]}" >>"$D/apiserver.log" 2>&1 </dev/null &
  echo $! > "$D/apiserver.pid"
  for i in $(seq 120); do
    curl -sk --max-time 1 "https://127.0.0.1:${KUBE_APISERVER_PORT:-6443}/readyz" 2>/dev/null | grep -q ok && { log "API server back"; return 0; }
    sleep 0.5
  done
  log "API server not ready after 60 s"; exit 1
}

load_image() {  # DIR IMAGE: docker save | ctr import into DIR's containerd
  local D=${1:?usage: load-image DIR IMAGE} I=${2:?usage: load-image DIR IMAGE}
  D=$(cd "$D" && pwd); alive "$D" containerd || { log "containerd of $D is not running"; exit 1; }
  docker image inspect "$I" >/dev/null || { log "no local Docker image $I"; exit 1; }
  docker save "$I" | ctr -a "$D/containerd/containerd.sock" -n k8s.io images import - >/dev/null
  log "imported $I"
}

case ${1:-} in
  build) build ;;
  images) images "${2:-}" ;;
  start) start "${2:-}" ;;
  load-image) load_image "${2:-}" "${3:-}" ;;
  api-restart) api_restart "${2:-}" "${3:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "usage: $0 build | images [DIR] | start DIR | load-image DIR IMAGE | api-restart DIR [S] | stop DIR" >&2; exit 2 ;;
esac
