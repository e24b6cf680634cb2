// Collapses bursts of async refresh requests: one run at a time, at most one more queued after it.

/**
 * Wraps `fn` so that calls made while it runs trigger exactly one more run afterwards.
 * The returned promise settles when a run that started after the call has finished.
 */
export function coalesce(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;

  const start = (): Promise<void> => {
    running = (async () => {
      try {
        await fn();
      } finally {
        running = null;
      }
    })();
    return running;
  };

  return () => {
    if (!running) return start();
    if (!queued) {
      queued = running
        .catch(() => undefined)
        .then(() => {
          queued = null;
          return start();
        });
    }
    return queued;
  };
}

/**
 * Runs `fn` at most once per `ms`: the first call runs at once, calls during the quiet period
 * collapse into one trailing run (so bursts of store events don't starve page fetches).
 */
export function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const wrapped = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  wrapped.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}
