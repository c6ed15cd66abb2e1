#!/bin/sh
# The manual openssl path to the webhook's serving certificate, equivalent to
# `kubelet-tls-guard certs`: a throw-away ECDSA P-256 CA and a serving certificate it signs for
# the webhook Service. Writes ca.crt, tls.crt (0644) and tls.key (0600) into OUT_DIR.
# The CA key is never written, so renewing means a new CA and a new caBundle (see certs/README.md).
#
# Usage: certs/gen-openssl.sh [--service NAME] [--namespace NS] [--san NAME]... [--days N] [--force] OUT_DIR
set -eu

usage() {
  cat <<'EOF'
Usage: gen-openssl.sh [OPTIONS] OUT_DIR

Writes OUT_DIR/ca.crt, OUT_DIR/tls.crt and OUT_DIR/tls.key (ECDSA P-256, key mode 0600) for the
webhook Service <service>.<namespace>.svc.

Options:
  --service NAME   Name of the webhook Service (default: kubelet-tls-guard)
  --namespace NS   Namespace of the webhook Service (default: kubelet-tls-guard)
  --san NAME       An extra DNS name or IP address (repeatable)
  --days N         Validity of the CA and the serving certificate, in days (default: 365, max 3650)
  --force          Replace existing files
  -h, --help       Print this help

Exit status: 0 written, 1 error (nothing overwritten without --force), 2 usage.
EOF
}

die() {
  echo "gen-openssl.sh: $*" >&2
  exit 1
}

usage_error() {
  echo "gen-openssl.sh: $*" >&2
  echo "Try 'gen-openssl.sh --help'." >&2
  exit 2
}

is_dns_label() {
  # RFC 1123 label, as Service and namespace names must be.
  [ -n "$1" ] && [ "${#1}" -le 63 ] || return 1
  case $1 in
    -* | *- | *[!a-z0-9-]*) return 1 ;;
  esac
  return 0
}

is_ip() {
  case $1 in
    *:*) return 0 ;; # IPv6: DNS names never contain ':'
    *[!0-9.]*) return 1 ;;
    *.*.*.*) return 0 ;;
  esac
  return 1
}

service=kubelet-tls-guard
namespace=kubelet-tls-guard
days=365
force=0
out=
extra_sans=

while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --service) [ $# -ge 2 ] || usage_error "--service needs a value"; service=$2; shift 2 ;;
    --service=*) service=${1#*=}; shift ;;
    --namespace) [ $# -ge 2 ] || usage_error "--namespace needs a value"; namespace=$2; shift 2 ;;
    --namespace=*) namespace=${1#*=}; shift ;;
    --san) [ $# -ge 2 ] || usage_error "--san needs a value"; extra_sans="$extra_sans $2"; shift 2 ;;
    --san=*) extra_sans="$extra_sans ${1#*=}"; shift ;;
    --days) [ $# -ge 2 ] || usage_error "--days needs a value"; days=$2; shift 2 ;;
    --days=*) days=${1#*=}; shift ;;
    --force) force=1; shift ;;
    --) shift; break ;;
    -*) usage_error "unknown option $1" ;;
    *)
      [ -z "$out" ] || usage_error "only one OUT_DIR, got $out and $1"
      out=$1
      shift
      ;;
  esac
done
if [ $# -gt 0 ]; then
  [ -z "$out" ] && [ $# -eq 1 ] || usage_error "only one OUT_DIR"
  out=$1
fi
[ -n "$out" ] || usage_error "OUT_DIR is required"
is_dns_label "$service" || usage_error "--service '$service': must be a DNS label (lowercase letters, digits and '-', at most 63)"
is_dns_label "$namespace" || usage_error "--namespace '$namespace': must be a DNS label (lowercase letters, digits and '-', at most 63)"
case $days in
  '' | *[!0-9]*) usage_error "--days '$days': must be a whole number of days" ;;
esac
[ "$days" -ge 1 ] && [ "$days" -le 3650 ] || usage_error "--days $days: must be 1 to 3650"
for s in $extra_sans; do
  case $s in
    *[!A-Za-z0-9.:*-]*) usage_error "--san '$s': not a DNS name or IP address" ;;
  esac
