/**
 * Requests made outside web/api.ts (the console's websocket, an upload
 * through XMLHttpRequest) cannot renew the ticket themselves. Before one
 * starts, renewSession() lets the api client renew it when it is due
 * (any api request does that first), so a console reconnected or an
 * upload started after hours on one page carries a live ticket.
 */
import { api, RENEW_AFTER_MS } from '../api';
import { client } from '../client';

export async function renewSession(now = Date.now()): Promise<void> {
  const s = api.session();
  if (!s || now - s.at < RENEW_AFTER_MS) return;
  await client.access.me().catch(() => undefined);
}
