// The only bridge to the Rust core: typed wrappers over Tauri `invoke`/`listen` and the contract's types.
import { invoke } from '@tauri-apps/api/core';
import { listen } from '@tauri-apps/api/event';
import { getCurrentWindow } from '@tauri-apps/api/window';

// ---------- Contract types (JSON shapes returned by the Rust commands) ----------

export type Address = {
  label: string | null;
  address_1: string | null;
  address_2: string | null;
  city: string | null;
  state: string | null;
  zipcode: string | null;
  country: string | null;
};

export type Lead = {
  id: string;
  name: string;
  description: string | null;
  url: string | null;
  status_label: string;
  owner_id: string | null;
  owner_name: string | null;
  addresses: Address[];
  custom: Record<string, unknown>;
  date_created: string;
  date_updated: string;
};

export type LeadSummary = {
  id: string;
  name: string;
  status_label: string;
  primary_contact: string | null;
  city: string | null;
  contacts: number;
  last_activity: string | null;
  date_updated: string;
};

export type Email = { email: string; type: string };
export type Phone = { phone: string; phone_formatted: string; type: string };

export type Contact = {
  id: string;
  lead_id: string;
  name: string;
  title: string | null;
  emails: Email[];
  phones: Phone[];
  urls: { url: string; type: string }[];
  custom: Record<string, unknown>;
  date_created: string;
  date_updated: string;
};

export type ActivityBase = {
  id: string;
  lead_id: string;
  contact_id: string | null;
  user_id: string | null;
  user_name: string | null;
  activity_at: string;
  date_created: string;
  date_updated: string;
};

export type Note = ActivityBase & {
  _type: 'note';
  title: string | null;
  note: string;
  note_html: string;
  pinned: boolean;
};
export type Call = ActivityBase & {
  _type: 'call';
  direction: 'inbound' | 'outbound';
  status: string;
  disposition: string;
  remote_phone: string | null;
  local_phone: string | null;
  duration: number;
  note: string | null;
};
export type EmailAct = ActivityBase & {
  _type: 'email';
  direction: 'inbound' | 'outbound';
  subject: string;
  body_text: string;
  sender: string | null;
  to: string[];
  opens: string[];
};
export type Meeting = ActivityBase & {
  _type: 'meeting';
  title: string;
  starts_at: string;
  ends_at: string | null;
  note: string | null;
};
export type Link = ActivityBase & { _type: 'link'; title: string | null; url: string };
export type StatusChange = ActivityBase & {
  _type: 'status_change';
  old_status_label: string | null;
  new_status_label: string;
};
export type Activity = Note | Call | EmailAct | Meeting | Link | StatusChange;

export type Task = {
  id: string;
  lead_id: string;
  assigned_to: string | null;
  text: string;
  /** YYYY-MM-DD */
  date: string | null;
  is_complete: boolean;
  date_created: string;
  date_updated: string;
};

export type Opportunity = {
  id: string;
  lead_id: string;
  contact_id: string | null;
  status_label: string;
  status_type: 'active' | 'won' | 'lost';
  /** cents */
  value: number;
  value_period: 'one_time' | 'monthly' | 'annual';
  confidence: number | null;
  user_id: string | null;
  date_won: string | null;
  note: string | null;
  date_created: string;
  date_updated: string;
};

export type LeadPage = {
  lead: Lead;
  contacts: Contact[];
  /** open tasks only */
  tasks: Task[];
  opportunities: Opportunity[];
  /** newest first */
  timeline: Activity[];
  next_cursor: string | null;
  /** a coworker's call, email or meeting within the recent-touch window */
  recent_touch: RecentTouch | null;
  /** unresolved note conflicts on this lead's notes */
  conflicts: NoteConflict[];
  /** this store's values a coworker's newer change replaced, newest first */
  overrides: Override[];
};

/** A note text that lost a concurrent edit; the note's body is the other text. */
export type NoteConflict = {
  id: string;
  lead_id: string;
  note_id: string;
  body: string;
  user_id: string | null;
  user_name: string | null;
  resolved: boolean;
  date_created: string;
};

/** A field this store wrote that a coworker's newer change replaced (values as JSON text). */
export type Override = {
  entity: string;
  record_id: string;
  field: string;
  mine: string | null;
  theirs: string | null;
  by_user: string | null;
  by_name: string | null;
  at: string;
};

