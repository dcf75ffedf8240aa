# Sofi in a container: built in one stage, run as a non-root user from a slim image, the
# data in a volume.
#
#   docker build -t sofi .
#   docker run -d -p 8080:8080 -v sofi-data:/var/lib/sofi sofi
#   docker run --rm -v sofi-data:/var/lib/sofi sofi sofi backup /var/lib/sofi/sauvegardes/manuelle
#
# Settings are SOFI_* variables (`docker run -e SOFI_PUBLIC_URL=https://…`) or a mounted
# sofi.toml (`-v ./sofi.toml:/etc/sofi/sofi.toml:ro -e SOFI_CONFIG=/etc/sofi/sofi.toml`);
# `docker exec <c> sofi config` shows what is in force. Listening on 0.0.0.0 inside the
# container, Sofi refuses the development cookie and a weak admin token.

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: a change to Sofi's code does not fetch them again.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src/bin/sofi benches && echo 'fn main() {}' > src/bin/sofi/main.rs && touch src/lib.rs \
    && for b in import export search espace migration; do echo 'fn main() {}' > benches/$b.rs; done \
    && cargo fetch --locked
COPY . .
RUN cargo build --release --locked --bin sofi \
    && install -m 0755 target/release/sofi /usr/local/bin/sofi

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/sofi --shell /usr/sbin/nologin sofi \
    && mkdir -p /var/lib/sofi && chown sofi:sofi /var/lib/sofi
COPY --from=build /usr/local/bin/sofi /usr/local/bin/sofi
USER sofi
WORKDIR /var/lib/sofi
ENV SOFI_DATA_DIR=/var/lib/sofi \
    SOFI_LISTEN=0.0.0.0:8080 \
    SOFI_LOG_FORMAT=json
VOLUME ["/var/lib/sofi"]
EXPOSE 8080
# SIGTERM: open requests finish, the store is flushed; SIGHUP re-reads the settings.
STOPSIGNAL SIGTERM
CMD ["sofi", "serve"]
