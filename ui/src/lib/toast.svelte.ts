// Global toast messages: errors from optimistic actions that were rolled back, and short notices.
export type Toast = { id: number; kind: 'error' | 'info'; text: string };

let nextId = 1;
export const toasts: Toast[] = $state([]);

export function dismiss(id: number): void {
  const i = toasts.findIndex((t) => t.id === id);
  if (i >= 0) toasts.splice(i, 1);
}

function push(kind: Toast['kind'], text: string, ms: number): number {
  const id = nextId++;
  toasts.push({ id, kind, text });
  if (toasts.length > 4) toasts.splice(0, toasts.length - 4);
  setTimeout(() => dismiss(id), ms);
  return id;
}

export function showError(text: string, ms = 7000): number {
  return push('error', text, ms);
}

export function showInfo(text: string, ms = 3000): number {
  return push('info', text, ms);
}
