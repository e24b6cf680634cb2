// Display formatting: money from cents, call durations, dates, status colours, initials.
import type { Opportunity } from './api';

const moneyCache = new Map<string, Intl.NumberFormat>();

/** `123456` cents → "$1,234.56"; whole amounts drop the cents ("$5,000"). */
export function formatMoney(cents: number, currency = 'USD'): string {
  const whole = cents % 100 === 0;
  const key = `${currency}:${whole}`;
  let nf = moneyCache.get(key);
  if (!nf) {
    nf = new Intl.NumberFormat('en-US', {
      style: 'currency',
      currency,
      minimumFractionDigits: whole ? 0 : 2,
      maximumFractionDigits: whole ? 0 : 2,
    });
    moneyCache.set(key, nf);
  }
  return nf.format(cents / 100);
}

export function periodLabel(p: Opportunity['value_period']): string {
  return p === 'monthly' ? 'monthly' : p === 'annual' ? 'annual' : 'one-time';
}

/** Seconds → "mm:ss" (minutes keep counting past 59: 3725 → "62:05"). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds || 0));
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
});
const dateFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

/** RFC 3339 → local "Mar 4, 2024, 3:05 PM"; unparsable input is returned as is. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : timeFmt.format(d);
}

/** "YYYY-MM-DD" (a calendar day, no time zone) → "Mar 4, 2024". */
export function formatDay(day: string | null | undefined): string {
  if (!day) return '';
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return day;
  return dateFmt.format(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
}

/** Today's local calendar day as "YYYY-MM-DD". */
export function todayISO(now: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${p(now.getMonth() + 1)}-${p(now.getDate())}`;
}

export function isOverdue(day: string | null, now: Date = new Date()): boolean {
  return !!day && day < todayISO(now);
}

/** Compact "how long ago": "just now", "5m", "3h", "2d", else the date. */
export function timeAgo(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)}d ago`;
  return dateFmt.format(new Date(t));
}

const KNOWN_STATUS: Record<string, string> = {
  potential: 'blue',
  qualified: 'violet',
  customer: 'green',
  'bad fit': 'red',
  cold: 'gray',
  won: 'green',
  lost: 'red',
  active: 'blue',
};
const PALETTE = ['blue', 'violet', 'green', 'amber', 'teal', 'pink', 'gray'];

/** Colour name for a status pill; unknown labels get a stable colour from a hash. */
export function statusColor(label: string | null | undefined): string {
  const key = (label ?? '').trim().toLowerCase().replace(/_/g, ' ');
  if (KNOWN_STATUS[key]) return KNOWN_STATUS[key];
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

/** Display text for a URL without the scheme: "https://acme.com/" → "acme.com". */
export function shortUrl(url: string): string {
  return url.replace(/^[a-z]+:\/\//i, '').replace(/\/$/, '');
}

let tempCounter = 0;
/** Client-side id for optimistic records until the server answers. */
export function tempId(): string {
  return `tmp-${Date.now().toString(36)}-${(tempCounter++).toString(36)}`;
}

export function isTempId(id: string): boolean {
  return id.startsWith('tmp-');
}
