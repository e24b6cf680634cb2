// Framework-free paged row cache for the virtual lead list: lazy page fetches, eviction, optimistic rows.
import { pagesFor, pagesToEvict } from './virtual';

/** Fetches one page of the list for `key` (the search query; '' = every lead). */
export type PageFetcher<T> = (offset: number, limit: number, key: string) => Promise<{ total: number; rows: T[] }>;

type PendingRow<T> = { row: T; confirmedGen: number | null };

export type PagedRowsOptions = {
  pageSize?: number;
  /** most pages kept in memory (fresh and stale each) */
  maxPages?: number;
  /** most page requests in flight at once */
  maxInFlight?: number;
  /** wait before re-asking for a page that failed */
  retryMs?: number;
};

/**
 * Rows are addressed by display index: optimistic (pending) rows first, then the server's rows.
 * `invalidate()` keeps the old pages as "stale" so rows never flash to placeholders while the
 * fresh pages load; answers from before an invalidation are discarded. Pages are keyed by the
 * query (`setKey`): a new query's answers never mix with the old one's.
 */
export class PagedRows<T extends { id: string }> {
  readonly pageSize: number;
  readonly maxPages: number;
  readonly maxInFlight: number;
  readonly retryMs: number;
  onChange: () => void = () => {};
  onError: (err: unknown) => void = () => {};

  private fetcher: PageFetcher<T>;
  private fresh = new Map<number, T[]>();
  private stale = new Map<number, T[]>();
  private inflight = new Map<number, number>();
  private failed = new Map<number, number>();
  private active = 0;
  private gen = 0;
  private wantStart = 0;
  private wantEnd = 0;
  private serverTotal: number | null = null;
  private pending: PendingRow<T>[] = [];
  private currentKey = '';
  /** the stale pages belong to the previous key: drop them when the new key's first page lands */
  private staleForeign = false;

  constructor(fetcher: PageFetcher<T>, opts: PagedRowsOptions = {}) {
    this.fetcher = fetcher;
    this.pageSize = opts.pageSize ?? 200;
    this.maxPages = opts.maxPages ?? 15;
    this.maxInFlight = opts.maxInFlight ?? 2;
    this.retryMs = opts.retryMs ?? 2000;
  }

  /** Rows to show: server total plus optimistic rows. */
  get total(): number {
    return (this.serverTotal ?? 0) + this.pending.length;
  }

  /** True once the server total is known. */
  get loaded(): boolean {
    return this.serverTotal !== null;
  }

  /** Number of pages currently requested from the server. */
  get inFlight(): number {
    return this.active;
  }

  /** Cached (fresh) page numbers. */
  get cachedPages(): number[] {
    return [...this.fresh.keys()].sort((a, b) => a - b);
  }

  /** Row at display index `i`, or undefined while its page is loading. */
  row(i: number): T | undefined {
    if (i < 0) return undefined;
    if (i < this.pending.length) return this.pending[i].row;
    const j = i - this.pending.length;
    const page = Math.floor(j / this.pageSize);
    const k = j % this.pageSize;
    return this.fresh.get(page)?.[k] ?? this.stale.get(page)?.[k];
  }

  /** Display index of the row with `id` among cached rows, or -1. */
  indexOf(id: string): number {
    const p = this.pending.findIndex((r) => r.row.id === id);
    if (p >= 0) return p;
    for (const [page, rows] of this.fresh) {
      const k = rows.findIndex((r) => r.id === id);
      if (k >= 0) return this.pending.length + page * this.pageSize + k;
    }
    return -1;
  }

  /** Declares which display rows [start, end) are on screen; fetches what is missing. */
  setRange(start: number, end: number): void {
    this.wantStart = Math.max(0, start);
    this.wantEnd = Math.max(this.wantStart, end);
    this.pump();
  }

  /** Drops the cache (keeping it as stale until fresh pages arrive) and re-fetches visible rows. */
  invalidate(): void {
    this.gen++;
    for (const [p, rows] of this.fresh) this.stale.set(p, rows);
    this.fresh.clear();
    this.failed.clear();
    this.evictStale();
    this.pump();
  }

  /** The query the pages belong to. */
  get key(): string {
    return this.currentKey;
  }

