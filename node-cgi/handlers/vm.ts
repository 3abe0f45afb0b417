/**
 * /api/vm: guests; in a cluster, of every node (each guest's requests go to
 * the node it lives on: cluster/dispatch.ts).
 *
 *   GET    /api/vm                          list (guests the user may see: VM.Audit); ?can=VM.Backup: and hold that too;
 *                                           in a cluster every node's, a node that does not answer with its guests "unknown"
 *   POST   /api/vm                          create (VM.Allocate on /vms) → 201 config; ?dryrun=1 → {config, issues}
 *                                           {"node": "n2"}: on node n2 (default: the node asked)
 *   GET    /api/vm/<vmid>                   config + status + runtime figures
 *   PUT    /api/vm/<vmid>                   change the config (VM.Config)
 *   DELETE /api/vm/<vmid>                   delete a stopped guest and its disks (VM.Allocate)
 *   GET    /api/vm/<vmid>/status            status and figures only
 *   POST   /api/vm/<vmid>/start|shutdown|stop|reset|pause|resume   (VM.PowerMgmt; a crashed guest: reset, stop)
 *   POST   /api/vm/<vmid>/check             disk check task → 202 (VM.Config)
 *   PUT    /api/vm/<vmid>/cdrom             {"cdrom": "x.iso"|null}, live when running (VM.Config)
 *   POST   /api/vm/<vmid>/disks             add a disk (VM.Config); {"replicated": true}: on both nodes of a 2-node cluster
 *   PUT    /api/vm/<vmid>/disks/<id>        grow it or change bus/cache (VM.Config)
 *   DELETE /api/vm/<vmid>/disks/<id>        remove it and its image (VM.Config); a replicated one on both nodes
 *   POST   /api/vm/<vmid>/disks/<id>/replicate  a raw disk of a stopped guest made replicated, its data kept (VM.Config)
 *   POST   /api/vm/<vmid>/migrate           {"target", "online"} → 202 task (VM.Migrate; migrate/routes.ts, with the target's node-to-node routes)
 *   POST   /api/vm/<vmid>/failover          on the surviving node, the guest's node down → 202 task (VM.Migrate; migrate/failover.ts)
 *   POST   /api/vm/<vmid>/replica/resolve   {"discard": "<node>"}: end a split brain, that node's changes thrown away (VM.Allocate)
 */
import { runCgi, Reply } from '../lib/cgi';
import { askOtherNodes, clusterDispatch, forwardedHere, forwardTo } from '../cluster/dispatch';
import { releaseVmid, reserveVmid } from '../cluster/placement';
import { readCluster, readPlacement } from '../cluster/state';
import { nodeName } from '../lib/paths';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { conflict } from '../lib/errors';
import { checkedVmid, only } from '../lib/validate';
import { badRequest } from '../lib/errors';
import { startTask } from '../tasks/task';
import { createReplicatedDisks, dropReplicas, GUEST_REPLICAS, guestReplication, REPLICA_ROUTES, replicatedDisks, resolveSplitBrain, shareGuestConfig } from '../drbd/guest';
import { MIGRATE_ROUTES } from '../migrate/routes';
import {
  addDisk, chooseAccel, readNodeSettings, refuseIfCrashed, changeCdrom, checkCreate, checkDeletable, createVm, deleteVm, diskUsage, existingBridges, guestOf, guestResources, listVmConfigs,
  netPlan, openGuest, parseCdrom, parseDiskAdd, parseDiskChange, parseListQuery, parseShutdown, pauseVm, pendingChanges, readRunInfo, removeDisk, replicateDisk, resetVm, resumeVm,
  shutdownVm, startVm, stopVm,
  updateDisk, updateVm, usedVmids, vmStatus, type Guest, type VmDetail, type VmListEntry, type VmStatusView,
} from '../vm';

/** The guest of the path, resolved once. */
const guestOfPath = (ctx: ApiContext) => openGuest(checkedVmid(ctx.params.vmid));
/** The guest of the path: its node runs the request (in a cluster). */
const GUEST = { guest: (ctx: ApiContext) => checkedVmid(ctx.params.vmid) };

async function listEntry(g: Guest): Promise<VmListEntry> {
  const cfg = g.config;
  const st = await vmStatus(g);
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
    ...(cfg.nics.some((n) => n.linkDown === true) ? { linkDown: true as const } : {}),
  };
}

