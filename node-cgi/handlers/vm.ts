/**
 * /api/vm: guests of this node.
 *
 *   GET    /api/vm                          list (guests the user may see: VM.Audit)
 *   POST   /api/vm                          create (VM.Allocate on /vms) → 201 config; ?dryrun=1 → {config, issues}
 *   GET    /api/vm/<vmid>                   config + status + runtime figures
 *   PUT    /api/vm/<vmid>                   change the config (VM.Config)
 *   DELETE /api/vm/<vmid>                   delete a stopped guest and its disks (VM.Allocate)
 *   GET    /api/vm/<vmid>/status            status and figures only
 *   POST   /api/vm/<vmid>/start|shutdown|stop|reset|pause|resume   (VM.PowerMgmt; a crashed guest: reset, stop)
 *   POST   /api/vm/<vmid>/check             disk check task → 202 (VM.Config)
 *   PUT    /api/vm/<vmid>/cdrom             {"cdrom": "x.iso"|null}, live when running (VM.Config)
 *   POST   /api/vm/<vmid>/disks             add a disk (VM.Config)
 *   PUT    /api/vm/<vmid>/disks/<id>        grow it or change bus/cache (VM.Config)
 *   DELETE /api/vm/<vmid>/disks/<id>        remove it and its image (VM.Config)
 */
import { runCgi, Reply, type Context, type Route } from '../lib/cgi';
import { conflict, invalid } from '../lib/errors';
import { checkedVmid } from '../lib/validate';
import { startTask } from '../tasks/task';
import { readVmConfig, listVmConfigs } from '../vm/config';
import { chooseAccel } from '../vm/accel';
import { existingBridges } from '../vm/host';
import { addDisk, changeCdrom, checkCreate, createVm, deleteVm, removeDisk, updateDisk, updateVm } from '../vm/manage';
import { pauseVm, readRunInfo, refuseIfCrashed, resetVm, resumeVm, shutdownVm, startVm, stopVm } from '../vm/power';
import { netPlan, pendingChanges } from '../vm/qemu-args';
import { diskUsage, guestResources } from '../vm/resources';
import { readNodeSettings } from '../vm/settings';
import { vmStatus } from '../vm/status';
import { SHUTDOWN_TIMEOUT_MAX_S } from '../vm/tasks';
import type { VmConfig, VmDetail, VmListEntry } from '../vm/types';

const vmidOf = (ctx: Context) => checkedVmid(ctx.params.vmid);

async function listEntry(cfg: VmConfig): Promise<VmListEntry> {
  const st = await vmStatus(cfg.vmid);
  return {
    vmid: cfg.vmid,
    name: cfg.name,
    node: cfg.node,
    status: st.status,
    qmpStatus: st.qmpStatus,
    ostype: cfg.ostype,
    onboot: cfg.onboot,
    ...guestResources(cfg, st.pid, st.uptime),
    ...(st.note ? { note: st.note } : {}),
    ...(st.fault ? { fault: st.fault } : {}),
    ...(cfg.temporary ? { temporary: cfg.temporary } : {}),
  };
}

export async function vmDetail(vmid: number): Promise<VmDetail> {
  const cfg = readVmConfig(vmid);
  const st = await vmStatus(vmid);
  const info = st.pid !== null ? readRunInfo(vmid) : undefined;
  const choice = await chooseAccel(cfg.accel, readNodeSettings().accel);
  return {
    ...cfg,
    status: st.status,
    qmpStatus: st.qmpStatus,
    ...(st.note ? { note: st.note } : {}),
    ...(st.fault ? { fault: st.fault } : {}),
    runtime: {
      pid: st.pid,
      uptime: st.uptime,
      accel: info?.accel ?? choice.accel,
      accelSetting: choice.setting,
      accelSource: choice.source,
      accelReason: choice.refusal ?? choice.reason,
      net: info?.net ?? netPlan(cfg, existingBridges(cfg.nics.map((n) => n.bridge))),
      resources: guestResources(cfg, st.pid, st.uptime),
      disks: diskUsage(cfg),
      pending: info?.config ? pendingChanges(info.config, cfg) : [],
    },
  };
}

