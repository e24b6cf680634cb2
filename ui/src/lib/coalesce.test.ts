// Tests for coalesce(): bursts of refresh requests collapse into one follow-up run.
import { describe, expect, it, vi } from 'vitest';
import { coalesce, throttle } from './coalesce';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('coalesce', () => {
  it('runs once per idle call', async () => {
    let n = 0;
    const run = coalesce(async () => {
      n++;
    });
    await run();
    await run();
    expect(n).toBe(2);
  });

  it('collapses calls made during a run into one more run', async () => {
    const gates: ReturnType<typeof deferred>[] = [];
    let n = 0;
    const run = coalesce(async () => {
      n++;
      const g = deferred();
      gates.push(g);
      await g.promise;
    });
    const a = run();
    const b = run();
    const c = run();
    expect(b).toBe(c);
    expect(n).toBe(1);
    gates[0].resolve();
    await a;
    await Promise.resolve();
    await Promise.resolve();
    expect(n).toBe(2);
    gates[1].resolve();
    await b;
    expect(n).toBe(2);
  });

  it('keeps going after a failed run', async () => {
    let n = 0;
    const run = coalesce(async () => {
      n++;
      if (n === 1) throw new Error('boom');
    });
    await expect(run()).rejects.toThrow('boom');
    await run();
    expect(n).toBe(2);
  });
});

describe('throttle', () => {
  it('runs at once, then once more at the end of a burst', async () => {
    vi.useFakeTimers();
    try {
      const fn = vi.fn();
      const t = throttle(fn, 250);
      t();
      expect(fn).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 10; i++) {
        await vi.advanceTimersByTimeAsync(20);
        t();
      }
      expect(fn).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(250);
      expect(fn).toHaveBeenCalledTimes(2);
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(2);
      t();
      expect(fn).toHaveBeenCalledTimes(3);
      t();
      t.cancel();
      await vi.advanceTimersByTimeAsync(1000);
      expect(fn).toHaveBeenCalledTimes(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
