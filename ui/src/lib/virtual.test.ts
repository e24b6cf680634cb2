// Tests for the pure virtual-list math (window, positions, reveal, pages, eviction, keys).
import { describe, expect, it } from 'vitest';
import {
  computeLayout,
  nextIndex,
  pagesFor,
  pagesToEvict,
  rowTop,
  scrollToReveal,
  visibleWindow,
  MAX_SCROLL_PX,
} from './virtual';

const ROW = 48;

describe('computeLayout', () => {
  it('is 1:1 below the browser height cap', () => {
    expect(computeLayout(100_000, ROW, 600)).toEqual({ contentHeight: 4_800_000, ratio: 1 });
  });
  it('compresses above the cap so the last row is still reachable', () => {
    const l = computeLayout(1_000_000, ROW, 600);
    expect(l.contentHeight).toBe(MAX_SCROLL_PX);
    const maxScroll = l.contentHeight - 600;
    expect(maxScroll * l.ratio + 600).toBeCloseTo(1_000_000 * ROW, 3);
  });
  it('handles an empty list', () => {
    expect(computeLayout(0, ROW, 600)).toEqual({ contentHeight: 0, ratio: 1 });
  });
});

describe('visibleWindow', () => {
  const layout = computeLayout(100_000, ROW, 480);
  it('starts at the top with overscan only below', () => {
    const w = visibleWindow(0, 480, ROW, 100_000, 5, layout);
    expect(w).toMatchObject({ start: 0, end: 15, firstVisible: 0, endVisible: 10 });
  });
  it('includes partly visible rows and overscan on both sides', () => {
    const w = visibleWindow(1000, 480, ROW, 100_000, 5, layout);
    // rows 20 (1000/48=20.8) .. 31 (1480/48=30.8 → ceil 31)
    expect(w).toMatchObject({ firstVisible: 20, endVisible: 31, start: 15, end: 36 });
  });
  it('clamps at the end of the list', () => {
    const w = visibleWindow(10_000_000, 480, ROW, 100_000, 5, layout);
    expect(w.end).toBe(100_000);
    expect(w.endVisible).toBe(100_000);
    expect(w.firstVisible).toBe(100_000 - 10);
  });
  it('clamps negative (elastic) scroll', () => {
    expect(visibleWindow(-50, 480, ROW, 100, 0, computeLayout(100, ROW, 480)).start).toBe(0);
  });
  it('covers a list shorter than the viewport', () => {
    const w = visibleWindow(0, 480, ROW, 3, 5, computeLayout(3, ROW, 480));
    expect(w).toMatchObject({ start: 0, end: 3, endVisible: 3 });
  });
  it('returns an empty window for no rows', () => {
    expect(visibleWindow(0, 480, ROW, 0, 5, computeLayout(0, ROW, 480))).toMatchObject({ start: 0, end: 0 });
  });
  it('reaches the last row in a compressed layout', () => {
    const total = 1_000_000;
    const l = computeLayout(total, ROW, 480);
    const w = visibleWindow(l.contentHeight - 480, 480, ROW, total, 0, l);
    expect(w.endVisible).toBe(total);
    // the last row's bottom sits at the viewport's bottom edge
    const top = rowTop(total - 1, l.contentHeight - 480, ROW, l, 480);
    expect(top + ROW).toBeCloseTo(l.contentHeight, 3);
  });
});

describe('rowTop', () => {
  it('is index * height when uncompressed', () => {
    expect(rowTop(10, 123, ROW, { contentHeight: 4800, ratio: 1 })).toBe(480);
  });
  it('keeps the first visible row aligned with the viewport when compressed', () => {
    const l = computeLayout(1_000_000, ROW, 480);
    const scrollTop = 3_000_000;
    const w = visibleWindow(scrollTop, 480, ROW, 1_000_000, 0, l);
    const top = rowTop(w.firstVisible, scrollTop, ROW, l, 480);
    expect(top).toBeLessThanOrEqual(scrollTop);
    expect(top + ROW).toBeGreaterThan(scrollTop);
  });
});

describe('scrollToReveal', () => {
  const l = computeLayout(1000, ROW, 480);
  it('returns null for a fully visible row', () => {
    expect(scrollToReveal(3, 0, 480, ROW, l)).toBeNull();
  });
  it('scrolls down so the row sits at the bottom', () => {
    expect(scrollToReveal(10, 0, 480, ROW, l)).toBe(11 * ROW - 480);
  });
  it('scrolls up so the row sits at the top', () => {
    expect(scrollToReveal(5, 1000, 480, ROW, l)).toBe(5 * ROW);
  });
  it('reveals in a compressed layout', () => {
    const big = computeLayout(1_000_000, ROW, 480);
    const st = scrollToReveal(500_000, 0, 480, ROW, big) as number;
    const w = visibleWindow(st, 480, ROW, 1_000_000, 0, big);
    expect(500_000).toBeGreaterThanOrEqual(w.firstVisible);
    expect(500_000).toBeLessThan(w.endVisible);
  });
});

describe('pagesFor', () => {
  it('lists the pages covering a range', () => {
    expect(pagesFor(0, 15, 200)).toEqual([0]);
    expect(pagesFor(190, 215, 200)).toEqual([0, 1]);
    expect(pagesFor(400, 400, 200)).toEqual([]);
    expect(pagesFor(99_990, 100_000, 200)).toEqual([499]);
  });
});

describe('pagesToEvict', () => {
  it('keeps everything under the cap', () => {
    expect(pagesToEvict([1, 2, 3], [2], 5)).toEqual([]);
  });
  it('drops the farthest pages first and never the wanted ones', () => {
    expect(pagesToEvict([0, 1, 2, 10, 50, 51], [10], 3)).toEqual([51, 50, 0]);
  });
});

describe('nextIndex', () => {
  it('moves within bounds', () => {
    expect(nextIndex(null, 'ArrowDown', 10, 10)).toBe(0);
    expect(nextIndex(null, 'End', 10, 10)).toBe(9);
    expect(nextIndex(3, 'ArrowDown', 10, 10)).toBe(4);
    expect(nextIndex(9, 'ArrowDown', 10, 10)).toBe(9);
    expect(nextIndex(0, 'ArrowUp', 10, 10)).toBe(0);
    expect(nextIndex(2, 'PageDown', 100, 10)).toBe(11);
    expect(nextIndex(5, 'PageUp', 100, 10)).toBe(0);
    expect(nextIndex(5, 'Home', 100, 10)).toBe(0);
    expect(nextIndex(5, 'End', 100, 10)).toBe(99);
    expect(nextIndex(5, 'ArrowDown', 0, 10)).toBeNull();
  });
});
