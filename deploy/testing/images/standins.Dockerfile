# TESTS ONLY (test/compose-stack.test.ts): stand-ins for the third-party images that
# deploy/compose.yaml pins, built from Debian packages on the Debian base that
# deploy/testing/images.ts makes with debootstrap (no image registry is reachable from
# the test machines). One stage per image (`docker build --target <stage>`), all FROM
# one layer holding every package.
#
# Each stage takes the command line and paths compose.yaml gives the official image:
# the same entry point (so compose's `command:` is just its arguments), working
# directory, user and the directories compose mounts volumes on (a named volume starts
# with the image directory's owner). compose's health checks call `wget`: the official
# images have busybox's (prom/* are busybox-based, caddy and redis are alpine), so these
# do too. None declares a HEALTHCHECK: the images compose uses declare none either.
#
#   stage              stands in for                      Debian package (version in bookworm)
#   redis              redis:7.2.7-alpine                 redis-server (7.0)
#   prometheus         prom/prometheus:v2.55.1            prometheus (2.42)
#   alertmanager       prom/alertmanager:v0.27.0          prometheus-alertmanager (0.25)
#   node-exporter      prom/node-exporter:v1.8.2          prometheus-node-exporter (1.5)
#   redis-exporter     oliver006/redis_exporter:v1.66.0   prometheus-redis-exporter (1.45)
#   blackbox-exporter  prom/blackbox-exporter:v0.25.0     prometheus-blackbox-exporter (0.23)
#   caddy              caddy:2.8.4-alpine                 caddy (2.6)
#
# alpine:3.20.3 (secrets-init: sh, install, chown, chmod, printf, mv) is the Debian base
# itself. Grafana and Loki have no Debian package: they do not run in the test.
ARG BASE
FROM ${BASE} AS packages
# The official redis image's user is uid 999 (secrets-init hands it the ACL file as
# 999): create it before redis-server's package would make one with another uid.
RUN groupadd --system --gid 999 redis \
 && useradd --system --uid 999 --gid redis --home-dir /data --no-create-home --shell /usr/sbin/nologin redis
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      redis-server prometheus prometheus-alertmanager prometheus-node-exporter \
      prometheus-redis-exporter prometheus-blackbox-exporter caddy busybox ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /bin/busybox /usr/local/bin/wget \
 && test "$(id -u redis)" = 999

# redis:7.2.7-alpine: docker-entrypoint.sh chowns /data to redis and drops to it.
FROM packages AS redis
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]

# prom/prometheus: ENTRYPOINT /bin/prometheus, user nobody, /prometheus owned by nobody.
FROM packages AS prometheus
RUN mkdir -p /prometheus && chown -R 65534:65534 /prometheus /etc/prometheus
USER 65534:65534
WORKDIR /prometheus
VOLUME /prometheus
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]

# prom/alertmanager: ENTRYPOINT /bin/alertmanager, user nobody, /alertmanager owned by nobody.
FROM packages AS alertmanager
RUN mkdir -p /alertmanager /etc/alertmanager && chown -R 65534:65534 /alertmanager /etc/alertmanager
USER 65534:65534
WORKDIR /alertmanager
VOLUME /alertmanager
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]

# prom/node-exporter: ENTRYPOINT /bin/node_exporter, user nobody. Debian turns the systemd
# collector on by default (it needs the host's D-Bus); upstream's default leaves it off.
FROM packages AS node-exporter
USER 65534:65534
ENTRYPOINT ["/usr/bin/prometheus-node-exporter", "--no-collector.systemd"]

# oliver006/redis_exporter: ENTRYPOINT /redis_exporter, user 59000; configured by the
# environment (REDIS_ADDR, REDIS_USER, REDIS_PASSWORD).
FROM packages AS redis-exporter
USER 59000:59000
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]

# prom/blackbox-exporter: ENTRYPOINT /bin/blackbox_exporter, runs as root.
FROM packages AS blackbox-exporter
ENTRYPOINT ["/usr/bin/prometheus-blackbox-exporter"]
CMD ["--config.file=/etc/blackbox_exporter/config.yml"]

# caddy:2.8.4-alpine: `caddy run` on /etc/caddy/Caddyfile, state in /data and /config, as root.
FROM packages AS caddy
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
RUN mkdir -p /config/caddy /data/caddy /etc/caddy /srv
WORKDIR /srv
VOLUME /config /data
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
