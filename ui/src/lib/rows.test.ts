// Tests for PagedRows: lazy page fetches, concurrency cap, eviction, invalidation, optimistic rows.
import { describe, expect, it, vi } from 'vitest';
import { PagedRows } from './rows';

type Row = { id: string; name: string };

/** A fake server of `total` rows whose answers are released by hand. */
function fakeServer(total: number) {
  const calls: { offset: number; limit: number; release: () => void; fail: (e: unknown) => void }[] = [];
  let version = 0;
  const fetcher = (offset: number, limit: number) =>
    new Promise<{ total: number; rows: Row[] }>((resolve, reject) => {
      const v = version;
      const rows: Row[] = [];
      for (let i = offset; i < Math.min(total, offset + limit); i++) rows.push({ id: `L${i}`, name: `Lead ${i} v${v}` });
      calls.push({ offset, limit, release: () => resolve({ total, rows }), fail: reject });
    });
  return {
    fetcher,
    calls,
    bump: () => version++,
    setTotal: (t: number) => (total = t),
    async releaseAll() {
      while (calls.length) {
        calls.shift()!.release();
        await flush();
      }
    },
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('PagedRows', () => {
  it('fetches the first page to learn the total', async () => {
    const s = fakeServer(1000);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 0);
    expect(s.calls.map((c) => c.offset)).toEqual([0]);
    await s.releaseAll();
    expect(rows.total).toBe(1000);
    expect(rows.row(5)?.name).toBe('Lead 5 v0');
    expect(rows.row(150)).toBeUndefined();
  });

  it('only fetches pages of the visible range, at most maxInFlight at once', async () => {
    const s = fakeServer(100_000);
    const rows = new PagedRows(s.fetcher, { pageSize: 100, maxInFlight: 2 });
    rows.setRange(0, 10);
    await s.releaseAll();
    rows.setRange(50_050, 50_350);
    expect(s.calls.map((c) => c.offset)).toEqual([50_000, 50_100]);
    await s.releaseAll();
    expect(rows.row(50_300)?.id).toBe('L50300');
    expect(rows.inFlight).toBe(0);
  });

  it('skips pages the user scrolled past before their turn came', async () => {
    const s = fakeServer(100_000);
    const rows = new PagedRows(s.fetcher, { pageSize: 100, maxInFlight: 1 });
    rows.setRange(0, 10);
    await s.releaseAll();
    rows.setRange(10_000, 10_020);
    rows.setRange(20_000, 20_020);
    rows.setRange(30_000, 30_020);
    const first = s.calls.shift()!;
    expect(first.offset).toBe(10_000);
    first.release();
    await flush();
    expect(s.calls.map((c) => c.offset)).toEqual([30_000]);
  });

  it('evicts far pages beyond maxPages', async () => {
    const s = fakeServer(100_000);
    const rows = new PagedRows(s.fetcher, { pageSize: 100, maxPages: 3 });
    for (const start of [0, 1000, 2000, 3000, 4000]) {
      rows.setRange(start, start + 10);
      await s.releaseAll();
    }
    expect(rows.cachedPages.length).toBeLessThanOrEqual(3);
    expect(rows.cachedPages).toContain(40);
    expect(rows.cachedPages).not.toContain(0);
  });

  it('invalidate keeps stale rows visible until fresh ones arrive', async () => {
    const s = fakeServer(500);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    const onChange = vi.fn();
    rows.onChange = onChange;
    rows.setRange(0, 20);
    await s.releaseAll();
    s.bump();
    s.setTotal(501);
    rows.invalidate();
    expect(rows.row(0)?.name).toBe('Lead 0 v0');
    await s.releaseAll();
    expect(rows.row(0)?.name).toBe('Lead 0 v1');
    expect(rows.total).toBe(501);
    expect(onChange).toHaveBeenCalled();
  });

  it('discards answers that started before an invalidation', async () => {
    const s = fakeServer(500);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 20);
    const old = s.calls.shift()!;
    s.bump();
    rows.invalidate();
    old.release();
    await flush();
    expect(rows.row(0)).toBeUndefined();
    await s.releaseAll();
    expect(rows.row(0)?.name).toBe('Lead 0 v1');
  });

  it('refreshes the total of an empty list on invalidate', async () => {
    const s = fakeServer(0);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 0);
    await s.releaseAll();
    expect(rows.total).toBe(0);
    s.setTotal(1000);
    rows.invalidate();
    await s.releaseAll();
    expect(rows.total).toBe(1000);
  });

  it('shows an optimistic row at once, then swaps it for the server row', async () => {
    const s = fakeServer(10);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 20);
    await s.releaseAll();
    const h = rows.prepend({ id: 'tmp-1', name: 'New' });
    expect(rows.total).toBe(11);
    expect(rows.row(0)?.id).toBe('tmp-1');
    expect(rows.row(1)?.id).toBe('L0');
    // the server now has 11 rows, the new one first
    s.setTotal(11);
    h.confirm({ id: 'L-new', name: 'New' });
    expect(rows.row(0)?.id).toBe('L-new');
    expect(rows.total).toBe(11);
    await s.releaseAll();
    // the confirmed row is retired; counts stay consistent
    expect(rows.total).toBe(11);
    expect(rows.indexOf('L-new')).toBe(-1);
  });

  it('rolls back an optimistic row that failed', async () => {
    const s = fakeServer(10);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 20);
    await s.releaseAll();
    const h = rows.prepend({ id: 'tmp-1', name: 'New' });
    h.fail();
    expect(rows.total).toBe(10);
    expect(rows.row(0)?.id).toBe('L0');
  });

  it('patches cached rows in place', async () => {
    const s = fakeServer(10);
    const rows = new PagedRows(s.fetcher, { pageSize: 100 });
    rows.setRange(0, 10);
    await s.releaseAll();
    rows.patch('L3', (r) => ({ ...r, name: 'Renamed' }));
    expect(rows.row(3)?.name).toBe('Renamed');
    expect(rows.indexOf('L3')).toBe(3);
  });

  it('reports a failed page and retries it later', async () => {
    vi.useFakeTimers();
    try {
      const s = fakeServer(10);
      const rows = new PagedRows(s.fetcher, { pageSize: 100, retryMs: 1000 });
      const onError = vi.fn();
      rows.onError = onError;
      rows.setRange(0, 10);
      s.calls.shift()!.fail({ code: 'io', message: 'disk' });
      await vi.advanceTimersByTimeAsync(0);
      expect(onError).toHaveBeenCalledTimes(1);
      expect(s.calls.length).toBe(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(s.calls.length).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('PagedRows keyed by query', () => {
  /** A server whose rows say which query they answer. */
  function keyedServer() {
    const calls: { offset: number; key: string; release: (total: number) => void }[] = [];
    const fetcher = (offset: number, limit: number, key: string) =>
      new Promise<{ total: number; rows: Row[] }>((resolve) => {
        calls.push({
          offset,
          key,
          release: (total) => {
            const rows: Row[] = [];
            for (let i = offset; i < Math.min(total, offset + limit); i++) rows.push({ id: `${key}${i}`, name: `${key || 'all'} ${i}` });
            resolve({ total, rows });
          },
        });
      });
    return { fetcher, calls };
  }

  it('fetches with the current key and drops answers for an older key', async () => {
    const s = keyedServer();
    const rows = new PagedRows(s.fetcher, { pageSize: 10 });
    rows.setRange(0, 5);
    expect(s.calls.map((c) => c.key)).toEqual(['']);
    rows.setKey('status:customer');
    expect(s.calls.map((c) => c.key)).toEqual(['', 'status:customer']);
    s.calls[0].release(100);
    await flush();
    expect(rows.loaded).toBe(false);
    s.calls[1].release(3);
    await flush();
    expect(rows.total).toBe(3);
    expect(rows.row(0)?.name).toBe('status:customer 0');
    expect(rows.key).toBe('status:customer');
  });

  it('keeps the old rows on screen until the new query answers', async () => {
    const s = keyedServer();
    const rows = new PagedRows(s.fetcher, { pageSize: 10 });
    rows.setRange(0, 5);
    s.calls.shift()!.release(100);
    await flush();
    rows.setKey('acme');
    expect(rows.row(0)?.name).toBe('all 0');
    expect(rows.total).toBe(100);
    s.calls.shift()!.release(2);
    await flush();
    expect(rows.total).toBe(2);
    expect(rows.row(0)?.name).toBe('acme 0');
    expect(rows.row(5)).toBeUndefined();
  });

  it('shows a prefetched first page at once and fetches only further pages', async () => {
    const s = keyedServer();
    const rows = new PagedRows(s.fetcher, { pageSize: 10 });
    rows.setRange(0, 5);
    s.calls.shift()!.release(100);
    await flush();
    rows.setKey('x', { total: 1, rows: [{ id: 'x0', name: 'x 0' }] });
    expect(rows.total).toBe(1);
    expect(rows.row(0)?.name).toBe('x 0');
    expect(s.calls).toEqual([]);
    rows.invalidate();
    expect(s.calls.map((c) => [c.key, c.offset])).toEqual([['x', 0]]);
  });

  it('setting the same key again does nothing', () => {
    const s = keyedServer();
    const rows = new PagedRows(s.fetcher, { pageSize: 10 });
    rows.setRange(0, 5);
    rows.setKey('');
    expect(s.calls.length).toBe(1);
  });
});
