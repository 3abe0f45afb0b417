/**
 * /api/monitor: the QEMU monitor (HMP through QMP) and screenshots.
 *
 *   POST /api/monitor/101 {"command": "info status"}  → {"output": "VM status: running\n"}   VM.Monitor
 *   GET  /api/monitor/101/screenshot                  → image/png, full size              VM.Console
 *   GET  /api/monitor/101/screenshot?width=160        → image/png, scaled down (thumbnail)
 *
 * HMP can do anything QEMU can (VM.Monitor: Administrator only by default),
 * so every command is written to the server log with its user. HMP runs on
 * the guest's work socket; a screenshot is a quick read-only probe and uses
 * the status socket, so thumbnails keep coming while a long job holds the
 * work socket.
 */
import { log, Reply, runCgi } from '../lib/cgi';
import { clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { checkedVmid } from '../lib/validate';
import { withQmp } from '../qemu/qmp';
import { openGuest } from '../vm';
import { HMP_TIMEOUT_MS, checkedHmpCommand, checkedThumbWidth, hmpArgs, parseHmpOutput } from '../console/monitor';
import { screenshot } from '../console/screenshot';

/** The guest of the path: its node runs the request (in a cluster). */
const GUEST = { guest: (ctx: ApiContext) => checkedVmid(ctx.params.vmid) };

async function hmp(ctx: ApiContext) {
  const vmid = checkedVmid(ctx.params.vmid);
  const body = await ctx.req.json<{ command?: unknown }>();
  const command = checkedHmpCommand(body.command);
  const { files } = openGuest(vmid);
  log(`monitor ${vmid} by ${ctx.me.username}: ${command}`);
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
  { method: 'POST', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Monitor' }, home: GUEST, handle: hmp },
  { method: 'GET', path: '/:vmid/screenshot', perm: { path: '/vms/:vmid', priv: 'VM.Console' }, home: GUEST, handle: screen },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
