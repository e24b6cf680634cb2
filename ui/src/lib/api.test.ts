// Tests for api.ts: command names and camelCase argument keys, and error normalization to ApiError.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const invoke = vi.fn();
vi.mock('@tauri-apps/api/core', () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock('@tauri-apps/api/event', () => ({ listen: vi.fn() }));
vi.mock('@tauri-apps/api/window', () => ({ getCurrentWindow: vi.fn() }));

const api = await import('./api');

beforeEach(() => {
  invoke.mockReset();
});

describe('api commands', () => {
  it('sends the contract command names and argument keys', async () => {
    invoke.mockResolvedValue({});
    await api.appInfo();
    await api.listLeads(200, 200);
    await api.leadPage('L1');
    await api.timeline('L1', 'C1');
    await api.listStatuses();
    await api.createLead({ name: 'Acme' });
    await api.updateLead('L1', { status_label: 'Qualified' });
    await api.addContact('L1', { name: 'Ann', emails: [{ email: 'a@b.c', type: 'office' }], phones: [] });
    await api.addTask('L1', { text: 'Call back', date: '2024-01-02' });
    await api.setTaskDone('T1', true);
    await api.createNote('L1', { note: 'hi' });
    await api.updateNote('N1', { note: 'hi!' });
    await api.loadDemo(1000);
    expect(invoke.mock.calls).toEqual([
      ['app_info', undefined],
      ['list_leads', { offset: 200, limit: 200 }],
      ['lead_page', { id: 'L1' }],
      ['timeline', { leadId: 'L1', before: 'C1' }],
      ['list_statuses', undefined],
      ['create_lead', { input: { name: 'Acme' } }],
      ['update_lead', { id: 'L1', patch: { status_label: 'Qualified' } }],
      ['add_contact', { leadId: 'L1', input: { name: 'Ann', emails: [{ email: 'a@b.c', type: 'office' }], phones: [] } }],
      ['add_task', { leadId: 'L1', input: { text: 'Call back', date: '2024-01-02' } }],
      ['set_task_done', { id: 'T1', done: true }],
      ['create_note', { leadId: 'L1', input: { note: 'hi' } }],
      ['update_note', { id: 'N1', patch: { note: 'hi!' } }],
      ['load_demo', { leads: 1000 }],
    ]);
  });

  it('wraps contract errors in ApiError', async () => {
    invoke.mockRejectedValue({ code: 'validation', message: 'invalid email', field: 'emails[0].email' });
    const err = await api.addContact('L1', { name: 'x', emails: [], phones: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect([err.code, err.message, err.field]).toEqual(['validation', 'invalid email', 'emails[0].email']);
  });

  it('wraps plain string and Error rejections too', async () => {
    invoke.mockRejectedValue('command lead_page not found');
    const err = await api.leadPage('x').catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect([err.code, err.message]).toEqual(['internal', 'command lead_page not found']);
    const boom = api.ApiError.from(new Error('boom'));
    expect([boom.code, boom.message, boom.field]).toEqual(['internal', 'boom', null]);
    expect(api.errorMessage({ code: 'not_found', message: 'no such lead', field: null })).toBe('no such lead');
  });

  it('sends the search commands and keeps a bad query\'s span and hint', async () => {
    invoke.mockResolvedValue({});
    await api.searchLeads('status:customer', 0, 200);
    await api.queryFields();
    await api.viewCounts();
    await api.addView('Hot', 'status:hot');
    await api.deleteView('Hot');
    expect(invoke.mock.calls).toEqual([
      ['search', { query: 'status:customer', offset: 0, limit: 200 }],
      ['query_fields', undefined],
      ['view_counts', undefined],
      ['add_view', { name: 'Hot', query: 'status:hot' }],
      ['delete_view', { name: 'Hot' }],
    ]);
    invoke.mockRejectedValue({ code: 'bad_query', message: 'unknown field', field: 'query', span: [0, 10], hint: 'did you mean `last_called`?' });
    const err = await api.searchLeads('last_caled:x', 0, 1).catch((e) => e);
    expect([err.code, err.span, err.hint]).toEqual(['bad_query', [0, 10], 'did you mean `last_called`?']);
  });
});
