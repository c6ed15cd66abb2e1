#!/usr/bin/env bash
# End-to-end test against a real cluster (kind, k3d, kubeadm, ...): installs the shipped kustomize
# overlays with certificates from `kubelet-tls-guard certs`, and proves with kubectl that
#   dry-run   violations are admitted with `Warning:` lines and nothing is patched,
#   enforce   a violating kube-apiserver Deployment is denied and a compliant one admitted,
#   remediate the Deployment is admitted with --kubelet-certificate-authority patched in,
# then uninstalls and checks that nothing is left.
#
# Use a throw-away cluster: while the enforce phases run, control-plane objects that violate the
# rules (e.g. an edit of kube-system/kubeadm-config) are refused cluster-wide.
#
# Environment:
#   TLSG_E2E_KUBECONFIG or KUBECONFIG   kubeconfig of the cluster; neither set: SKIP, exit 0.
#                                       (~/.kube/config is never picked up implicitly.)
#   TLSG_E2E_IMAGE     image the cluster can run, e.g. kubelet-tls-guard:e2e (loaded with
#                      `kind load docker-image`) or REGISTRY/kubelet-tls-guard:TAG.
#   TLSG_E2E_BUILD=1   build TLSG_E2E_IMAGE (default kubelet-tls-guard:e2e) from ./Dockerfile with
#                      docker first; with TLSG_E2E_KIND_CLUSTER=NAME or TLSG_E2E_K3D_CLUSTER=NAME
#                      also load it into that cluster.
#   TLSG_E2E_CONTEXT   kubeconfig context (default: the current one).
#   TLSG_E2E_BIN       the kubelet-tls-guard binary (default: cargo build, target/debug).
#   TLSG_E2E_TIMEOUT   seconds to wait for each rollout or webhook effect (default 180).
#   TLSG_E2E_KEEP=1    leave everything installed at the end (for debugging).
#
# Exit status: 0 passed or skipped (the output says which), 1 failed, 2 usage.
set -euo pipefail

say() { printf '%s\n' "$*"; }
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

kubeconfig=${TLSG_E2E_KUBECONFIG:-${KUBECONFIG:-}}
if [ -z "$kubeconfig" ]; then
  say "SKIP: no kubeconfig given (set KUBECONFIG or TLSG_E2E_KUBECONFIG to the kubeconfig of a throw-away cluster, and TLSG_E2E_IMAGE to an image it can run)"
  exit 0
fi
export KUBECONFIG=$kubeconfig

root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/e2e
timeout=${TLSG_E2E_TIMEOUT:-180}
case $timeout in '' | *[!0-9]*) say "TLSG_E2E_TIMEOUT must be a number of seconds" >&2; exit 2 ;; esac
ns=kubelet-tls-guard
test_ns=tlsg-e2e
name=kubelet-tls-guard
checks=0

pass() {
  checks=$((checks + 1))
  say "PASS: $*"
}

command -v kubectl >/dev/null 2>&1 || fail "kubectl is not installed"
k() {
  kubectl ${TLSG_E2E_CONTEXT:+--context "$TLSG_E2E_CONTEXT"} "$@"
}

# The image: given, or built here.
image=${TLSG_E2E_IMAGE:-}
if [ "${TLSG_E2E_BUILD:-}" = 1 ]; then
  image=${image:-kubelet-tls-guard:e2e}
  command -v docker >/dev/null 2>&1 || fail "TLSG_E2E_BUILD=1 needs docker"
  say "building $image"
  docker build -t "$image" "$root" || fail "docker build failed"
  if [ -n "${TLSG_E2E_KIND_CLUSTER:-}" ]; then
    kind load docker-image "$image" --name "$TLSG_E2E_KIND_CLUSTER" || fail "kind load failed"
  fi
  if [ -n "${TLSG_E2E_K3D_CLUSTER:-}" ]; then
    k3d image import "$image" -c "$TLSG_E2E_K3D_CLUSTER" || fail "k3d image import failed"
  fi
fi
[ -n "$image" ] || fail "a kubeconfig is given but TLSG_E2E_IMAGE is not: set it to an image the cluster can run (or TLSG_E2E_BUILD=1 to build one with docker)"

# The binary for `certs` and `webhook-config`.
bin=${TLSG_E2E_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --locked --quiet) || fail "cargo build failed"
  bin=${CARGO_TARGET_DIR:-$root/target}/debug/kubelet-tls-guard