  /**
   * Switches the list to another query. `first` (page 0 of the new key, already fetched) shows at
   * once; without it the old rows stay on screen until the new key's first page arrives.
   */
  setKey(key: string, first?: { total: number; rows: T[] }): void {
    if (key === this.currentKey && !first) return;
    this.currentKey = key;
    this.gen++;
    this.stale.clear();
    this.failed.clear();
    if (first) {
      this.fresh.clear();
      this.fresh.set(0, first.rows);
      this.serverTotal = first.total;
      this.staleForeign = false;
    } else {
      for (const [p, rows] of this.fresh) this.stale.set(p, rows);
      this.fresh.clear();
      this.staleForeign = true;
    }
    this.evict();
    this.onChange();
    this.pump();
  }

  /** Replaces the row with `id` wherever it is cached (optimistic edits). */
  patch(id: string, fn: (row: T) => T): void {
    let hit = false;
    for (const p of this.pending) {
      if (p.row.id === id) {
        p.row = fn(p.row);
        hit = true;
      }
    }
    for (const map of [this.fresh, this.stale]) {
      for (const rows of map.values()) {
        const k = rows.findIndex((r) => r.id === id);
        if (k >= 0) {
          rows[k] = fn(rows[k]);
          hit = true;
        }
      }
    }
    if (hit) this.onChange();
  }

  /**
   * Shows `row` at the top at once. `confirm(real)` swaps in the server's row (kept until the next
   * refreshed first page includes it); `fail()` removes it.
   */
  prepend(row: T): { confirm: (real: T) => void; fail: () => void } {
    const entry: PendingRow<T> = { row, confirmedGen: null };
    this.pending.unshift(entry);
    this.onChange();
    return {
      confirm: (real: T) => {
        entry.row = real;
        entry.confirmedGen = this.gen;
        this.onChange();
        this.invalidate();
      },
      fail: () => {
        this.pending = this.pending.filter((e) => e !== entry);
        this.onChange();
      },
    };
  }

  private serverRange(): [number, number] {
    const n = this.pending.length;
    return [Math.max(0, this.wantStart - n), Math.max(0, this.wantEnd - n)];
  }

  private wantedPages(): number[] {
    if (this.serverTotal === null) return [0];
    const [s, e] = this.serverRange();
    const end = Math.min(e, this.serverTotal);
    const pages = pagesFor(s, end, this.pageSize);
    // after an invalidation, page 0 tells the new total and retires confirmed optimistic rows
    if (pages.length === 0 || (this.pending.some((p) => p.confirmedGen !== null) && !pages.includes(0))) {
      pages.unshift(0);
    }
    return pages;
  }

  private pump(): void {
    for (const page of this.wantedPages()) {
      if (this.active >= this.maxInFlight) break;
      if (this.fresh.has(page)) continue;
      if (this.inflight.get(page) === this.gen) continue;
      if (this.failed.get(page) === this.gen) continue;
      this.launch(page);
    }
  }

  private launch(page: number): void {
    const gen = this.gen;
    this.active++;
    this.inflight.set(page, gen);
    this.fetcher(page * this.pageSize, this.pageSize, this.currentKey)
      .then((res) => {
        if (gen !== this.gen) return;
        if (this.staleForeign) {
          this.stale.clear();
          this.staleForeign = false;
        }
        this.fresh.set(page, res.rows);
        this.stale.delete(page);
        this.serverTotal = res.total;
        if (page === 0) {
          this.pending = this.pending.filter((p) => p.confirmedGen === null || p.confirmedGen >= gen);
        }
        this.evict();
        this.onChange();
      })
      .catch((err) => {
        if (gen !== this.gen) return;
        this.failed.set(page, gen);
        this.onError(err);
        setTimeout(() => {
          if (this.failed.get(page) === gen) {
            this.failed.delete(page);
            this.pump();
          }
        }, this.retryMs);
      })
      .finally(() => {
        this.active--;
        if (this.inflight.get(page) === gen) this.inflight.delete(page);
        this.pump();
      });
  }

  private evict(): void {
    const wanted = this.wantedPages();
    for (const p of pagesToEvict(this.fresh.keys(), wanted, this.maxPages)) this.fresh.delete(p);
    this.evictStale();
  }

  private evictStale(): void {
    const wanted = this.wantedPages();
    for (const p of pagesToEvict(this.stale.keys(), wanted, this.maxPages)) this.stale.delete(p);
  }
}
