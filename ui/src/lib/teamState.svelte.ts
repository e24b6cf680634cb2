// The team as the UI sees it: sync info (from `sync_info`), the live status, bootstrap progress and presence (from `sync-event`).
import * as api from './api';
import type { BootstrapProgress, LiveStatus, PresenceEntry, SyncInfo } from './api';

export const team: {
  info: SyncInfo | null;
  live: LiveStatus | null;
  bootstrap: BootstrapProgress | null;
  presence: PresenceEntry[];
} = $state({ info: null, live: null, bootstrap: null, presence: [] });

/** Re-reads the membership and pending count (after sign-in, sign-out, or any store change). */
export async function refreshTeam(): Promise<void> {
  try {
    const info = await api.syncInfo();
    team.info = info;
    if (info.live) team.live = info.live;
    if (!info.joined) {
      team.live = null;
      team.bootstrap = null;
    }
    team.presence = info.presence;
  } catch (e) {
    console.warn('sync info unavailable', e);
  }
}

/** Follows `sync-event`; resolves to an unsubscribe function. */
export async function followTeam(): Promise<api.Unsubscribe> {
  const un = await api.onSyncEvent((e) => {
    if (e.status) {
      team.live = e.status;
      if (e.status.state === 'synced') team.bootstrap = null;
      void refreshTeam();
    }
    if (e.bootstrap) team.bootstrap = e.bootstrap;
    if (e.presence) team.presence = e.presence;
  });
  await refreshTeam();
  return un;
}

/** Says which lead this window shows, once per change. */
let told: string | null | undefined;
export function showingLead(leadId: string | null): void {
  if (told === leadId) return;
  told = leadId;
  api.syncPresence(leadId).catch((e) => console.warn('presence not sent', e));
}
