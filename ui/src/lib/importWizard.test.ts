// Tests for importWizard.ts: mapping choices per column, progress percentage.
import { describe, expect, it } from 'vitest';
import type { CsvProgress } from './api';
import { progressPercent, targetChoices } from './importWizard';

const p = (over: Partial<CsvProgress>): CsvProgress => ({
  phase: 'importing',
  rows_done: 0,
  rows_total: 0,
  bytes_done: 0,
  bytes_total: 0,
  rows_per_sec: 0,
  eta_secs: null,
  leads_created: 0,
  leads_updated: 0,
  errors: 0,
  ...over,
});

describe('targetChoices', () => {
  it('offers a custom field named after the column and keeps an unusual suggestion', () => {
    const c = targetChoices(' Lead Source ', 'contact.email.work');
    expect(c).toContain('lead.custom.Lead Source');
    expect(c).toContain('contact.email.work');
    expect(c[0]).toBe('skip');
    expect(targetChoices('x', 'lead.name').filter((t) => t === 'lead.name')).toHaveLength(1);
  });
});

describe('progressPercent', () => {
  it('uses rows, then bytes, and is 100 when done', () => {
    expect(progressPercent(null)).toBe(0);
    expect(progressPercent(p({ rows_done: 50, rows_total: 200 }))).toBe(25);
    expect(progressPercent(p({ bytes_done: 1, bytes_total: 3 }))).toBe(33);
    expect(progressPercent(p({ phase: 'done' }))).toBe(100);
    expect(progressPercent(p({ rows_done: 9, rows_total: 3 }))).toBe(100);
  });
});
