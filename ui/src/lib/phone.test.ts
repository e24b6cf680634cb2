// Tests for the softphone display logic: state labels, the call timer, registration text.
import { describe, expect, it } from 'vitest';
import type { CallView } from './api';
import { callSeconds, callStateLabel, callTimer, callTitle, isEstablished, isIncomingRinging, registrationText, supersedes } from './phone';

function call(patch: Partial<CallView> = {}): CallView {
  return {
    activity_id: 'a1',
    lead_id: 'l1',
    lead_name: 'Acme',
    contact_id: 'c1',
    contact_name: 'Ann Lee',
    direction: 'outbound',
    number: '+14155550123',
    number_display: '(415) 555-0123',
    state: 'dialing',
    end_reason: null,
    started_at: '2025-03-01T12:00:00.000Z',
    connected_at: null,
    duration: null,
    status: null,
    disposition: null,
    muted: false,
    ...patch,
  };
}

describe('call bar logic', () => {
  const t0 = Date.parse('2025-03-01T12:00:05.000Z');

  it('labels states, inbound ringing and the end reason', () => {
    expect(callStateLabel(call())).toBe('Dialing');
    expect(callStateLabel(call({ state: 'connected' }))).toBe('Connected');
    expect(callStateLabel(call({ state: 'early_media' }))).toBe('Ringing');
    expect(callStateLabel(call({ state: 'ringing', direction: 'inbound' }))).toBe('Incoming call');
    expect(callStateLabel(call({ state: 'ended', end_reason: 'busy' }))).toBe('Ended · busy');
  });

  it('times from the answer and freezes at the logged duration', () => {
    expect(callTimer(call(), t0)).toBe('00:00');
    const live = call({ state: 'connected', connected_at: '2025-03-01T12:00:05.000Z' });
    expect(callTimer(live, t0 + 1999)).toBe('00:01');
    expect(callTimer(live, t0 + 75_000)).toBe('01:15');
    expect(callSeconds(live, t0 - 5000)).toBe(0);
    expect(callTimer(call({ state: 'ended', connected_at: '2025-03-01T12:00:05.000Z', duration: 42 }), t0 + 999_000)).toBe('00:42');
    expect(callTimer(call({ state: 'connected', connected_at: 'garbage' }), t0)).toBe('00:00');
  });

  it('names the other party and knows which controls apply', () => {
    expect(callTitle(call())).toBe('Ann Lee');
    expect(callTitle(call({ contact_name: null, lead_name: null }))).toBe('(415) 555-0123');
    expect(isEstablished(call({ state: 'on_hold' }))).toBe(true);
    expect(isEstablished(call({ state: 'ringing' }))).toBe(false);
    expect(isIncomingRinging(call({ state: 'ringing', direction: 'inbound' }))).toBe(true);
    expect(isIncomingRinging(call({ state: 'ringing' }))).toBe(false);
  });

  it('describes registration with the failure reason', () => {
    const reg = { account: 'sip:alice@example.org', reason: null, config_path: null };
    expect(registrationText({ ...reg, state: 'registered' }).text).toBe('Phone registered');
    expect(registrationText({ ...reg, state: 'failed', reason: 'auth failed' })).toMatchObject({
      tone: 'bad',
      text: 'Registration failed: auth failed',
    });
    expect(registrationText({ ...reg, state: 'off', reason: 'No phone is set up' }).text).toBe('Phone off');
  });

  it('keeps the newest snapshot when a command reply arrives after later events', () => {
    const reg = { state: 'none' as const, account: null, reason: null, config_path: null };
    const snap = (seq: number, state: CallView['state']) => ({ seq, registration: reg, call: call({ state }), notice: null });
    expect(supersedes(null, snap(1, 'dialing'))).toBe(true);
    expect(supersedes(snap(4, 'connected'), snap(2, 'dialing'))).toBe(false);
    expect(supersedes(snap(4, 'connected'), snap(5, 'ended'))).toBe(true);
  });
});
