# syntax=docker/dockerfile:1
# kubelet-tls-guard: a static (musl) binary in a distroless, non-root image.
#   docker build -t kubelet-tls-guard:0.1.0 .
# The shipped manifests run the image as `kubelet-tls-guard:0.1.0` (manifests/base/kustomization.yaml).

# The toolchain the project is built and tested with. The locked dependencies need at least 1.89
# (kube 5); override with --build-arg RUST_VERSION=... .
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION} AS builder
# ring compiles its C and assembly with musl-gcc: no cmake, no OpenSSL.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
# The musl target of the platform being built (buildx --platform linux/amd64 or linux/arm64).
RUN case "$(uname -m)" in \
      x86_64) echo x86_64-unknown-linux-musl ;; \
      aarch64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported architecture $(uname -m)" >&2; exit 1 ;; \
    esac > /rust-target \
 && rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
# Cache mounts keep the registry and the build directory between builds; the binary is copied
# out because the cache mount is not part of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" \
 && cargo build --release --locked --target "$target" \
 && install -D -m 0755 "target/$target/release/kubelet-tls-guard" /out/kubelet-tls-guard \
 && /out/kubelet-tls-guard --version

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="kubelet-tls-guard" \
      org.opencontainers.image.description="Admission webhook and node auditor for the control-plane to kubelet TLS link (CIS 1.2.5/1.2.6, 1.3.6, 4.2.12)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /out/kubelet-tls-guard /usr/local/bin/kubelet-tls-guard
# Without --tls-cert, `serve` writes development certificates under ./certs/dev: the home
# directory is the one place the non-root user may write.
WORKDIR /home/nonroot
USER 65532:65532
# 8443: TLS webhook (/validate, /mutate); 9090: plain HTTP /healthz, /readyz, /metrics.
EXPOSE 8443 9090
ENTRYPOINT ["/usr/local/bin/kubelet-tls-guard"]
# The Deployment's args replace this CMD with the same command plus --config for the policy
# ConfigMap; without it the embedded default policy (dry-run, strict) applies. The certificate
# is expected where the Deployment mounts the Secret.
CMD ["serve", \
     "--listen=0.0.0.0:8443", \
     "--tls-cert=/etc/kubelet-tls-guard/tls/tls.crt", \
     "--tls-key=/etc/kubelet-tls-guard/tls/tls.key", \
     "--metrics-listen=0.0.0.0:9090", \
     "--log-format=json"]
