// Pure helpers for the search box: error-span highlighting (byte spans → text segments), debounce, latest-wins.

/** A run of the query text; `error` marks the part the error span covers. */
export type Segment = { text: string; error: boolean };

/** The UTF-16 index in `text` of UTF-8 byte offset `byte` (the core's spans are byte ranges). */
export function byteToIndex(text: string, byte: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < byte) {
    const cp = text.codePointAt(i) ?? 0;
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += cp > 0xffff ? 2 : 1;
  }
  return i;
}

/**
 * Splits `text` into plain and error segments for the underline overlay. An empty span (a
 * missing `)` or quote at the end) still marks something: the character at it, or a trailing
 * space when it points past the end.
 */
export function highlightSegments(text: string, span: [number, number] | null): Segment[] {
  if (!span) return text ? [{ text, error: false }] : [];
  let start = byteToIndex(text, Math.min(span[0], span[1]));
  let end = byteToIndex(text, Math.max(span[0], span[1]));
  if (end === start) {
    if (start >= text.length) {
      start = text.length;
      end = start;
    } else {
      end = start + 1;
    }
  }
  const out: Segment[] = [];
  if (start > 0) out.push({ text: text.slice(0, start), error: false });
  out.push({ text: end > start ? text.slice(start, end) : ' ', error: true });
  if (end < text.length) out.push({ text: text.slice(end), error: false });
  return out;
}

export type Debounced<A extends unknown[]> = {
  (...args: A): void;
  /** drops a pending call */
  cancel(): void;
  /** runs a pending call now */
  flush(): void;
};

/** Calls `fn` once input has been quiet for `ms`, with the last arguments. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last: A | null = null;
  const run = () => {
    timer = null;
    const args = last;
    last = null;
    if (args) fn(...args);
  };
  const wrapped = (...args: A) => {
    last = args;
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  wrapped.cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    last = null;
  };
  wrapped.flush = () => {
    if (timer) clearTimeout(timer);
    run();
  };
  return wrapped;
}

/**
 * Latest-wins guard for as-you-type requests: `begin()` returns a ticket, and `current(ticket)`
 * tells whether no newer request has begun since (older answers are dropped).
 */
export class Latest {
  private seq = 0;
  begin(): number {
    return ++this.seq;
  }
  current(ticket: number): boolean {
    return ticket === this.seq;
  }
}

/** The query shown in the list: blank input means all leads. */
export function normalizeQuery(q: string): string {
  const t = q.trim();
  return t === '*' ? '' : t;
}
