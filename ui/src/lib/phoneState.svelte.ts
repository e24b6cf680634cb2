// The softphone as the UI sees it: the latest snapshot (from `phone-event`) and the actions, with errors shown.
import * as api from './api';
import type { PhoneSnapshot } from './api';
import { supersedes } from './phone';
import { showError } from './toast.svelte';

export const phone: { snapshot: PhoneSnapshot | null; error: string | null } = $state({ snapshot: null, error: null });

/** Takes `s` unless a newer snapshot is already shown (events and replies race). */
export function setSnapshot(s: PhoneSnapshot): void {
  if (supersedes(phone.snapshot, s)) phone.snapshot = s;
}

/** Fetches the current snapshot and follows every change; resolves to an unsubscribe function. */
export async function followPhone(): Promise<api.Unsubscribe> {
  const un = await api.onPhoneEvent(setSnapshot);
  try {
    setSnapshot(await api.phoneStatus());
  } catch (e) {
    console.warn('phone status unavailable', e);
  }
  return un;
}

/** Runs a phone action; a refusal is shown in the call bar (and as a toast when there is no call bar). */
async function act<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  phone.error = null;
  try {
    return await f();
  } catch (e) {
    const msg = `${what}: ${api.errorMessage(e)}`;
    phone.error = msg;
    if (!phone.snapshot?.call) showError(msg);
    return undefined;
  }
}

export async function dial(leadId: string, contactId: string | null, number: string): Promise<void> {
  const s = await act('Could not call', () => api.phoneDial(leadId, contactId, number));
  if (s) setSnapshot(s);
}

export const answer = () => act('Could not answer', api.phoneAnswer);
export const reject = () => act('Could not reject', () => api.phoneReject(false));
export const hangup = () => act('Could not hang up', api.phoneHangup);
export const hold = (on: boolean) => act(on ? 'Could not hold' : 'Could not resume', () => api.phoneHold(on));
export const dtmf = (digits: string) => act('Could not send the digit', () => api.phoneDtmf(digits));

export async function mute(on: boolean): Promise<void> {
  const s = await act(on ? 'Could not mute' : 'Could not unmute', () => api.phoneMute(on));
  if (s) setSnapshot(s);
}

export async function dismiss(): Promise<void> {
  phone.error = null;
  const s = await act('Could not close the call bar', api.phoneDismiss);
  if (s) setSnapshot(s);
}

export async function setPassword(password: string): Promise<boolean> {
  const s = await act('Could not save the password', () => api.phoneSetPassword(password));
  if (s) setSnapshot(s);
  return s !== undefined;
}
