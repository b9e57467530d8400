# aim with the embedded llama.cpp engine (CPU build; node-llama-cpp brings its prebuilt binary through npm).
#   docker build -t aim .
#   docker run --rm -p 8080:8080 -v aim-home:/var/lib/aim -v "$PWD/model_repos.yaml:/etc/aim/model_repos.yaml:ro" \
#     -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY aim aim run team/qwen2.5-7b:v1 --foreground
# Inside the container the engine listens on every interface (AIM_HOST) on port 8080 (AIM_PORTS); --foreground keeps
# `aim run` as the container's main process, so `docker stop` stops the model and a crash ends the container.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini reaps the engine process aim starts and forwards docker's SIGTERM to aim.
RUN apt-get update && apt-get install -y --no-install-recommends tini ca-certificates && rm -rf /var/lib/apt/lists/* \
  && useradd --system --create-home --home-dir /var/lib/aim aim
COPY --from=build /app/package.json /opt/aim/package.json
COPY --from=build /app/bin /opt/aim/bin
COPY --from=build /app/dist /opt/aim/dist
COPY --from=build /app/node_modules /opt/aim/node_modules
RUN ln -s /opt/aim/bin/aim.js /usr/local/bin/aim
USER aim
ENV AIM_HOME=/var/lib/aim AIM_CONFIG=/etc/aim/model_repos.yaml AIM_HOST=0.0.0.0 AIM_PORTS=8080
VOLUME /var/lib/aim
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["aim", "--help"]
