// The service worker: keeps the page, the runtime (onnxruntime-web's WebAssembly) and the
// default model's card and graph, so that the page loads and reads digits with the network off.
// BUILD is the hash of the built files, set by build.mjs: a new build replaces the old cache.
/// <reference lib="webworker" />
declare const BUILD: string;
declare const ASSETS: string[];

const sw = self as unknown as ServiceWorkerGlobalScope;
const CACHE = `digitrec-${BUILD}`;

async function precache(): Promise<void> {
  const cache = await caches.open(CACHE);
  await cache.addAll(["/", ...ASSETS]);
  // The default model: its card (network first later) and its graph (its URL names its version).
  const models = await (await fetch("/api/models")).json();
  await cache.put("/api/models", new Response(JSON.stringify(models), { headers: { "Content-Type": "application/json" } }));
  const chosen = models.find((m: { default: boolean }) => m.default) ?? models[0];
  const cardUrl = `/api/models/${chosen.name}/device`;
  const card = await fetch(cardUrl);
  if (!card.ok) return;
  const body = await card.clone().json();
  await cache.put(cardUrl, card);
  await cache.add(body.graph);
}

sw.addEventListener("install", (event: ExtendableEvent) => {
  event.waitUntil(precache().then(() => sw.skipWaiting()));
});

sw.addEventListener("activate", (event: ExtendableEvent) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

// The page and what describes the models: the network's answer when there is one (and kept),
// the cached one offline. Built files and graphs never change under their URL: the cache first.
const NETWORK_FIRST = [/^\/$/, /^\/api\/models$/, /^\/api\/models\/[^/]+\/device$/];
const CACHE_FIRST = [/^\/static\//, /^\/api\/models\/[^/]+\/graph$/];

sw.addEventListener("fetch", (event: FetchEvent) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== sw.location.origin) return;
  if (NETWORK_FIRST.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE);
        try {
          const response = await fetch(request);
          if (response.ok) await cache.put(request, response.clone());
          return response;
        } catch (error) {
          const cached = await cache.match(request, { ignoreSearch: true });
          if (cached) return cached;
          throw error;
        }
      })(),
    );
  } else if (CACHE_FIRST.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE);
        const cached = await cache.match(request);
        if (cached) return cached;
        const response = await fetch(request);
        if (response.ok) await cache.put(request, response.clone());
        return response;
      })(),
    );
  }
});
