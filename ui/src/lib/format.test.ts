// Tests for display formatting helpers (money, durations, days, status colours).
import { describe, expect, it } from 'vitest';
import { formatDay, formatDuration, formatMoney, isOverdue, isTempId, shortUrl, statusColor, tempId, timeAgo, todayISO } from './format';

describe('format', () => {
  it('formats cents as currency', () => {
    expect(formatMoney(500000)).toBe('$5,000');
    expect(formatMoney(123456)).toBe('$1,234.56');
    expect(formatMoney(0)).toBe('$0');
  });
  it('formats call durations as mm:ss', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(65)).toBe('01:05');
    expect(formatDuration(3725)).toBe('62:05');
  });
  it('formats calendar days without shifting time zones', () => {
    expect(formatDay('2024-03-04')).toContain('2024');
    expect(formatDay('2024-03-04')).toMatch(/4/);
    expect(formatDay(null)).toBe('');
  });
  it('knows overdue days', () => {
    const now = new Date(2024, 2, 10, 12);
    expect(todayISO(now)).toBe('2024-03-10');
    expect(isOverdue('2024-03-09', now)).toBe(true);
    expect(isOverdue('2024-03-10', now)).toBe(false);
    expect(isOverdue(null, now)).toBe(false);
  });
  it('says how long ago', () => {
    const now = Date.parse('2024-03-10T12:00:00Z');
    expect(timeAgo('2024-03-10T11:59:30Z', now)).toBe('just now');
    expect(timeAgo('2024-03-10T11:55:00Z', now)).toBe('5m ago');
    expect(timeAgo('2024-03-10T09:00:00Z', now)).toBe('3h ago');
    expect(timeAgo('2024-03-08T12:00:00Z', now)).toBe('2d ago');
  });
  it('gives known statuses fixed colours and others a stable one', () => {
    expect(statusColor('Customer')).toBe('green');
    expect(statusColor('bad_fit')).toBe('red');
    expect(statusColor('Custom thing')).toBe(statusColor('custom thing'));
  });
  it('shortens urls and makes temp ids', () => {
    expect(shortUrl('https://acme.com/')).toBe('acme.com');
    expect(isTempId(tempId())).toBe(true);
    expect(isTempId('01HZX')).toBe(false);
  });
});