/** "Joe called 12 min ago — answered, 3 min": shown on the lead page, confirmed before dialling. */
export type RecentTouch = {
  activity_id: string;
  user_name: string;
  kind: 'call' | 'email' | 'meeting';
  at: string;
  minutes_ago: number;
  summary: string;
};

export type Status = { id: string; label: string };

export type AppInfo = {
  db_path: string;
  user: { id: string; name: string; email: string | null };
  lead_count: number;
  default_region: string;
  recent_touch_minutes: number;
};

// ---------- Team sync ----------

/** The store's membership in a team server (`rapport_store::SyncState`). */
export type SyncJoin = {
  server_url: string;
  org_id: string;
  org_name: string;
  user_id: string;
  role: string;
  client_id: string;
  device_name: string;
  bootstrap: string;
  server_seq: number;
  acked_seq: number;
  last_success_at: string | null;
  last_error_code: string | null;
  last_error: string | null;
  joined_at: string;
};

/** The protocol's status line (`rapport_sync::client::Status`). */
export type LiveStatus =
  | { state: 'synced' }
  | { state: 'syncing' }
  | { state: 'offline'; since_ms: number; retry_ms: number; reason: string }
  | { state: 'stopped'; code: string; message: string }
  | { state: 'error'; code: string; message: string; retry_ms: number };

export type PresenceEntry = { user_id: string; display_name: string; client_id: string; lead_id: string };

export type SyncInfo = {
  /** null: this store is not signed in */
  joined: { state: SyncJoin; pending: number; conflicts: number } | null;
  live: LiveStatus | null;
  presence: PresenceEntry[];
};

export type BootstrapProgress = { done: number; estimated: number; per_second: number };

export type SyncEvent = { status?: LiveStatus; bootstrap?: BootstrapProgress; presence?: PresenceEntry[] };

export type SignIn = { serverUrl: string; org: string; email?: string; password?: string; token?: string };

export type SettingsInput = { region?: string; recentTouchMinutes?: number };

export type LeadListPage = { total: number; rows: LeadSummary[] };
export type TimelinePage = { items: Activity[]; next_cursor: string | null };

export type NewLead = { name: string; status_label?: string; description?: string; url?: string };
export type LeadPatch = { name?: string; status_label?: string; description?: string; url?: string };
export type NewContact = {
  name: string;
  title?: string;
  emails: Email[];
  phones: { phone: string; type: string }[];
};
export type NewTask = { text: string; date?: string };
export type NewNote = { title?: string; note: string };
export type NotePatch = { title?: string; note?: string };

// ---------- Search ----------

/** A search result row: the list row plus the value of each applied sort key. */
export type SearchRow = LeadSummary & { sort_values: Record<string, unknown> };
export type SearchPage = { total: number; rows: SearchRow[]; sort: string[]; stale: boolean };
/** One field of the query language, for the syntax-help panel. */
export type FieldHelp = {
  /** `lead`, or the sub-query object (`call`, `contact`, …) */
  scope: string;
  name: string;
  aliases: string[];
  kind: string;
  examples: string;
  help: string;
};
export type SmartView = { id: string; name: string; query: string; shared: boolean };
/** A Smart View with its current count (`error` when its query no longer runs). */
export type ViewCount = { name: string; query: string; count: number | null; error: string | null };

// ---------- CSV import ----------

/** The import's column mapping: header → target (`lead.name`, `contact.phone.mobile`, `skip`…). */
export type CsvMapping = {
  version: number;
  columns: Record<string, string>;
  unknown_columns: 'custom' | 'skip';
  custom_types: Record<string, string>;
  day_first: boolean;
  match: MatchKey[];
  create_statuses: boolean;
};
export type MatchKey = 'domain' | 'email' | 'phone' | 'name';
export type CsvPreview = {
  encoding: string;
  delimiter: string;
  headers: string[];
  rows: string[][];
  mapping: CsvMapping;
  size_bytes: number;
};
export type CsvProgress = {
  phase: 'scanning' | 'matching' | 'importing' | 'done';
  rows_done: number;
  rows_total: number;
  bytes_done: number;
  bytes_total: number;
  rows_per_sec: number;
  eta_secs: number | null;
  leads_created: number;
  leads_updated: number;
  errors: number;
};
export type ImportSummary = {
  cancelled: boolean;
  rows_total: number;
  rows_done: number;
  rows_imported: number;
  rows_failed: number;
  leads_created: number;
  leads_updated: number;
  leads_unchanged: number;
  contacts_created: number;
  problems: { line: number; column: string | null; reason: string }[];
  errors_file: string | null;
  seconds: number;
};

