/**
 * /api/vm: guests; in a cluster, of every node (each guest's requests go to
 * the node it lives on: cluster/dispatch.ts).
 *
 *   GET    /api/vm                          list (guests the user may see: VM.Audit); in a cluster every
 *                                           node's, a node that does not answer with its guests "unknown"
 *   POST   /api/vm                          create (VM.Allocate on /vms) → 201 config; ?dryrun=1 → {config, issues}
 *                                           {"node": "n2"}: on node n2 (default: the node asked)
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
import { nodeName } from '../lib/paths';
import { askOtherNodes, clusterDispatch, forwardedHere, forwardTo } from '../cluster/dispatch';
import { releaseVmid, reserveVmid } from '../cluster/placement';
import { readCluster, readPlacement } from '../cluster/state';
import { checkedVmid } from '../lib/validate';
import { startTask } from '../tasks/task';
import { readVmConfig, listVmConfigs } from '../vm/config';
import { chooseAccel } from '../vm/accel';
import { existingBridges } from '../vm/host';
import { addDisk, changeCdrom, checkCreate, createVm, deleteVm, removeDisk, updateDisk, updateVm, usedVmids } from '../vm/manage';
import { pauseVm, readRunInfo, refuseIfCrashed, resetVm, resumeVm, shutdownVm, startVm, stopVm } from '../vm/power';
import { netPlan, pendingChanges } from '../vm/qemu-args';
import { diskUsage, guestResources } from '../vm/resources';
import { readNodeSettings } from '../vm/settings';
import { vmStatus } from '../vm/status';
import { SHUTDOWN_TIMEOUT_MAX_S } from '../vm/tasks';
import type { VmConfig, VmDetail, VmListEntry } from '../vm/types';

const vmidOf = (ctx: Context) => checkedVmid(ctx.params.vmid);
/** The guest of the path: its node runs the request. */
const GUEST = { guest: vmidOf };

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
  home: GUEST,
  handle: (ctx) => fn(vmidOf(ctx)),
});

/** This node's guests the caller may see, and in a cluster every other node's ("unknown" for a node that does not answer). */
async function listGuests(ctx: Context): Promise<VmListEntry[]> {
  const here = await Promise.all(listVmConfigs().filter((c) => ctx.can(`/vms/${c.vmid}`, 'VM.Audit')).map(listEntry));
  const others = await askOtherNodes<VmListEntry[]>(ctx, '/api/vm');
  if (!others) return here;
  const placement = readPlacement();
  const all = [...here];
  for (const r of others) {
    if (r.ok) {
      all.push(...r.value);
      continue;
    }
    for (const [vmid, e] of Object.entries(placement)) {
      if (e.node !== r.node || !ctx.can(`/vms/${vmid}`, 'VM.Audit')) continue;
      all.push({
        vmid: Number(vmid), name: e.name, node: e.node, status: 'unknown', qmpStatus: null, ostype: 'other', onboot: false,
        cpu: 0, cpus: 0, mem: 0, maxmem: 0, disk: 0, maxdisk: 0, uptime: 0, note: r.error.message,
      });
    }
  }
  return all.sort((a, b) => a.vmid - b.vmid);
}

/**
 * POST /api/vm: on the node named by "node" (forwarded there), else here.
 * In a cluster the VMID is reserved with the master first, and given back
 * when the create fails.
 */
async function create(ctx: Context) {
  const body = await ctx.req.json();
  const c = readCluster();
  if (c && !forwardedHere(ctx) && body.node !== undefined && body.node !== nodeName()) return forwardTo(ctx, String(body.node));
  if (ctx.req.query.get('dryrun') === '1') return checkCreate(body);
  if (!c) return new Reply(201, await createVm(body));
  const name = typeof body.name === 'string' ? body.name : '';
  const vmid = await reserveVmid(body.vmid === undefined ? null : checkedVmid(body.vmid), name, usedVmids());
  try {
    return new Reply(201, await createVm({ ...body, vmid }));
  } catch (e) {
    await releaseVmid(vmid!);
    throw e;
  }
}

export const routes: Route[] = [
  { method: 'GET', path: '/', perm: 'authenticated', handle: listGuests },
  { method: 'POST', path: '/', perm: { path: '/vms', priv: 'VM.Allocate' }, handle: create },
  { method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Audit' }, home: GUEST, handle: (ctx) => vmDetail(vmidOf(ctx)) },
  {
    method: 'PUT',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
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
    home: GUEST,
    handle: async (ctx) => {
      const vmid = vmidOf(ctx);
      deleteVm(vmid, ctx.me.username);
      await releaseVmid(vmid, ctx.me.username);
      return new Reply(200, null);
    },
  },
  {
    method: 'GET',
    path: '/:vmid/status',
    perm: { path: '/vms/:vmid', priv: 'VM.Audit' },
    home: GUEST,
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
  { method: 'POST', path: '/:vmid/shutdown', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' }, home: GUEST, handle: shutdown },
  {
    method: 'POST',
    path: '/:vmid/check',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
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
    home: GUEST,
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
    home: GUEST,
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
    home: GUEST,
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
    home: GUEST,
    handle: (ctx) => {
      removeDisk(vmidOf(ctx), ctx.params.disk!);
      return new Reply(200, null);
    },
  },
];

if (require.main === module) runCgi(routes, clusterDispatch);
