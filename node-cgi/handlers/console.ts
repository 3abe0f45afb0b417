/**
 * /api/console: a guest's screen as a websocket carrying RFB (noVNC's
 * protocol), bridged to QEMU's VNC unix socket. No VNC port is reachable
 * from the network; lighttpd's cgi.upgrade hands this CGI the raw stream.
 *
 *   GET /api/console/101  Upgrade: websocket  (cookie or API token)
 *   → 401/403/404/409/426 as JSON, before any VNC byte; or
 *   → 101, then binary frames both ways until either side closes
 *
 * A ticket cookie is accepted only when a present Origin names this host:
 * browsers cannot add the CSRF header to a websocket, and Origin is what
 * tells a page of this node from another site's.
 */
import { HANDLED, log, runCgi } from '../lib/cgi';
import { clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { forbidden } from '../lib/errors';
import { checkedVmid } from '../lib/validate';
import { runBridge } from '../console/bridge';
import { connectVnc } from '../console/guest';
import { openGuest } from '../vm';
import { parseUpgrade, sameOrigin, switchingProtocolsHead } from '../console/websocket';

/**
 * Checked where the browser connected, also when the guest lives on another
 * node (the request is then forwarded as it is, cluster/dispatch.ts): a
 * websocket upgrade, and a page of this node as its Origin.
 */
function consoleGuard(ctx: ApiContext): void {
  parseUpgrade(ctx.req.method, ctx.req.headers);
  if (ctx.me.via === 'ticket' && !ctx.me.peer && !sameOrigin(ctx.req.headers['origin'], ctx.req.headers['host'])) {
    throw forbidden(`the console may be opened only from a page of this node (Origin ${ctx.req.headers['origin']})`);
  }
}

async function openConsole(ctx: ApiContext): Promise<typeof HANDLED> {
  const vmid = checkedVmid(ctx.params.vmid);
  const upgrade = parseUpgrade(ctx.req.method, ctx.req.headers);
  const vnc = await connectVnc(vmid, openGuest(vmid).files.vnc);
  const started = Date.now();
  process.stdout.write(switchingProtocolsHead(upgrade));
  const r = await runBridge(ctx.req.stream, process.stdout, vnc, { allowed: () => stillAllowed(ctx, vmid) });
  log(
    `console ${vmid} of ${ctx.me.username} ended by ${r.endedBy} (${r.code}${r.reason ? ` ${r.reason}` : ''}) ` +
      `after ${((Date.now() - started) / 1000).toFixed(1)} s, ${r.bytesToClient} bytes out, ${r.bytesToGuest} in`,
  );
  ctx.req.stream.destroy();
  return HANDLED;
}

/**
 * Checked at every ping of an open console. The ticket is not checked again
 * (an expiring ticket must not cut off a working console), but a disabled
 * user, a withdrawn VM.Console or a deleted or expired token end it.
 */
function stillAllowed(ctx: ApiContext, vmid: number): boolean {
  try {
    if (ctx.me.via === 'token') authorizer.authenticate(ctx.req);
    return authorizer.permissions(ctx.me).can(`/vms/${vmid}`, 'VM.Console');
  } catch {
    return false;
  }
}

export const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Console' },
    home: { guest: (ctx) => checkedVmid(ctx.params.vmid) },
    guard: consoleGuard,
    handle: openConsole,
  },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
