# Rewind: versioning and audit-history service.
#
#   docker build -t rewind .
#   docker run -p 3000:3000 -v rewind-data:/data rewind                 # embedded PGlite in /data
#   docker run -p 3000:3000 -e DATABASE_URL=postgres://... rewind      # external PostgreSQL
#
# Migrations are compiled to dist/migrations and applied when the server starts.
# Both stages use the current Node.js LTS image; the code itself runs on Node.js 20 or
# newer (package.json "engines").

# ---- build stage: full dependency set (TypeScript, types), tsc into dist/ ----
FROM node:26-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- runtime stage: production dependencies and the compiled output only ----
FROM node:26-slim AS runtime
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
# package-lock.json together with package.json's "overrides" (kysely-pglite-dialect ->
# the pinned @electric-sql/pglite) are what npm ci installs; both files must be present.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
  && npm cache clean --force
COPY --from=build /app/dist ./dist
# The history viewer's static files (/ui): tsc compiles TypeScript only, so they go beside its compiled module.
COPY --from=build /app/src/ui/public ./dist/src/ui/public
# The command line (`node bin/rewind.js keys create ...`) runs the compiled code in the image.
COPY bin ./bin
# Embedded PGlite data (used when DATABASE_URL is unset) lives in /data, owned by the
# unprivileged user the service runs as.
RUN mkdir -p /data \
  && chown node:node /data
VOLUME /data
USER node
EXPOSE 3000
# node:26-slim has no curl/wget: use node's own fetch. Probes that fail during the
# start period (migrations are applied before the server listens) do not count.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]
# What `npm run start:prod` runs: a 64 MiB young generation (semi-space) spends less CPU per write on
# garbage collection (docs/profile.md).
CMD ["node", "--max-semi-space-size=64", "dist/src/server.js"]
