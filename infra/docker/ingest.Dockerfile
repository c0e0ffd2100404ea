# The ingest service. Build from the repository root:
#   docker build -f infra/docker/ingest.Dockerfile -t sluice-ingest .
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY services ./services
RUN npm ci --no-audit --no-fund && npx tsc --build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production SLUICE_HOST=0.0.0.0 SLUICE_PORT=4600 SLUICE_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/services ./services
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 4600
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:4600/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "services/ingest/dist/src/server.js"]
