// Team sync as words: the sidebar's status line and the lead page's presence line, from the sync commands' JSON.
import type { BootstrapProgress, LiveStatus, PresenceEntry, SyncInfo } from './api';

export type Tone = 'ok' | 'busy' | 'warn' | 'bad' | 'off';

function clock(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** The status line: not signed in, synced, n changes waiting, offline since HH:MM, or the reason it stopped. */
export function statusLine(info: SyncInfo | null, live: LiveStatus | null): { text: string; tone: Tone } {
  if (!info?.joined) return { text: 'Not signed in to a team', tone: 'off' };
  const pending = info.joined.pending;
  const waiting = pending > 0 ? ` · ${pending} ${pending === 1 ? 'change' : 'changes'} waiting` : '';
  switch (live?.state) {
    case 'offline':
      return { text: `Offline since ${clock(live.since_ms)}${waiting}`, tone: 'warn' };
    case 'stopped':
      return { text: `Sync stopped: ${live.message}`, tone: 'bad' };
    case 'error':
      return { text: `Sync error: ${live.message}`, tone: 'bad' };
    case 'syncing':
      return { text: `Syncing…${waiting}`, tone: 'busy' };
    case 'synced':
      return pending > 0 ? { text: `${pending} ${pending === 1 ? 'change' : 'changes'} waiting`, tone: 'busy' } : { text: 'Synced', tone: 'ok' };
    default:
      return { text: `Connecting…${waiting}`, tone: 'busy' };
  }
}

/** "Ann has this lead open" / "Ann and Joe have this lead open": coworkers on `leadId`, never me. */
export function presenceLine(entries: PresenceEntry[], leadId: string, myUserId: string | null): string | null {
  const names = [...new Set(entries.filter((e) => e.lead_id === leadId && e.user_id !== myUserId).map((e) => e.display_name))];
  if (names.length === 0) return null;
  const who = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return `${who} ${names.length === 1 ? 'has' : 'have'} this lead open`;
}

/** "12,345 of ~40,000 records · 5,200/s": the first sync's progress (the estimate is the server's). */
export function bootstrapLine(p: BootstrapProgress): { text: string; fraction: number } {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const fraction = p.estimated > 0 ? Math.min(1, p.done / p.estimated) : 0;
  const of = p.estimated > 0 ? ` of ~${n(p.estimated)}` : '';
  return { text: `${n(p.done)}${of} records · ${n(p.per_second)}/s`, fraction };
}

/** A server address as typed: trimmed, `https://` added when no scheme was given. */
export function normalizeServerUrl(s: string): string {
  const t = s.trim().replace(/\/+$/, '');
  if (!t) return '';
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(t) ? t : `https://${t}`;
}

/** A JSON-text value as a short phrase: strings unquoted, nothing as "empty". */
function shown(v: string | null): string {
  if (v === null || v === 'null' || v === '""') return 'empty';
  try {
    const x: unknown = JSON.parse(v);
    const s = typeof x === 'string' ? x : JSON.stringify(x);
    return s.length > 40 ? `“${s.slice(0, 39)}…”` : `“${s}”`;
  } catch {
    return `“${v}”`;
  }
}

/** "Your status “Qualified” was replaced by joe’s newer “Customer”". */
export function overrideLine(o: { entity: string; field: string; mine: string | null; theirs: string | null; by_name: string | null }): string {
  const field = o.field.replace(/_/g, ' ').replace(/^status label$/, 'status');
  const what = o.entity === 'lead' ? field : `${o.entity} ${field}`;
  const who = o.by_name ? `${o.by_name}’s` : 'a';
  return `Your ${what} ${shown(o.mine)} was replaced by ${who} newer ${shown(o.theirs)}`;
}
