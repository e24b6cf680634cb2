// Tests for the note Autosaver with fake timers: debounce, flush, serialization, failure and retry.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Autosaver, flushAll, liveSaverFor, liveSavers, statusText, type SaveStatus } from './autosave';

type N = { id: string; note: string };

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A server whose calls are recorded; `auto` answers at once, otherwise answers are released by hand. */
function server(auto = true) {
  const log: string[] = [];
  const pending: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  const answer = (kind: string, id: string, text: string) => {
    log.push(`${kind}:${text}`);
    if (auto) return Promise.resolve({ id, note: text });
    const d = deferred<N>();
    pending.push({ resolve: () => d.resolve({ id, note: text }), reject: d.reject });
    return d.promise;
  };
  return {
    log,
    pending,
    create: vi.fn((text: string) => answer('create', 'N1', text)),
    update: vi.fn((id: string, text: string) => answer('update', id, text)),
  };
}

function make(s: ReturnType<typeof server>, extra: Partial<ConstructorParameters<typeof Autosaver<N>>[0]> = {}) {
  const states: string[] = [];
  const saver = new Autosaver<N>({
    create: s.create,
    update: s.update,
    onStatus: (st: SaveStatus) => states.push(statusText(st)),
    ...extra,
  });
  return { saver, states };
}

beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  vi.useRealTimers();
});