async function shutdown(ctx: Context) {
  const vmid = vmidOf(ctx);
  const body = await ctx.req.json();
  for (const k of Object.keys(body)) if (k !== 'timeout' && k !== 'forceStop') throw invalid(k, 'unknown field');
  const { timeout, forceStop } = body;
  if (forceStop !== undefined && typeof forceStop !== 'boolean') throw invalid('forceStop', 'must be true or false');
  if (timeout === undefined) {
    if (forceStop) throw invalid('forceStop', 'needs a timeout (seconds to wait before stopping)');
    return shutdownVm(vmid);
  }
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1 || timeout > SHUTDOWN_TIMEOUT_MAX_S) {
    throw invalid('timeout', `must be a whole number of seconds from 1 to ${SHUTDOWN_TIMEOUT_MAX_S}`);
  }
  const cfg = readVmConfig(vmid);
  const st = await vmStatus(vmid);
  if (st.status === 'stopped') throw conflict(`guest ${vmid} is not running`);
  await refuseIfCrashed(vmid, 'an ACPI shutdown');
  const task = startTask({ kind: 'vm-shutdown', object: `/vms/${cfg.vmid}`, user: ctx.me.username, params: { vmid, timeout, forceStop: forceStop === true } });
  return new Reply(202, { task });
}

const power = (action: 'start' | 'stop' | 'reset' | 'pause' | 'resume', fn: (vmid: number) => Promise<unknown>): Route => ({
  method: 'POST',
  path: `/:vmid/${action}`,
  perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' },
  handle: (ctx) => fn(vmidOf(ctx)),
});

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/',
    perm: 'authenticated',
    handle: (ctx) => Promise.all(listVmConfigs().filter((c) => ctx.can(`/vms/${c.vmid}`, 'VM.Audit')).map(listEntry)),
  },
  {
    method: 'POST',
    path: '/',
    perm: { path: '/vms', priv: 'VM.Allocate' },
    handle: async (ctx) => {
      const body = await ctx.req.json();
      if (ctx.req.query.get('dryrun') === '1') return checkCreate(body);
      return new Reply(201, await createVm(body));
    },
  },
  { method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Audit' }, handle: (ctx) => vmDetail(vmidOf(ctx)) },
  {
    method: 'PUT',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      await updateVm(vmid, await ctx.req.json());
      return vmDetail(vmid);
    },
  },
  {
    method: 'DELETE',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Allocate' },
    handle: (ctx) => {
      deleteVm(vmidOf(ctx), ctx.me.username);
      return new Reply(200, null);
    },
  },
  {
    method: 'GET',
    path: '/:vmid/status',
    perm: { path: '/vms/:vmid', priv: 'VM.Audit' },
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      const cfg = readVmConfig(vmid);
      const st = await vmStatus(vmid);
      return { ...st, resources: guestResources(cfg, st.pid, st.uptime) };
    },
  },
  power('start', startVm),
  power('stop', stopVm),
  power('reset', resetVm),
  power('pause', pauseVm),
  power('resume', resumeVm),
  { method: 'POST', path: '/:vmid/shutdown', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' }, handle: shutdown },
  {
    method: 'POST',
    path: '/:vmid/check',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: (ctx) => {
      const cfg = readVmConfig(vmidOf(ctx));
      const task = startTask({ kind: 'disk-check', object: `/vms/${cfg.vmid}`, user: ctx.me.username, params: { vmid: cfg.vmid } });
      return new Reply(202, { task });
    },
  },
  {
    method: 'PUT',
    path: '/:vmid/cdrom',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      const body = await ctx.req.json();
      if (!('cdrom' in body)) throw invalid('cdrom', 'is required: an ISO image name or null');
      await changeCdrom(vmid, body.cdrom);
      return vmDetail(vmid);
    },
  },
  {
    method: 'POST',
    path: '/:vmid/disks',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      const cfg = await addDisk(vmid, await ctx.req.json());
      return new Reply(201, cfg.disks[cfg.disks.length - 1]);
    },
  },
  {
    method: 'PUT',
    path: '/:vmid/disks/:disk',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      const cfg = await updateDisk(vmid, ctx.params.disk!, await ctx.req.json());
      return cfg.disks.find((d) => d.id === ctx.params.disk);
    },
  },
  {
    method: 'DELETE',
    path: '/:vmid/disks/:disk',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    handle: (ctx) => {
      removeDisk(vmidOf(ctx), ctx.params.disk!);
      return new Reply(200, null);
    },
  },
];

if (require.main === module) runCgi(routes);
