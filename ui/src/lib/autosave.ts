// Framework-free note autosave: debounced, serialized saves, flush on demand, retry after failure.
import { errorMessage } from './api';

export type SaveState = 'saved' | 'dirty' | 'saving' | 'failed';
export type SaveStatus = { state: SaveState; error: string | null };

export type AutosaveOptions<N extends { id: string }> = {
  /** creates the note on its first save */
  create: (text: string) => Promise<N>;
  /** saves later edits */
  update: (id: string, text: string) => Promise<N>;
  /** quiet time after the last keystroke before saving (≤ 300 ms per the brief) */
  debounceMs?: number;
  /** automatic retries after a failed save; afterwards it waits for the next edit or flush */
  retryDelaysMs?: number[];
  onStatus?: (s: SaveStatus) => void;
  onSaved?: (note: N, created: boolean) => void;
};

/** Every live saver, so a window close can flush them all (including ones draining in background). */
const live = new Set<Autosaver<{ id: string }>>();

export function flushAll(): Promise<void> {
  return Promise.all([...live].map((s) => s.flush())).then(() => undefined);
}

export function liveSavers(): number {
  return live.size;
}

/** The live saver (possibly still draining in background) of note `id`, if any. */
export function liveSaverFor<N extends { id: string }>(id: string): Autosaver<N> | undefined {
  for (const s of live) if (s.id === id) return s as unknown as Autosaver<N>;
  return undefined;
}

export function statusText(s: SaveStatus): string {
  switch (s.state) {
    case 'saved':
      return 'Saved';
    case 'saving':
      return 'Saving…';
    case 'dirty':
      return 'Unsaved changes';
    case 'failed':
      return `Save failed: ${s.error ?? 'unknown error'}`;
  }
}

export class Autosaver<N extends { id: string }> {
  private opts: AutosaveOptions<N>;
  private noteId: string | null;
  private text: string;
  private savedText: string;
  private debounceTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private retries = 0;
  private running: Promise<void> | null = null;
  private retired = false;
  private current: SaveStatus = { state: 'saved', error: null };

  constructor(opts: AutosaveOptions<N>, initial?: { id: string; text: string }) {
    this.opts = opts;
    this.noteId = initial?.id ?? null;
    this.text = initial?.text ?? '';
    this.savedText = this.text;
    live.add(this as unknown as Autosaver<{ id: string }>);
  }

  get id(): string | null {
    return this.noteId;
  }

  get value(): string {
    return this.text;
  }

  get status(): SaveStatus {
    return this.current;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Replaces the callbacks (e.g. when the editor that owned this saver goes away). */
  setCallbacks(cb: Pick<AutosaveOptions<N>, 'onStatus' | 'onSaved'>): void {
    this.opts = { ...this.opts, ...cb };
  }

  /** Records a keystroke: marks dirty and (re)starts the debounce. */
  setText(text: string): void {
    this.text = text;
    this.clearDebounce();
    if (!this.needsSave()) {
      if (!this.running) this.setStatus('saved');
      return;
    }
    if (!this.running) this.setStatus('dirty');
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      void this.kick();
    }, this.opts.debounceMs ?? 250);
  }

  /** Saves now (blur, lead switch, window close). Resolves when nothing is left in flight. */
  flush(): Promise<void> {
    this.clearDebounce();
    this.clearRetry();
    return this.kick();
  }

  /** Flushes, then forgets this saver once everything is saved (failed savers keep retrying). */
  retire(): Promise<void> {
    this.retired = true;
    return this.flush().then(() => this.maybeForget());
  }

  /** Takes a retired saver back into use (its note was reopened before it finished draining). */
  adopt(): void {
    this.retired = false;
    live.add(this as unknown as Autosaver<{ id: string }>);
  }

  private needsSave(): boolean {
    if (this.text === this.savedText) return false;
    return !(this.noteId === null && this.text.trim() === '');
  }

  private kick(): Promise<void> {
    if (this.running) return this.running;
    if (!this.needsSave()) {
      this.setStatus('saved');
      this.maybeForget();
      return Promise.resolve();
    }
    this.running = this.loop().finally(() => {
      this.running = null;
      this.maybeForget();
    });
    return this.running;
  }

  /** One save at a time; if the text changed during a save, save again right after. */
  private async loop(): Promise<void> {
    while (this.needsSave()) {
      const text = this.text;
      this.setStatus('saving');
      try {
        const created = this.noteId === null;
        const note = created
          ? await this.opts.create(text)
          : await this.opts.update(this.noteId as string, text);
        if (created) this.noteId = note.id;
        this.savedText = text;
        this.retries = 0;
        this.opts.onSaved?.(note, created);
      } catch (err) {
        this.setStatus('failed', errorMessage(err));
        this.scheduleRetry();
        return;
      }
    }
    this.setStatus(this.debounceTimer ? 'dirty' : 'saved');
  }

  private scheduleRetry(): void {
    const delays = this.opts.retryDelaysMs ?? [1000, 2000, 5000, 10000, 10000];
    if (this.retries >= delays.length) return;
    const delay = delays[this.retries++];
    this.clearRetry();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.kick();
    }, delay);
  }

  private maybeForget(): void {
    if (this.retired && !this.running && !this.needsSave() && !this.debounceTimer) {
      this.clearRetry();
      live.delete(this as unknown as Autosaver<{ id: string }>);
    }
  }

  private setStatus(state: SaveState, error: string | null = null): void {
    if (this.current.state === state && this.current.error === error) return;
    this.current = { state, error };
    this.opts.onStatus?.(this.current);
  }

  private clearDebounce(): void {
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = null;
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
