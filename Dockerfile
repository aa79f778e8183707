# One image for the server side of Cider Fleet; docker-compose.yml runs it as `web` and `control`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 CHECKPOINT_DISABLE=1 NEXT_TELEMETRY_DISABLED=1
COPY . .
RUN npm install --no-audit --no-fund \
 && npx turbo run build --filter=@cider/web --filter=@cider/control --filter=@cider/agent --filter=@cider/cli

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1
COPY --from=build /app /app
USER node
EXPOSE 3000 4000
CMD ["node", "apps/control/dist/main.js", "run"]
