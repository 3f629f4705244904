# syntax=docker/dockerfile:1
# Build: docker build -t hikvision-sync .   Run: docker run --env-file .env -p 8080:8080 hikvision-sync

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && echo 'fn main() {}' > benches/fanout.rs \
    && cargo build --release --locked --bin hikvision-sync \
    && rm -rf src benches
COPY src ./src
COPY benches ./benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin hikvision-sync

FROM debian:bookworm-slim AS runtime
# ca-certificates tracks the distribution's current CA bundle; pinning it would freeze stale roots.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /src/target/release/hikvision-sync /usr/local/bin/hikvision-sync
COPY config ./config
USER 10001
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["hikvision-sync", "healthcheck", "--url", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["hikvision-sync"]
CMD ["serve"]
