// Shared by the browser bench pages: one warm-up call (shader compilation on WebGPU, caches
// filled), then calls of `batch` items until `seconds` have passed (at least one call).
// Returns { done: items, secs }.
export async function timed(call, batch, seconds) {
  await call();
  let done = 0, calls = 0;
  const start = performance.now();
  while (calls === 0 || performance.now() - start < seconds * 1000) {
    await call();
    done += batch;
    calls++;
  }
  return { done, secs: (performance.now() - start) / 1000 };
}