done
command -v openssl >/dev/null 2>&1 || die "openssl is not installed"

existing=
for f in ca.crt tls.crt tls.key; do
  if [ -e "$out/$f" ]; then existing="$existing $out/$f"; fi
done
if [ -n "$existing" ] && [ "$force" != 1 ]; then
  die "refusing to overwrite$existing (pass --force to replace)"
fi

mkdir -p "$out" || die "cannot create $out"
# Everything is made in a private directory next to the output, then renamed into place: the
# CA key never leaves it, and a server polling the files never reads half a certificate.
umask 077
work=$(mktemp -d "$out/.gen-openssl.XXXXXX") || die "cannot create a temporary directory in $out"
trap 'rm -rf "$work"' EXIT
trap 'exit 1' HUP INT TERM

# Subject alternative names: the names in-cluster clients and the API server use for the Service
# (the API server calls <service>.<namespace>.svc), then the extra ones, without repeats.
sans=
dns_n=0
ip_n=0
add_san() {
  case " $sans " in *" $1 "*) return ;; esac
  sans="$sans $1"
  if is_ip "$1"; then
    ip_n=$((ip_n + 1))
    printf 'IP.%d = %s\n' "$ip_n" "$1" >>"$work/openssl.cnf"
  else
    dns_n=$((dns_n + 1))
    printf 'DNS.%d = %s\n' "$dns_n" "$1" >>"$work/openssl.cnf"
  fi
}

cat >"$work/openssl.cnf" <<EOF
[ req ]
distinguished_name = dn
prompt = no

[ dn ]
O = kubelet-tls-guard
CN = kubelet-tls-guard CA

[ ca_ext ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash

[ server_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt_names

[ alt_names ]
EOF
for name in "$service" "$service.$namespace" "$service.$namespace.svc" \
  "$service.$namespace.svc.cluster.local" $extra_sans; do
  add_san "$name"
done

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key" 2>/dev/null ||
  die "openssl could not make an ECDSA P-256 key"
openssl req -new -x509 -sha256 -config "$work/openssl.cnf" -extensions ca_ext \
  -key "$work/ca.key" -days "$days" -set_serial "0x$(openssl rand -hex 16)" \
  -out "$work/ca.crt" || die "openssl could not make the CA certificate"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/tls.key" 2>/dev/null ||
  die "openssl could not make an ECDSA P-256 key"
openssl req -new -sha256 -config "$work/openssl.cnf" -key "$work/tls.key" \
  -subj "/O=kubelet-tls-guard/CN=$service.$namespace.svc" -out "$work/tls.csr" ||
  die "openssl could not make the certificate request"
openssl x509 -req -sha256 -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$days" \
  -extfile "$work/openssl.cnf" -extensions server_ext -out "$work/tls.crt" 2>/dev/null ||
  die "openssl could not sign the serving certificate"
openssl verify -CAfile "$work/ca.crt" "$work/tls.crt" >/dev/null ||
  die "the new serving certificate does not verify against the new CA"

chmod 0600 "$work/tls.key"
chmod 0644 "$work/ca.crt" "$work/tls.crt"
# The key first and the certificate last, so a reloading server never pairs a new certificate
# with the old key.
mv -f "$work/ca.crt" "$out/ca.crt"
mv -f "$work/tls.key" "$out/tls.key"
mv -f "$work/tls.crt" "$out/tls.crt"

echo "wrote $out/ca.crt, $out/tls.crt and $out/tls.key (ECDSA P-256, $days days) for$sans"
echo "next:"
echo "  kubectl -n $namespace create secret tls $service-tls --cert=$out/tls.crt --key=$out/tls.key"
echo "  kubelet-tls-guard webhook-config --ca-bundle $out/ca.crt --service $service --namespace $namespace"
