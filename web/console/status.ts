/**
 * Where a console connects, and how its ends are explained. A browser only
 * learns that a websocket failed (close code 1006), never the node's
 * answer, so when a console does not open the guest's screenshot is probed
 * for the reason: the same privilege (VM.Console), the same checks, and a
 * JSON error that says what is wrong.
 *
 *   probe 409 {"code":"conflict","message":"the guest is not running"} → { kind: 'not-running' }
 *   closeText(1008, 'access withdrawn')  → 'console.close.1008' (the key), shown with the node's reason
 */
import { ApiError } from '../api';
import { urls } from '../client';
import type { MessageKey } from '../i18n';

/** Width of the probe's screenshot, px: the smallest the node makes. */
export const PROBE_WIDTH_PX = 16;

export type Probe =
  | { kind: 'running' }
  | { kind: 'not-running' }
  /** Anything else the node refused (403, 404, 401, 5xx) or a network failure. */
  | { kind: 'refused'; error: ApiError };

/** The state of a guest's console from the probe's answer. */
export async function readProbe(res: Response): Promise<Probe> {
  if (res.ok) return { kind: 'running' };
  let code = 'bad_response';
  let message = `HTTP ${res.status}`;
  try {
    const j = (await res.json()) as { error?: { code?: string; message?: string } };
    code = j.error?.code ?? code;
    message = j.error?.message ?? message;
  } catch {
    /* not JSON: keep the status line */
  }
  if (res.status === 409) return { kind: 'not-running' };
  return { kind: 'refused', error: new ApiError(res.status, code, message) };
}

export async function probeConsole(vmid: number | string, fetchFn: typeof fetch = (u, i) => fetch(u, i)): Promise<Probe> {
  try {
    return await readProbe(await fetchFn(urls.screenshot(vmid, PROBE_WIDTH_PX), { credentials: 'same-origin', cache: 'no-store' }));
  } catch (e) {
    return { kind: 'refused', error: new ApiError(0, 'network', (e as Error).message || 'network error') };
  }
}

/** Close codes of the node's console bridge (docs/API.md "Console and monitor") and the browser's own. */
const CLOSE_KEYS: Record<number, MessageKey> = {
  1000: 'console.close.1000',
  1001: 'console.close.1001',
  1002: 'console.close.1002',
  1003: 'console.close.1002',
  1006: 'console.close.1006',
  1008: 'console.close.1008',
  1009: 'console.close.1009',
};

/** The sentence that explains a close code. */
export function closeText(code: number): MessageKey {
  return CLOSE_KEYS[code] ?? 'console.close.other';
}
