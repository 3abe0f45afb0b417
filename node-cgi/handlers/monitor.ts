/**
 * /api/monitor: the QEMU monitor (HMP through QMP) and screenshots.
 *
 *   GET  /api/monitor/101                             → {"full": false, "readOnly": ["info status", …]}   VM.Monitor
 *   POST /api/monitor/101 {"command": "info status"}  → {"output": "VM status: running\n"}   VM.Monitor
 *   POST /api/monitor/101 {"command": "stop"}         → the same, with Sys.Modify on "/" too
 *   GET  /api/monitor/101/screenshot                  → image/png, full size              VM.Console
 *   GET  /api/monitor/101/screenshot?width=160        → image/png, scaled down (thumbnail)
 *
 * VM.Monitor runs the read-only commands of console/monitor.ts; every other
 * command can reach the host and needs Sys.Modify on "/" as well (as in
 * Proxmox VE 8). Each command goes to the server log with its user, and one
 * that is not read-only to the audit log too, run or refused. HMP runs on
 * the guest's work socket; a screenshot is a quick read-only probe and uses
 * the status socket, so thumbnails keep coming while a long job holds the
 * work socket.
 */
import { log, Reply, runCgi } from '../lib/cgi';
import { clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { forbidden } from '../lib/errors';
import { checkedVmid, only } from '../lib/validate';
import { withQmp } from '../qemu/qmp';
import { openGuest } from '../vm';
import { audit } from '../access/audit';
import {
  HMP_TIMEOUT_MS, checkedHmpCommand, checkedThumbWidth, hmpArgs, hmpKind, parseHmpOutput, readOnlyCommands, type MonitorAccess,
} from '../console/monitor';
import { screenshot } from '../console/screenshot';

const mayRunAll = (ctx: ApiContext) => ctx.can('/', 'Sys.Modify');
/** The guest of the path: its node runs the request (in a cluster). */
const GUEST = { guest: (ctx: ApiContext) => checkedVmid(ctx.params.vmid) };

async function hmp(ctx: ApiContext) {
  const vmid = checkedVmid(ctx.params.vmid);
  const body = await ctx.req.json();
  only(body, ['command']);
  const command = checkedHmpCommand(body.command);
  const readOnly = hmpKind(command) === 'read-only';
  if (!readOnly) {
    const allowed = mayRunAll(ctx);
    const me = ctx.me;
    audit({
      user: me.username, ...(me.tokenid ? { token: `${me.username}!${me.tokenid}` } : {}), addr: ctx.req.remoteAddr,
      action: 'monitor', object: `/vms/${vmid}`, ok: allowed, detail: { command },
    });
    if (!allowed) {
      throw forbidden(`permission denied: "${command.split(' ')[0]!.slice(0, 40)}" is not a read-only monitor command and needs Sys.Modify on / (GET /api/monitor/${vmid} lists the read-only ones)`);
    }
  }
  const { files } = openGuest(vmid);
  log(`monitor ${vmid} by ${ctx.me.username}${readOnly ? '' : ' (full)'}: ${command}`);
  const ret = await withQmp(files.qmp, (q) => q.execute('human-monitor-command', hmpArgs(command), HMP_TIMEOUT_MS));
  return { output: parseHmpOutput(ret) };
}

async function screen(ctx: ApiContext) {
  const vmid = checkedVmid(ctx.params.vmid);
  const width = checkedThumbWidth(ctx.req.query.get('width'));
  const { files } = openGuest(vmid);
  let png = await screenshot(files.statusQmp, vmid);
  if (width !== null) {
    const { decodePng, encodePng, scaleToWidth } = await import('../console/png');
    png = encodePng(scaleToWidth(decodePng(png), width));
  }
  return new Reply(200, null, { contentType: 'image/png', body: png });
}

export const routes: ApiRoute[] = [
  {
    method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Monitor' }, home: GUEST,
    handle: (ctx): MonitorAccess => {
      openGuest(checkedVmid(ctx.params.vmid));
      return { full: mayRunAll(ctx), readOnly: readOnlyCommands() };
    },
  },
  { method: 'POST', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Monitor' }, home: GUEST, handle: hmp },
  { method: 'GET', path: '/:vmid/screenshot', perm: { path: '/vms/:vmid', priv: 'VM.Console' }, home: GUEST, handle: screen },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
