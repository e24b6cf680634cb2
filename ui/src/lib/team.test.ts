// Tests for the team status, presence and bootstrap lines.
import { describe, expect, it } from 'vitest';
import type { SyncInfo } from './api';
import { bootstrapLine, normalizeServerUrl, overrideLine, presenceLine, statusLine } from './team';

const joined = (pending: number): SyncInfo => ({
  joined: {
    state: {
      server_url: 'http://127.0.0.1:7700',
      org_id: 'o',
      org_name: 'Acme',
      user_id: 'me',
      role: 'member',
      client_id: 'c',
      device_name: 'd',
      bootstrap: 'done',
      server_seq: 1,
      acked_seq: 1,
      last_success_at: null,
      last_error_code: null,
      last_error: null,
      joined_at: '2026-12-02T10:00:00Z',
    },
    pending,
    conflicts: 0,
  },
  live: null,
  presence: [],
});

describe('team', () => {
  it('says whether the store is signed in, synced, waiting, offline or stopped', () => {
    expect(statusLine({ joined: null, live: null, presence: [] }, null)).toEqual({ text: 'Not signed in to a team', tone: 'off' });
    expect(statusLine(joined(0), { state: 'synced' })).toEqual({ text: 'Synced', tone: 'ok' });
    expect(statusLine(joined(3), { state: 'synced' }).text).toBe('3 changes waiting');
    const since = new Date(2026, 11, 2, 9, 5).getTime();
    expect(statusLine(joined(1), { state: 'offline', since_ms: since, retry_ms: 0, reason: 'refused' })).toEqual({
      text: 'Offline since 09:05 · 1 change waiting',
      tone: 'warn',
    });
    expect(statusLine(joined(0), { state: 'stopped', code: 'revoked', message: 'this device was signed out' }).text).toBe(
      'Sync stopped: this device was signed out',
    );
  });
  it('names coworkers on this lead, not me and not other leads', () => {
    const e = (user_id: string, display_name: string, lead_id: string) => ({ user_id, display_name, client_id: user_id, lead_id });
    const entries = [e('me', 'Me', 'L1'), e('ann', 'Ann', 'L1'), e('joe', 'Joe', 'L2')];
    expect(presenceLine(entries, 'L1', 'me')).toBe('Ann has this lead open');
    expect(presenceLine(entries, 'L3', 'me')).toBeNull();
    expect(presenceLine([...entries, e('joe', 'Joe', 'L1'), e('ann', 'Ann', 'L1')], 'L1', 'me')).toBe('Ann and Joe have this lead open');
  });
  it('shows bootstrap progress against the estimate', () => {
    expect(bootstrapLine({ done: 12345, estimated: 40000, per_second: 5200.4 })).toEqual({
      text: '12,345 of ~40,000 records · 5,200/s',
      fraction: 12345 / 40000,
    });
    expect(bootstrapLine({ done: 10, estimated: 0, per_second: 0 }).fraction).toBe(0);
    expect(bootstrapLine({ done: 50, estimated: 40, per_second: 1 }).fraction).toBe(1);
  });
  it('normalizes a typed server address', () => {
    expect(normalizeServerUrl(' sync.acme.com/ ')).toBe('https://sync.acme.com');
    expect(normalizeServerUrl('http://127.0.0.1:7700')).toBe('http://127.0.0.1:7700');
    expect(normalizeServerUrl('  ')).toBe('');
  });
  it('says which of my changes a newer one replaced', () => {
    expect(overrideLine({ entity: 'lead', field: 'status_label', mine: '"Qualified"', theirs: '"Customer"', by_name: 'joe' })).toBe(
      'Your status “Qualified” was replaced by joe’s newer “Customer”',
    );
    expect(overrideLine({ entity: 'contact', field: 'title', mine: null, theirs: '"CTO"', by_name: null })).toBe(
      'Your contact title empty was replaced by a newer “CTO”',
    );
  });
});
