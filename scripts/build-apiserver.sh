#!/usr/bin/env bash
# Builds the real kube-apiserver and etcd that tests/common/apiserver.rs starts, from the Go
# module in tests/apiserver/, into ${CARGO_TARGET_DIR:-target}/apiserver/.
#
# Rebuilds only when go.mod, go.sum, the etcd main or the Go toolchain changed: a stamp file
# beside the binaries keeps the hash of those. The first build downloads ~700 MB of modules and
# compiles for several minutes on 2 cores; later runs return at once.
#
# Exit status: 0 built or up to date, 1 build failed, 3 Go is not installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module=$root/tests/apiserver
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
out=$target/apiserver

if ! command -v go >/dev/null 2>&1; then
  echo "build-apiserver: go is not installed; the tests against a real kube-apiserver will skip" >&2
  exit 3
fi

stamp_of() {
  {
    go version
    cat "$module/go.mod" "$module/go.sum" "$module/etcd/main.go" "$0"
  } | sha256sum | cut -d' ' -f1
}
want=$(stamp_of)
if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$want" ]; then
  echo "build-apiserver: $out is up to date"
  exit 0
fi

mkdir -p "$out"
tmp=$(mktemp -d "$out/.build.XXXXXX")
# A private build cache, removed with the build: the stamp means a finished build is never
# compiled again, and Go's shared cache would keep ~2 GB of objects on a small CI disk.
export GOCACHE=$tmp/.gocache
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
echo "build-apiserver: building kube-apiserver and etcd into $out (the first build takes minutes)"
# Static, stripped, no paths of this machine: smaller and faster to link; VCS stamping needs a
# git work tree, which the module directory's parent may not be.
(
  cd "$module"
  export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
  # The version kubectl and /version report; upstream's release build stamps it the same way.
  version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=${version#v*.}
  minor=${minor%%.*}
  ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags="$ldflags -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
  done
  go build -trimpath -ldflags="$ldflags" -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver ./etcd
)
mv -f "$tmp/kube-apiserver" "$tmp/etcd" "$out/"
echo "$want" >"$out/.stamp"
echo "build-apiserver: built in $((SECONDS - start)) s: $("$out/kube-apiserver" --version), etcd $("$out/etcd" --version | sed -n 's/^etcd Version: //p')"
