// Offline use: the page and the package are cached on first load and served from the cache
// when the network is gone (network first, so an update is picked up when online). Model
// weights are not handled here: the package keeps them in the Cache API itself.
const CACHE = "triage-page-v1";
const SHELL = ["./", "./index.html", "./app.js", "./style.css", "./samples.json",
  "./pkg/index.js", "./pkg/engine.js", "./pkg/worker.js", "./pkg/wasm/triage.js", "./pkg/wasm/triage_bg.wasm"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  // Same-origin GETs of the page and package only; API calls and model files pass through.
  if (event.request.method !== "GET" || url.origin !== location.origin
      || url.pathname.startsWith("/v1/") || url.pathname.includes("/models/")) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      // Store only what changed: re-writing the unchanged wasm module (tens of MB) on every
      // visit costs the page its returning-visit speed.
      if (response.ok) {
        const cached = await cache.match(event.request);
        const tag = response.headers.get("etag");
        if (!cached || !tag || cached.headers.get("etag") !== tag) cache.put(event.request, response.clone());
      }
      return response;
    } catch (e) {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      if (cached) return cached;
      throw e;
    }
  })());
});
