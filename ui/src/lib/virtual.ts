// Pure virtual-scrolling math for the lead list: visible window, row positions, pages, keyboard moves.

/**
 * Browsers cap an element's height (Firefox ~17.8M px, WebKit/Chromium ~33.5M px). Above this
 * many pixels the scroll range is compressed: one scroll pixel then moves `ratio` virtual pixels.
 */
export const MAX_SCROLL_PX = 8_000_000;

export type Layout = {
  /** height of the scrollable spacer, in px */
  contentHeight: number;
  /** virtual px per scroll px (1 when uncompressed, > 1 when compressed) */
  ratio: number;
};

export function computeLayout(
  total: number,
  rowHeight: number,
  viewport: number,
  maxPx: number = MAX_SCROLL_PX,
): Layout {
  const full = Math.max(0, total) * rowHeight;
  if (full <= maxPx) return { contentHeight: full, ratio: 1 };
  const ratio = (full - viewport) / Math.max(1, maxPx - viewport);
  return { contentHeight: maxPx, ratio: Math.max(1, ratio) };
}

export type VisibleWindow = {
  /** first row to render (inclusive, includes overscan) */
  start: number;
  /** last row to render (exclusive, includes overscan) */
  end: number;
  /** first row at least partly visible */
  firstVisible: number;
  /** last row at least partly visible (exclusive) */
  endVisible: number;
  /** virtual px of the viewport's top edge */
  virtualTop: number;
};

export function clampScroll(scrollTop: number, viewport: number, layout: Layout): number {
  const max = Math.max(0, layout.contentHeight - viewport);
  return Math.min(Math.max(0, scrollTop), max);
}

export function visibleWindow(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  total: number,
  overscan: number,
  layout: Layout,
): VisibleWindow {
  if (total <= 0 || rowHeight <= 0) {
    return { start: 0, end: 0, firstVisible: 0, endVisible: 0, virtualTop: 0 };
  }
  const top = clampScroll(scrollTop, viewport, layout);
  const virtualTop = top * layout.ratio;
  const firstVisible = Math.min(total - 1, Math.floor(virtualTop / rowHeight));
  const endVisible = Math.min(total, Math.ceil((virtualTop + Math.max(0, viewport)) / rowHeight));
  return {
    start: Math.max(0, firstVisible - overscan),
    end: Math.min(total, Math.max(endVisible, firstVisible + 1) + overscan),
    firstVisible,
    endVisible: Math.max(endVisible, firstVisible + 1),
    virtualTop,
  };
}

/** Top of row `index` inside the spacer, in px (what to put in translateY). */
export function rowTop(index: number, scrollTop: number, rowHeight: number, layout: Layout, viewport = 0): number {
  if (layout.ratio === 1) return index * rowHeight;
  const top = clampScroll(scrollTop, viewport, layout);
  return top + (index * rowHeight - top * layout.ratio);
}

/** New scrollTop that brings row `index` fully into view, or null when it already is. */
export function scrollToReveal(
  index: number,
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  layout: Layout,
): number | null {
  const virtualTop = clampScroll(scrollTop, viewport, layout) * layout.ratio;
  const rowStart = index * rowHeight;
  const rowEnd = rowStart + rowHeight;
  if (rowStart < virtualTop) return Math.floor(rowStart / layout.ratio);
  if (rowEnd > virtualTop + viewport) {
    const target = Math.ceil((rowEnd - viewport) / layout.ratio);
    return clampScroll(target, viewport, layout);
  }
  return null;
}

/** Page numbers covering rows [start, end). */
export function pagesFor(start: number, end: number, pageSize: number): number[] {
  if (end <= start || pageSize <= 0) return [];
  const first = Math.floor(Math.max(0, start) / pageSize);
  const last = Math.floor((end - 1) / pageSize);
  const out: number[] = [];
  for (let p = first; p <= last; p++) out.push(p);
  return out;
}

/**
 * Which cached pages to drop so that at most `maxPages` remain: never the wanted ones,
 * farthest from the wanted range first.
 */
export function pagesToEvict(
  cached: Iterable<number>,
  wanted: number[],
  maxPages: number,
): number[] {
  const all = [...cached];
  if (all.length <= maxPages) return [];
  const keep = new Set(wanted);
  const lo = wanted.length ? Math.min(...wanted) : 0;
  const hi = wanted.length ? Math.max(...wanted) : 0;
  const dist = (p: number) => (p < lo ? lo - p : p > hi ? p - hi : 0);
  const candidates = all.filter((p) => !keep.has(p)).sort((a, b) => dist(b) - dist(a) || b - a);
  return candidates.slice(0, Math.min(candidates.length, all.length - maxPages));
}

export type NavKey = 'ArrowDown' | 'ArrowUp' | 'PageDown' | 'PageUp' | 'Home' | 'End';

export function isNavKey(key: string): key is NavKey {
  return ['ArrowDown', 'ArrowUp', 'PageDown', 'PageUp', 'Home', 'End'].includes(key);
}

/** Index selected after pressing `key`, given the current selection (null = none). */
export function nextIndex(current: number | null, key: NavKey, total: number, pageRows: number): number | null {
  if (total <= 0) return null;
  const last = total - 1;
  const step = Math.max(1, pageRows - 1);
  if (current === null) {
    return key === 'End' ? last : 0;
  }
  const cur = Math.min(Math.max(0, current), last);
  switch (key) {
    case 'ArrowDown':
      return Math.min(last, cur + 1);
    case 'ArrowUp':
      return Math.max(0, cur - 1);
    case 'PageDown':
      return Math.min(last, cur + step);
    case 'PageUp':
      return Math.max(0, cur - step);
    case 'Home':
      return 0;
    case 'End':
      return last;
  }
}