// ---------- Softphone ----------

export type RegistrationState = 'off' | 'none' | 'registering' | 'registered' | 'failed' | 'unregistered';
export type RegistrationView = {
  state: RegistrationState;
  account: string | null;
  reason: string | null;
  config_path: string | null;
};
export type CallStateName =
  | 'dialing'
  | 'ringing'
  | 'early_media'
  | 'connected'
  | 'on_hold'
  | 'held_by_remote'
  | 'ended';
export type CallView = {
  /** the Call activity logging this call (null: a caller matched to no lead) */
  activity_id: string | null;
  lead_id: string | null;
  lead_name: string | null;
  contact_id: string | null;
  contact_name: string | null;
  direction: 'inbound' | 'outbound';
  number: string;
  number_display: string;
  state: CallStateName;
  end_reason: string | null;
  started_at: string;
  /** when it was answered: the timer counts from here */
  connected_at: string | null;
  /** seconds talked, once ended */
  duration: number | null;
  status: string | null;
  disposition: string | null;
  muted: boolean;
};
export type PhoneSnapshot = {
  /** grows with every change: keep the highest (a command's reply may arrive after later events) */
  seq: number;
  registration: RegistrationView;
  call: CallView | null;
  notice: string | null;
};
export type CallPatch = { note?: string; status?: string; disposition?: string; duration?: number };

// ---------- Errors ----------

/** Every failed command surfaces as an ApiError; the UI branches on `code` and shows `message`. */
export class ApiError extends Error {
  readonly code: string;
  readonly field: string | null;
  /** `bad_query`: the UTF-8 byte range of the query to underline */
  readonly span: [number, number] | null;
  /** `bad_query`: how to fix it */
  readonly hint: string | null;

  constructor(
    code: string,
    message: string,
    field: string | null = null,
    span: [number, number] | null = null,
    hint: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.field = field;
    this.span = span;
    this.hint = hint;
  }

  /** Normalizes whatever `invoke` rejected with (contract object, string, Error) into an ApiError. */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
      const e = err as { code: unknown; message: unknown; field?: unknown; span?: unknown; hint?: unknown };
      const span =
        Array.isArray(e.span) && e.span.length === 2 && e.span.every((n) => typeof n === 'number')
          ? ([e.span[0], e.span[1]] as [number, number])
          : null;
      return new ApiError(
        String(e.code),
        String(e.message),
        typeof e.field === 'string' ? e.field : null,
        span,
        typeof e.hint === 'string' ? e.hint : null,
      );
    }
    if (typeof err === 'string') return new ApiError('internal', err);
    if (err instanceof Error) return new ApiError('internal', err.message);
    return new ApiError('internal', 'Unknown error');
  }
}

/** Message text of any error, for toasts and inline messages. */
export function errorMessage(err: unknown): string {
  return ApiError.from(err).message;
}

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (err) {
    throw ApiError.from(err);
  }
}

// ---------- Commands ----------

export const appInfo = () => call<AppInfo>('app_info');

export const listLeads = (offset: number, limit: number) =>
  call<LeadListPage>('list_leads', { offset, limit });

export const leadPage = (id: string) => call<LeadPage>('lead_page', { id });

export const timeline = (leadId: string, before: string | null) =>
  call<TimelinePage>('timeline', { leadId, before });

export const listStatuses = () => call<Status[]>('list_statuses');

export const createLead = (input: NewLead) => call<Lead>('create_lead', { input });

export const updateLead = (id: string, patch: LeadPatch) => call<Lead>('update_lead', { id, patch });

export const addContact = (leadId: string, input: NewContact) =>
  call<Contact>('add_contact', { leadId, input });

export const addTask = (leadId: string, input: NewTask) => call<Task>('add_task', { leadId, input });

export const setTaskDone = (id: string, done: boolean) => call<Task>('set_task_done', { id, done });

export const createNote = (leadId: string, input: NewNote) =>
  call<Note>('create_note', { leadId, input });

export const updateNote = (id: string, patch: NotePatch) => call<Note>('update_note', { id, patch });

export const resolveNoteConflict = (conflictId: string, body: string) =>
  call<Note>('resolve_note_conflict', { conflictId, body });
export const loadDemo = (leads: number) => call<{ leads: number }>('load_demo', { leads });

