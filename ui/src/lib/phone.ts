// Softphone display logic (pure): call-state labels, the call timer, registration text, which controls apply.
import type { CallStateName, CallView, PhoneSnapshot, RegistrationView } from './api';
import { formatDuration } from './format';

const LABELS: Record<CallStateName, string> = {
  dialing: 'Dialing',
  ringing: 'Ringing',
  early_media: 'Ringing',
  connected: 'Connected',
  on_hold: 'On hold',
  held_by_remote: 'Held by remote',
  ended: 'Ended',
};

/** "Connected", "Incoming call", "Ended · busy"… */
export function callStateLabel(call: CallView): string {
  if (call.state === 'ringing' && call.direction === 'inbound') return 'Incoming call';
  if (call.state === 'ended') return call.end_reason ? `Ended · ${call.end_reason}` : 'Ended';
  return LABELS[call.state] ?? call.state;
}

/** Seconds on the call timer at `nowMs`: counts from the answer; frozen at the logged duration once ended. */
export function callSeconds(call: CallView, nowMs: number): number {
  if (call.state === 'ended') return call.duration ?? 0;
  if (!call.connected_at) return 0;
  const t = Date.parse(call.connected_at);
  return Number.isNaN(t) ? 0 : Math.max(0, Math.floor((nowMs - t) / 1000));
}

export function callTimer(call: CallView, nowMs: number): string {
  return formatDuration(callSeconds(call, nowMs));
}

/** Who is on the line: contact, then lead, then the number. */
export function callTitle(call: CallView): string {
  return call.contact_name ?? call.lead_name ?? call.number_display ?? call.number;
}

export function isLive(call: CallView | null): boolean {
  return call !== null && call.state !== 'ended';
}

export function isIncomingRinging(call: CallView | null): boolean {
  return call !== null && call.direction === 'inbound' && call.state === 'ringing';
}

/** Mute, hold and the keypad apply once the call is answered. */
export function isEstablished(call: CallView | null): boolean {
  return call !== null && (call.state === 'connected' || call.state === 'on_hold' || call.state === 'held_by_remote');
}

export type RegistrationText = { tone: 'ok' | 'warn' | 'bad' | 'off'; text: string; title: string };

export function registrationText(r: RegistrationView): RegistrationText {
  const account = r.account ?? '';
  switch (r.state) {
    case 'registered':
      return { tone: 'ok', text: 'Phone registered', title: account };
    case 'registering':
      return { tone: 'warn', text: 'Registering…', title: account };
    case 'none':
      return { tone: 'ok', text: 'Phone ready', title: 'No SIP account: direct calls only' };
    case 'failed':
      return { tone: 'bad', text: `Registration failed: ${r.reason ?? 'unknown error'}`, title: account };
    case 'unregistered':
      return { tone: 'off', text: 'Phone unregistered', title: account };
    default:
      return { tone: 'off', text: 'Phone off', title: r.reason ?? '' };
  }
}

export const KEYPAD = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'] as const;

/** Whether `next` should replace `current`: command replies can arrive after later events. */
export function supersedes(current: PhoneSnapshot | null, next: PhoneSnapshot): boolean {
  return current === null || next.seq >= current.seq;
}
