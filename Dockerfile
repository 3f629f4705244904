# syntax=docker/dockerfile:1
# Build: docker build -t hikvision-sync .   Run: docker run --env-file .env -p 8080:8080 hikvision-sync

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so source edits do not rebuild them: every workspace member's manifest, with
# stub sources (and a stub for each bench the root manifest declares).
COPY Cargo.toml Cargo.lock ./
COPY crates/isapi/Cargo.toml crates/isapi/
COPY crates/simulator/Cargo.toml crates/simulator/
COPY crates/testkit/Cargo.toml crates/testkit/
RUN mkdir -p src benches crates/isapi/src crates/simulator/src crates/testkit/src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs crates/isapi/src/lib.rs crates/simulator/src/lib.rs crates/testkit/src/lib.rs \
    && echo 'fn main() {}' > benches/fanout.rs \
    && echo 'fn main() {}' > benches/picture.rs \
    && echo 'fn main() {}' > benches/drain.rs \
    && echo 'fn main() {}' > benches/resync.rs \
    && echo 'fn main() {}' > benches/events.rs \
    && cargo build --release --locked --bin hikvision-sync \
    && rm -rf src benches crates/isapi/src crates/simulator/src crates/testkit/src
COPY .env.example ./
COPY src ./src
COPY benches ./benches
COPY crates ./crates
RUN touch src/main.rs src/lib.rs crates/isapi/src/lib.rs crates/simulator/src/lib.rs crates/testkit/src/lib.rs \
    && cargo build --release --locked --bin hikvision-sync

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
# One malloc arena: glibc's per-thread arenas held ~15 MiB more at 1,000 terminals called at once
# (peak 88-92 MiB against 73.7 MiB, same time; BENCHMARKS.md, issue 19).
ENV BIND_ADDR=0.0.0.0:8080 LOG_FORMAT=json MALLOC_ARENA_MAX=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["hikvision-sync", "healthcheck", "--url", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["hikvision-sync"]
CMD ["serve"]