fi
[ -x "$bin" ] || fail "$bin is not an executable"

k get --raw /readyz >/dev/null 2>&1 || fail "cannot reach the cluster of $KUBECONFIG${TLSG_E2E_CONTEXT:+ (context $TLSG_E2E_CONTEXT)}"
# Never clobber (and later delete) an installation or namespace that is not ours.
for what in "namespace/$ns" "namespace/$test_ns" "validatingwebhookconfiguration/$name" "mutatingwebhookconfiguration/$name"; do
  if k get "$what" >/dev/null 2>&1; then
    fail "$what already exists in this cluster: run the e2e test on a cluster without kubelet-tls-guard (delete it, or a leftover of an aborted run, first)"
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/tlsg-e2e.XXXXXX")
installed=
cleanup() {
  local rc=$?
  if [ "${TLSG_E2E_KEEP:-}" = 1 ]; then
    say "TLSG_E2E_KEEP=1: leaving the installation and $work in place"
    return
  fi
  if [ -n "$installed" ]; then
    # Webhook configurations first: with failurePolicy Fail and the pods gone, they would block
    # the updates that deleting the namespaces makes.
    k delete validatingwebhookconfiguration,mutatingwebhookconfiguration "$name" --ignore-not-found >/dev/null 2>&1 || true
    k delete namespace "$test_ns" "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Poll `cmd` until its combined output matches the extended regex `want`, for up to $timeout s.
# On success the output is in $out. Used where the effect of an apply takes a moment to show
# (rollouts, endpoints, webhook configuration caches).
poll() {
  local what=$1 want=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  while :; do
    out=$("$@" 2>&1) || true
    if printf '%s\n' "$out" | grep -Eq -- "$want"; then
      return 0
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail "$what: no output matching /$want/ within ${timeout}s; last output:
$out"
    fi
    sleep 2
  done
}

# Certificates and the webhook configuration, from the CLI under test.
cp -R "$root/manifests" "$work/manifests"
tls=$work/manifests/components/tls-from-files/tls
rm -f "$tls/ca.crt" "$tls/tls.crt" "$tls/tls.key"
"$bin" certs --out "$tls" >/dev/null || fail "kubelet-tls-guard certs failed"
"$bin" webhook-config --ca-bundle "$tls/ca.crt" --mode enforce --remediate >"$work/webhook-config.yaml" ||
  fail "kubelet-tls-guard webhook-config failed"
want_ca=$(base64 <"$tls/ca.crt" | tr -d '\n')
printed_ca=$(sed -n 's/^ *caBundle: *//p' "$work/webhook-config.yaml" | sort -u)
[ "$printed_ca" = "$want_ca" ] || fail "webhook-config printed a caBundle that is not ca.crt"
pass "certs wrote a CA and serving certificate; webhook-config carries that CA"

# One wrapper overlay per shipped overlay: the same manifests, with the image under test.
case $image in
  *@*) image_fields="newName: ${image%%@*}
    digest: ${image#*@}" ;;
  *)
    last=${image##*/}
    if [ "$last" != "${last%:*}" ]; then
      image_fields="newName: ${image%:*}
    newTag: ${image##*:}"
    else
      image_fields="newName: $image
    newTag: latest"
    fi
    ;;
esac
for overlay in dry-run enforce remediate; do
  mkdir -p "$work/$overlay"
  cat >"$work/$overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../manifests/overlays/$overlay
images:
  - name: kubelet-tls-guard
    $image_fields
EOF
done

install() {
  local overlay=$1
  installed=1
  k apply -k "$work/$overlay" >"$work/apply-$overlay.log" 2>&1 ||
    fail "kubectl apply -k overlays/$overlay failed: $(cat "$work/apply-$overlay.log")"
  k -n "$ns" rollout status "deployment/$name" --timeout="${timeout}s" >/dev/null 2>&1 || {
    k -n "$ns" get pods -o wide >&2 || true
    k -n "$ns" logs "deployment/$name" --tail=50 >&2 || true
    fail "the webhook Deployment did not become ready with overlays/$overlay"
  }
  pass "overlays/$overlay installed and ready ($image)"
}

deploy=$here/kube-apiserver-deployment.yaml
ca_flag=--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt
args_path='{.spec.template.spec.containers[0].args}'

# --- dry-run: warnings, no denial, no patch ---------------------------------------------------
install dry-run
installed_ca=$(k get validatingwebhookconfiguration "$name" -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
[ "$installed_ca" = "$want_ca" ] || fail "the installed caBundle is not the CA from certs"
k apply --dry-run=server -f "$work/webhook-config.yaml" >/dev/null 2>&1 ||
  fail "the API server refuses the webhook-config output"
pass "installed caBundle is ca.crt; the API server accepts the webhook-config output"
k create namespace "$test_ns" >/dev/null
poll "dry-run warning" '^Warning: kubelet-tls-guard: \[dry-run\] would deny: \[apiserver-kubelet-ca\]' \
  k apply --dry-run=server -f "$deploy"
out=$(k create -f "$deploy" 2>&1) || fail "dry-run denied the Deployment: $out"
printf '%s\n' "$out" | grep -q '^Warning: kubelet-tls-guard: ' || fail "no kubectl Warning on create: $out"
stored=$(k -n "$test_ns" get deployment kube-apiserver -o jsonpath="$args_path")
case $stored in *"$ca_flag"*) fail "dry-run patched the Deployment: $stored" ;; esac
pass "dry-run: created with kubectl warnings, not patched"
k -n "$test_ns" delete deployment kube-apiserver --wait=true >/dev/null

# --- enforce: deny the violation, admit the compliant object ----------------------------------
install enforce
poll "enforce denial" 'kubelet-tls-guard denied Deployment' \
  k create --dry-run=server -f "$deploy"
if out=$(k create -f "$deploy" 2>&1); then
  fail "enforce admitted the violating Deployment: $out"
fi
printf '%s\n' "$out" | grep -q 'apiserver-kubelet-ca' || fail "the denial does not name the rule: $out"
printf '%s\n' "$out" | grep -q 'CIS 1.2.5/1.2.6' || fail "the denial does not name the CIS controls: $out"
if k -n "$test_ns" get deployment kube-apiserver >/dev/null 2>&1; then
  fail "the denied Deployment exists"
fi
# The same Deployment under another name, with the flag after --secure-port.
awk -v flag="$ca_flag" '
  /^ *name: kube-apiserver$/ && !renamed { sub(/kube-apiserver$/, "kube-apiserver-compliant"); renamed = 1 }
  { print }
  /- --secure-port=6443$/ { indent = $0; sub(/-.*/, "", indent); print indent "- " flag }
' "$deploy" >"$work/compliant.yaml"
grep -q -- "$ca_flag" "$work/compliant.yaml" || fail "could not build the compliant Deployment"
out=$(k create -f "$work/compliant.yaml" 2>&1) || fail "enforce denied a compliant Deployment: $out"
pass "enforce: violating Deployment denied (rule and CIS ids named), compliant one admitted"

# --- remediate: the mutating webhook patches the missing flag in -------------------------------
install remediate
poll "remediation patch" "$ca_flag" \
  k create --dry-run=server -o jsonpath="$args_path" -f "$deploy"
out=$(k create -f "$deploy" 2>&1) || fail "remediate refused the Deployment: $out"
printf '%s\n' "$out" | grep -q '^Warning: kubelet-tls-guard: patched \[apiserver-kubelet-ca\]' ||
  fail "no 'patched' warning: $out"
stored=$(k -n "$test_ns" get deployment kube-apiserver -o jsonpath="$args_path")
want_args='["--secure-port=6443","--kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt","--kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key","'"$ca_flag"'"]'
[ "$stored" = "$want_args" ] || fail "patched args are
  $stored
want
  $want_args"
pass "remediate: stored Deployment has $ca_flag appended, other args unchanged"

# --- uninstall ---------------------------------------------------------------------------------
k delete validatingwebhookconfiguration,mutatingwebhookconfiguration "$name" >/dev/null
k delete namespace "$test_ns" --wait=true --timeout="${timeout}s" >/dev/null
k delete -k "$work/remediate" --ignore-not-found --wait=true --timeout="${timeout}s" >/dev/null 2>&1 ||
  fail "kubectl delete -k failed"
for what in "namespace/$ns" "namespace/$test_ns" "validatingwebhookconfiguration/$name" "mutatingwebhookconfiguration/$name"; do
  if k get "$what" >/dev/null 2>&1; then
    fail "$what is still there after uninstall"
  fi
done
installed=
pass "uninstalled: namespaces and webhook configurations are gone"

say "e2e: all $checks checks passed"
