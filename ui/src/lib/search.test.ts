// Tests for search.ts: byte spans → highlight segments, debounce, latest-wins.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { byteToIndex, debounce, highlightSegments, Latest, normalizeQuery } from './search';

const seg = (text: string, span: [number, number] | null) =>
  highlightSegments(text, span).map((s) => (s.error ? `[${s.text}]` : s.text)).join('');

describe('highlightSegments', () => {
  it.each([
    ['last_caled:yesterday', [0, 10], '[last_caled]:yesterday'],
    ['status:customer foo:1', [16, 19], 'status:customer [foo]:1'],
    ['(a or b', [0, 1], '[(]a or b'],
    ['name:"acme', [10, 10], 'name:"acme[ ]'],
    ['ab cd', [3, 3], 'ab [c]d'],
    ['plain', null, 'plain'],
    ['café bad:x', [6, 9], 'café [bad]:x'],
    ['日本 x:1', [7, 8], '日本 [x]:1'],
    ['😀 zz:1', [5, 7], '😀 [zz]:1'],
    ['abc', [1, 99], 'a[bc]'],
  ] as [string, [number, number] | null, string][])('%s %j → %s', (text, span, want) => {
    expect(seg(text, span)).toBe(want);
  });

  it('is empty for an empty query without error', () => {
    expect(highlightSegments('', null)).toEqual([]);
  });
});

describe('byteToIndex', () => {
  it('converts UTF-8 byte offsets to UTF-16 indexes', () => {
    expect(byteToIndex('abc', 2)).toBe(2);
    expect(byteToIndex('éa', 2)).toBe(1);
    expect(byteToIndex('😀a', 4)).toBe(2);
    expect(byteToIndex('ab', 10)).toBe(2);
  });
});

describe('debounce', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs once with the last arguments after the quiet period', () => {
    const fn = vi.fn();
    const d = debounce(fn, 80);
    d('s');
    vi.advanceTimersByTime(50);
    d('st');
    vi.advanceTimersByTime(50);
    d('sta');
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(80);
    expect(fn).toHaveBeenCalledTimes(1);
    expect(fn).toHaveBeenCalledWith('sta');
  });

  it('cancel drops and flush runs the pending call', () => {
    const fn = vi.fn();
    const d = debounce(fn, 80);
    d('a');
    d.cancel();
    vi.advanceTimersByTime(200);
    expect(fn).not.toHaveBeenCalled();
    d('b');
    d.flush();
    expect(fn).toHaveBeenCalledWith('b');
    vi.advanceTimersByTime(200);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe('Latest', () => {
  it('only the newest ticket is current', () => {
    const l = new Latest();
    const a = l.begin();
    const b = l.begin();
    expect(l.current(a)).toBe(false);
    expect(l.current(b)).toBe(true);
  });
});

describe('normalizeQuery', () => {
  it('treats blank and * as all leads', () => {
    expect(normalizeQuery('  ')).toBe('');
    expect(normalizeQuery(' * ')).toBe('');
    expect(normalizeQuery(' status:x ')).toBe('status:x');
  });
});