export async function vmDetail(g: Guest): Promise<VmDetail> {
  const cfg = g.config;
  const st = await vmStatus(g);
  const info = st.pid !== null ? readRunInfo(g) : undefined;
  const choice = await chooseAccel(cfg.accel, readNodeSettings().accel);
  const replication = await guestReplication(cfg);
  return {
    ...cfg,
    agent: cfg.agent === true,
    disks: cfg.disks.map((d) => (replication[d.id] ? { ...d, replication: replication[d.id] } : d)),
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

async function shutdown(ctx: ApiContext) {
  const req = parseShutdown(await ctx.req.json());
  const g = guestOfPath(ctx);
  if (req.timeout === null) return shutdownVm(g);
  const st = await vmStatus(g);
  if (st.status === 'stopped') throw conflict(`guest ${g.vmid} is not running`);
  await refuseIfCrashed(g, 'an ACPI shutdown');
  const task = startTask({ kind: 'vm-shutdown', object: `/vms/${g.vmid}`, user: ctx.me.username, params: { vmid: g.vmid, ...req } });
  return new Reply(202, { task });
}

const power = (action: 'start' | 'stop' | 'reset' | 'pause' | 'resume', fn: (g: Guest) => Promise<unknown>): ApiRoute => ({
  method: 'POST',
  path: `/:vmid/${action}`,
  perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' },
  body: 'none',
  home: GUEST,
  handle: (ctx) => fn(guestOfPath(ctx)),
});

/** This node's guests the caller may see, and in a cluster every other node's ("unknown" for a node that does not answer). */
async function listGuests(ctx: ApiContext): Promise<VmListEntry[]> {
  const { also } = parseListQuery(ctx.req.query);
  const may = (vmid: number | string) => ctx.can(`/vms/${vmid}`, 'VM.Audit') && (also === null || ctx.can(`/vms/${vmid}`, also));
  const here = await Promise.all(listVmConfigs().filter((c) => may(c.vmid)).map((c) => listEntry(guestOf(c))));
  const others = await askOtherNodes<VmListEntry[]>(ctx, `/api/vm${also === null ? '' : `?can=${encodeURIComponent(also)}`}`);
  if (!others) return here;
  const placement = readPlacement();
  const all = [...here];
  for (const r of others) {
    if (r.ok) {
      all.push(...r.value);
      continue;
    }
    for (const [vmid, e] of Object.entries(placement)) {
      if (e.node !== r.node || !may(vmid)) continue;
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
async function create(ctx: ApiContext) {
  const body = await ctx.req.json();
  const c = readCluster();
  if (c && !forwardedHere(ctx) && body.node !== undefined && body.node !== nodeName()) return forwardTo(ctx, String(body.node));
  if (ctx.req.query.get('dryrun') === '1') return checkCreate(body);
  if (!c) return new Reply(201, await createVm(body, createReplicatedDisks));
  const name = typeof body.name === 'string' ? body.name : '';
  const vmid = await reserveVmid(body.vmid === undefined ? null : checkedVmid(body.vmid), name, usedVmids());
  let cfg: Awaited<ReturnType<typeof createVm>>;
  try {
    cfg = await createVm({ ...body, vmid }, createReplicatedDisks);
  } catch (e) {
    await releaseVmid(vmid!);
    throw e;
  }
  // The peer of its replicated disks keeps its config, for a failover.
  await shareGuestConfig(cfg);
  return new Reply(201, cfg);
}

/** POST /api/vm/<vmid>/replica/resolve {"discard": "<node>"} */
async function resolve(ctx: ApiContext) {
  const body = await ctx.req.json();
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object {"discard": "<node>"}');
  only(body, ['discard']);
  const g = guestOfPath(ctx);
  return resolveSplitBrain(g.config, body.discard, (await vmStatus(g)).pid !== null);
}

export const routes: ApiRoute[] = [
  { method: 'GET', path: '/', perm: 'authenticated', handle: listGuests },
  { method: 'POST', path: '/', perm: { path: '/vms', priv: 'VM.Allocate' }, handle: create },
  { method: 'GET', path: '/:vmid', perm: { path: '/vms/:vmid', priv: 'VM.Audit' }, home: GUEST, handle: (ctx) => vmDetail(guestOfPath(ctx)) },
  {
    method: 'PUT',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
    handle: async (ctx) => {
      const body = await ctx.req.json();
      const g = guestOf(await updateVm(guestOfPath(ctx), body));
      await shareGuestConfig(g.config);
      return vmDetail(g);
    },
  },
  {
    method: 'DELETE',
    path: '/:vmid',
    perm: { path: '/vms/:vmid', priv: 'VM.Allocate' },
    body: 'none',
    home: GUEST,
    handle: async (ctx) => {
      const g = guestOfPath(ctx);
      checkDeletable(g);
      // Replicated disks: both sides down and gone (the peer's first) before the guest's folder goes.
      await dropReplicas(g.vmid, replicatedDisks(g.config));
      deleteVm(g, ctx.me.username);
      await releaseVmid(g.vmid, ctx.me.username);
      return new Reply(204, null);
    },
  },
  {
    method: 'GET',
    path: '/:vmid/status',
    perm: { path: '/vms/:vmid', priv: 'VM.Audit' },
    home: GUEST,
    handle: async (ctx) => {
      const g = guestOfPath(ctx);
      const st = await vmStatus(g);
      return { ...st, resources: guestResources(g.config, st.pid, st.uptime) } satisfies VmStatusView;
    },
  },
  power('start', async (g) => {
    const st = await startVm(g);
    // The config it runs with is the one a failover starts.
    await shareGuestConfig(g.config);
    return st;
  }),
  power('stop', stopVm),
  power('reset', resetVm),
  power('pause', pauseVm),
  power('resume', resumeVm),
  { method: 'POST', path: '/:vmid/shutdown', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' }, home: GUEST, handle: shutdown },
  {
    method: 'POST',
    path: '/:vmid/check',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    body: 'none',
    home: GUEST,
    handle: (ctx) => {
      const { vmid } = guestOfPath(ctx);
      const task = startTask({ kind: 'disk-check', object: `/vms/${vmid}`, user: ctx.me.username, params: { vmid } });
      return new Reply(202, { task });
    },
  },
  {
    method: 'PUT',
    path: '/:vmid/cdrom',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
    handle: async (ctx) => {
      const { cdrom } = parseCdrom(await ctx.req.json());
      return vmDetail(guestOf(await changeCdrom(guestOfPath(ctx), cdrom)));
    },
  },
  {
    method: 'POST',
    path: '/:vmid/disks',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
    handle: async (ctx) => {
      const disk = parseDiskAdd(await ctx.req.json());
      const cfg = await addDisk(guestOfPath(ctx), disk, GUEST_REPLICAS);
      await shareGuestConfig(cfg);
      const added = cfg.disks[cfg.disks.length - 1]!;
      const replication = added.replicated ? (await guestReplication({ vmid: cfg.vmid, disks: [added] }))[added.id] : undefined;
      return new Reply(201, replication ? { ...added, replication } : added);
    },
  },
  {
    method: 'PUT',
    path: '/:vmid/disks/:disk',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    home: GUEST,
    handle: async (ctx) => {
      const change = parseDiskChange(await ctx.req.json());
      const cfg = await updateDisk(guestOfPath(ctx), ctx.params.disk!, change);
      await shareGuestConfig(cfg);
      return cfg.disks.find((d) => d.id === ctx.params.disk);
    },
  },
  {
    method: 'DELETE',
    path: '/:vmid/disks/:disk',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    body: 'none',
    home: GUEST,
    handle: async (ctx) => {
      // A replicated disk: both sides removed, as a guest's delete removes them.
      await shareGuestConfig(await removeDisk(guestOfPath(ctx), ctx.params.disk!, GUEST_REPLICAS));
      return new Reply(204, null);
    },
  },
  {
    method: 'POST',
    path: '/:vmid/disks/:disk/replicate',
    perm: { path: '/vms/:vmid', priv: 'VM.Config' },
    body: 'none',
    home: GUEST,
    handle: async (ctx) => {
      const cfg = await replicateDisk(guestOfPath(ctx), ctx.params.disk!, GUEST_REPLICAS);
      await shareGuestConfig(cfg);
      return (await vmDetail(guestOf(cfg))).disks.find((d) => d.id === ctx.params.disk);
    },
  },
  ...MIGRATE_ROUTES,
  { method: 'POST', path: '/:vmid/replica/resolve', perm: { path: '/vms/:vmid', priv: 'VM.Allocate' }, home: GUEST, handle: resolve },
  ...REPLICA_ROUTES,
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
