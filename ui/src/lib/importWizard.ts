// Pure helpers for the CSV import wizard: the choices of each column's mapping drop-down, progress as a percentage.
import type { CsvProgress } from './api';

/** Every fixed place a column can go (custom fields are added per column). */
export const FIXED_TARGETS = [
  'skip',
  'lead.name',
  'lead.description',
  'lead.url',
  'lead.status',
  'lead.owner',
  'lead.created',
  'lead.note',
  'address.street',
  'address.street2',
  'address.city',
  'address.state',
  'address.zip',
  'address.country',
  'contact.name',
  'contact.first_name',
  'contact.last_name',
  'contact.title',
  'contact.url',
  'contact.email.office',
  'contact.email.home',
  'contact.email.other',
  'contact.phone.office',
  'contact.phone.mobile',
  'contact.phone.home',
  'contact.phone.fax',
  'contact.phone.other',
];

/** The drop-down choices for one column: the fixed targets, a custom field named after it, and the suggestion. */
export function targetChoices(header: string, suggested: string | undefined): string[] {
  const out = [...FIXED_TARGETS, `lead.custom.${header.trim()}`, `contact.custom.${header.trim()}`];
  if (suggested && !out.includes(suggested)) out.push(suggested);
  return out;
}

/** 0–100: rows when the total is known, else bytes. */
export function progressPercent(p: CsvProgress | null): number {
  if (!p) return 0;
  if (p.phase === 'done') return 100;
  const frac = p.rows_total > 0 ? p.rows_done / p.rows_total : p.bytes_total > 0 ? p.bytes_done / p.bytes_total : 0;
  return Math.max(0, Math.min(100, Math.round(frac * 100)));
}
