# The Seatbroker platform as a container image: built from this repository in a Rust
# stage, run from a slim Debian stage as an unprivileged user. compose.yaml runs it with
# PostgreSQL; README.md, section "Containers", explains both.
#
#   docker build -t seatbroker-platform .

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p seatbroker-platform --bin seatbroker-platform \
    && install -D -m 0755 target/release/seatbroker-platform /out/seatbroker-platform

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 seatbroker \
    && useradd --system --uid 10001 --gid seatbroker --home-dir /var/lib/seatbroker-platform \
        --shell /usr/sbin/nologin seatbroker \
    && install -d -o seatbroker -g seatbroker -m 0700 /var/lib/seatbroker-platform
COPY --from=build /out/seatbroker-platform /usr/bin/seatbroker-platform

# Without SEATBROKER_DATABASE_URL the platform keeps a SQLite file in the data folder.
# Plain HTTP on every interface of the container: publish the port on loopback or behind
# a TLS-terminating proxy, or set SEATBROKER_TLS_CERT and SEATBROKER_TLS_KEY.
ENV SEATBROKER_DATA_DIR=/var/lib/seatbroker-platform \
    SEATBROKER_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/seatbroker-platform"]
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["/usr/bin/seatbroker-platform"]
CMD ["serve"]
