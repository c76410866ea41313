# syntax=docker/dockerfile:1
# OPX in a container: `docker build -t opx .`, then `docker run -p 8080:8080 -v opx-data:/var/lib/opx opx`
# (SQLite in the volume) or `docker compose up` (PostgreSQL, an API and a worker; compose.yaml).
# The image holds what the npm package holds (package.json "files") plus its production dependencies,
# which is the layout test/package.e2e.test.ts installs and runs without Docker. docs/deploy.md has more.
ARG NODE_IMAGE=node:20-slim
# The runtime needs only the node binary: Debian slim without npm, corepack and yarn keeps the image
# under 250 MB (an estimate: no image was built where this was written; see README "Deploy").
ARG RUNTIME_IMAGE=debian:bookworm-slim

# 1. Build: compile the server (tsc), bundle the CLI (esbuild) and the console (Vite), then pack exactly the
#    files npm would publish.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the build needs no better-sqlite3 addon, and the package's own `prepare` (the
# build) would run before the sources are here; `npm run build` below runs it once they are.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/bundle-cli.mjs ./scripts/
COPY bin ./bin
COPY src ./src
COPY web ./web
COPY examples ./examples
COPY LICENSE NOTICE README.md ./
RUN npm run build \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /package \
 && tar -xzf /tmp/opx-*.tgz -C /package --strip-components=1

# 2. Production dependencies, from the lockfile, with better-sqlite3's addon (a prebuilt binary when
#    one can be downloaded, else compiled: hence the compiler, which stays in this stage).
FROM ${NODE_IMAGE} AS deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/opx
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"
# Drop what Node never loads (type declarations, maps, docs, better-sqlite3's build tree).
COPY deploy/container/prune-node-modules.sh /usr/local/bin/
RUN sh /usr/local/bin/prune-node-modules.sh node_modules

# 3. Runtime: the node binary, tini, the package and its production dependencies; runs as an
#    unprivileged user.
FROM ${RUNTIME_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini ca-certificates libstdc++6 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production \
    OPX_HOST=0.0.0.0 \
    OPX_PORT=8080 \
    OPX_DATA_DIR=/var/lib/opx
WORKDIR /opt/opx
COPY --from=deps /opt/opx/node_modules ./node_modules
COPY --from=build /package/ ./
COPY deploy/container/healthcheck.mjs /usr/local/lib/opx/healthcheck.mjs
# uid 1000 owns the data volume; a numeric USER lets Kubernetes check runAsNonRoot.
RUN ln -s /opt/opx/bin/opx.js /usr/local/bin/opx \
 && mkdir -p /var/lib/opx \
 && chown 1000:1000 /var/lib/opx \
 && chmod 0700 /var/lib/opx
USER 1000:1000
# SQLite store, encryption and guardrail keys when they are not given by environment.
VOLUME ["/var/lib/opx"]
EXPOSE 8080
# Only for the API roles (`serve`, `serve --role api`): a worker serves no HTTP, so run workers with
# --no-healthcheck (compose.yaml disables it for its worker).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "/usr/local/lib/opx/healthcheck.mjs"]
# tini is PID 1: it forwards SIGTERM to opx, which drains (closes the listener, commits queued writes).
ENTRYPOINT ["/usr/bin/tini", "--", "opx"]
CMD ["serve"]

LABEL org.opencontainers.image.title="opx" \
      org.opencontainers.image.description="Incident control plane: signals in, incidents out, advisory investigations." \
      org.opencontainers.image.licenses="Apache-2.0"