/** One page of leads matching `query` (DESIGN §5); a bad query rejects with code `bad_query`, span and hint. */
export const searchLeads = (query: string, offset: number, limit: number) =>
  call<SearchPage>('search', { query, offset, limit });

export const queryFields = () => call<FieldHelp[]>('query_fields');

export const listViews = () => call<SmartView[]>('list_views');

export const viewCounts = () => call<ViewCount[]>('view_counts');

export const addView = (name: string, query: string) => call<SmartView>('add_view', { name, query });

export const deleteView = (name: string) => call<void>('delete_view', { name });

export const importDefaultPath = () => call<string>('import_default_path');

export const importPreview = (path: string) => call<CsvPreview>('import_preview', { path });

/** Runs the import (progress arrives as `import-progress`); resolves to the summary, also when cancelled. */
export const importRun = (path: string, mapping: CsvMapping, matchOn: MatchKey[], skipUnknown: boolean) =>
  call<ImportSummary>('import_run', { path, mapping, matchOn, skipUnknown });

export const importCancel = () => call<void>('import_cancel');

export const phoneStatus = () => call<PhoneSnapshot>('phone_status');

/** Calls a contact's number from a lead; refused (code `bad_input`) before dialling when invalid. */
export const phoneDial = (leadId: string, contactId: string | null, number: string) =>
  call<PhoneSnapshot>('phone_dial', { leadId, contactId, number });

export const phoneAnswer = () => call<void>('phone_answer');

export const phoneReject = (busy = false) => call<void>('phone_reject', { busy });

export const phoneHangup = () => call<void>('phone_hangup');

export const phoneHold = (hold: boolean) => call<void>('phone_hold', { hold });

export const phoneMute = (muted: boolean) => call<PhoneSnapshot>('phone_mute', { muted });

export const phoneDtmf = (digits: string) => call<void>('phone_dtmf', { digits });

export const phoneDismiss = () => call<PhoneSnapshot>('phone_dismiss');

/** Saves the SIP password in the OS keychain and re-registers. */
export const phoneSetPassword = (password: string) => call<PhoneSnapshot>('phone_set_password', { password });

export const updateCall = (id: string, patch: CallPatch) => call<Call>('update_call', { id, patch });

// ---------- Events ----------

export const syncInfo = () => call<SyncInfo>('sync_info');
export const syncLogin = (input: SignIn) => call<SyncInfo>('sync_login', { input });
export const syncNow = () => call<void>('sync_now');
/** Signs out; resolves to how many local changes the server never received. */
export const syncLogout = () => call<number>('sync_logout');
/** Tells coworkers which lead this window shows (null: none). */
export const syncPresence = (leadId: string | null) => call<void>('sync_presence', { leadId });
export const saveSettings = (input: SettingsInput) => call<AppInfo>('save_settings', { input });

export type Unsubscribe = () => void;

export async function onSyncEvent(cb: (e: SyncEvent) => void): Promise<Unsubscribe> {
  return listen<SyncEvent>('sync-event', (event) => cb(event.payload));
}

/** Subscribes to the core's `store-changed` event; resolves to an unsubscribe function. */
export async function onStoreChanged(cb: (seq: number) => void): Promise<Unsubscribe> {
  return listen<{ seq: number }>('store-changed', (event) => cb(event.payload?.seq ?? 0));
}

/** Subscribes to the CSV import's `import-progress` (after every chunk). */
export async function onImportProgress(cb: (p: CsvProgress) => void): Promise<Unsubscribe> {
  return listen<CsvProgress>('import-progress', (event) => cb(event.payload));
}

/** Subscribes to the softphone's `phone-event` (a full snapshot after every change). */
export async function onPhoneEvent(cb: (s: PhoneSnapshot) => void): Promise<Unsubscribe> {
  return listen<PhoneSnapshot>('phone-event', (event) => cb(event.payload));
}

/**
 * Runs `beforeClose` when the user closes the window, then lets the close continue
 * (the window is destroyed unless the handler throws; it is bounded by `timeoutMs`).
 */
export async function onCloseRequested(
  beforeClose: () => Promise<unknown>,
  timeoutMs = 3000,
): Promise<Unsubscribe> {
  return getCurrentWindow().onCloseRequested(async () => {
    await Promise.race([
      beforeClose().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, timeoutMs)),
    ]);
  });
}

/** True when running inside the Tauri webview (false in a plain browser). */
export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}