describe('Autosaver', () => {
  it('debounces keystrokes: one create 250 ms after the last one', async () => {
    const s = server();
    const { saver, states } = make(s);
    saver.setText('H');
    await vi.advanceTimersByTimeAsync(200);
    saver.setText('He');
    await vi.advanceTimersByTimeAsync(200);
    saver.setText('Hello');
    expect(s.create).not.toHaveBeenCalled();
    expect(states.at(-1)).toBe('Unsaved changes');
    await vi.advanceTimersByTimeAsync(249);
    expect(s.create).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(s.log).toEqual(['create:Hello']);
    expect(saver.id).toBe('N1');
    expect(states.at(-1)).toBe('Saved');
    expect(states).toContain('Saving…');
    saver.retire();
  });

  it('updates the note after the first save', async () => {
    const s = server();
    const { saver } = make(s);
    saver.setText('a');
    await vi.advanceTimersByTimeAsync(250);
    saver.setText('ab');
    await vi.advanceTimersByTimeAsync(250);
    expect(s.log).toEqual(['create:a', 'update:ab']);
    expect(s.update).toHaveBeenCalledWith('N1', 'ab');
    saver.retire();
  });

  it('flush (blur) saves at once without waiting for the debounce', async () => {
    const s = server();
    const { saver } = make(s);
    saver.setText('typed');
    const p = saver.flush();
    await p;
    expect(s.log).toEqual(['create:typed']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(s.log).toEqual(['create:typed']);
    saver.retire();
  });

  it('does not create a note for blank text', async () => {
    const s = server();
    const { saver, states } = make(s);
    saver.setText('   ');
    await vi.advanceTimersByTimeAsync(300);
    await saver.flush();
    expect(s.create).not.toHaveBeenCalled();
    expect(states.at(-1) ?? 'Saved').toBe('Saved');
    saver.retire();
  });

  it('never has two saves in flight and saves again when text changed meanwhile', async () => {
    const s = server(false);
    const { saver, states } = make(s);
    saver.setText('one');
    await vi.advanceTimersByTimeAsync(250);
    expect(s.log).toEqual(['create:one']);
    saver.setText('one two');
    await vi.advanceTimersByTimeAsync(250);
    saver.setText('one two three');
    await vi.advanceTimersByTimeAsync(250);
    // still waiting on the create: nothing else was sent
    expect(s.log).toEqual(['create:one']);
    expect(states.at(-1)).toBe('Saving…');
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    // the follow-up is an update with the newest text, using the id the create returned
    expect(s.log).toEqual(['create:one', 'update:one two three']);
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(states.at(-1)).toBe('Saved');
    expect(s.log.length).toBe(2);
    saver.retire();
  });

  it('flush waits for the save in flight and the follow-up', async () => {
    const s = server(false);
    const { saver } = make(s);
    saver.setText('x');
    await vi.advanceTimersByTimeAsync(250);
    saver.setText('xy');
    let done = false;
    void saver.flush().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(false);
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.log).toEqual(['create:x', 'update:xy']);
    expect(done).toBe(false);
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    saver.retire();
  });

  it('shows the failure, retries on its own, and recovers', async () => {
    const s = server();
    let fail = true;
    const create = vi.fn((text: string) =>
      fail ? Promise.reject({ code: 'io', message: 'disk full' }) : s.create(text),
    );
    const { saver, states } = make(s, { create, retryDelaysMs: [1000] });
    saver.setText('important');
    await vi.advanceTimersByTimeAsync(250);
    expect(states.at(-1)).toBe('Save failed: disk full');
    expect(saver.status.state).toBe('failed');
    fail = false;
    await vi.advanceTimersByTimeAsync(999);
    expect(create).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(create).toHaveBeenCalledTimes(2);
    expect(states.at(-1)).toBe('Saved');
    expect(saver.id).toBe('N1');
    saver.retire();
  });

  it('stops retrying after the last delay but saves on the next edit', async () => {
    const update = vi.fn(() => Promise.reject({ code: 'validation', message: 'too long' }));
    const s = server();
    const saver = new Autosaver<N>({ create: s.create, update, retryDelaysMs: [100] }, { id: 'N9', text: 'old' });
    saver.setText('new');
    await vi.advanceTimersByTimeAsync(250);
    await vi.advanceTimersByTimeAsync(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(update).toHaveBeenCalledTimes(2);
    expect(saver.status).toEqual({ state: 'failed', error: 'too long' });
    saver.setText('newer');
    await vi.advanceTimersByTimeAsync(250);
    expect(update).toHaveBeenCalledTimes(3);
    saver.retire();
  });

  it('opens an existing note without saving it, and returns to Saved when edits are undone', async () => {
    const s = server();
    const states: string[] = [];
    const saver = new Autosaver<N>(
      { create: s.create, update: s.update, onStatus: (st) => states.push(statusText(st)) },
      { id: 'N5', text: 'hello' },
    );
    expect(saver.status.state).toBe('saved');
    saver.setText('hello!');
    saver.setText('hello');
    await vi.advanceTimersByTimeAsync(300);
    expect(s.update).not.toHaveBeenCalled();
    expect(states.at(-1)).toBe('Saved');
    saver.retire();
  });

  it('flushAll saves every live saver, including retired ones still draining', async () => {
    const s = server(false);
    const before = liveSavers();
    const a = make(s).saver;
    const b = make(s).saver;
    a.setText('a text');
    b.setText('b text');
    void a.retire();
    expect(liveSavers()).toBe(before + 2);
    let done = false;
    void flushAll().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(s.log.sort()).toEqual(['create:a text', 'create:b text']);
    s.pending.forEach((p) => p.resolve());
    await vi.advanceTimersByTimeAsync(0);
    expect(done).toBe(true);
    expect(liveSavers()).toBe(before + 1);
    b.retire();
    await vi.advanceTimersByTimeAsync(0);
    expect(liveSavers()).toBe(before);
  });

  it('a note reopened while its retired saver drains reuses that saver (one save in flight per note)', async () => {
    const s = server(false);
    const saver = new Autosaver<N>({ create: s.create, update: s.update }, { id: 'N7', text: 'v1' });
    saver.setText('v2');
    void saver.retire();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.log).toEqual(['update:v2']);
    const again = liveSaverFor<N>('N7');
    expect(again).toBe(saver);
    again!.adopt();
    again!.setText('v3');
    await vi.advanceTimersByTimeAsync(250);
    expect(s.log).toEqual(['update:v2']);
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.log).toEqual(['update:v2', 'update:v3']);
    s.pending.shift()!.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(liveSaverFor('N7')).toBe(saver);
    saver.retire();
    await vi.advanceTimersByTimeAsync(0);
    expect(liveSaverFor('N7')).toBeUndefined();
  });
});
