/**
 * The node's API object by object, for the views: the one place that
 * builds /api paths, with every name and id in a path encoded
 * (encodeURIComponent) and every query through URLSearchParams.
 *
 *   client.vms.start(101)                        POST   /api/vm/101/start
 *   client.backups.list({ vmid: 101 })           GET    /api/backup?vmid=101
 *   client.backups.restore('local:101:2026…', { vmid: 105 })
 *                                                POST   /api/backup/local%3A101%3A2026…/restore  {"vmid":105}
 *   client.access.users.update('anna', { enabled: false })
 *                                                PUT    /api/access/users/anna  {"enabled":false}
 *   client.cluster.removeNode('pve2')            DELETE /api/cluster/nodes/pve2
 *
 * createClient(send) takes the transport (web/api.ts's request: CSRF,
 * renewal, ApiError), so a unit test passes one that returns the request
 * as data. URLs the browser fetches itself (an <img>, the console's
 * websocket, an upload through XMLHttpRequest) come from `urls`.
 *
 * The login, renewal and logout paths stay in web/api.ts, which runs the
 * session.
 */
import type {
  AccelSetting, BackupAlert, BackupModeView, BackupDetail, ClusterView, JoinTokenAnswer, BackupJob, BootCheckResult, DiskConfig, IsoImage, JobView, ListedBackup, MonitorAccess, NodeResources, NodeSettings, SetupLog,
  SchedulerHealth, StorageView, TaskRecord, TemporaryGuest, TicketView, VmCreateCheck, VmCreateRequest, VmDetail, VmListEntry,
} from '../node-cgi/api-types';
import { api, type Me } from './api';
import type { AclEntryView, AuditView, GroupView, NewToken, RoleView, TokenView, UserView } from './access/model';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** The transport: web/api.ts's api.request, or a test's recorder. */
export type Send = <T>(method: Method, path: string, body?: unknown) => Promise<T>;

/** The power actions of POST /api/vm/<vmid>/<action>. */
export type PowerAction = 'start' | 'shutdown' | 'stop' | 'reset' | 'pause' | 'resume';

/** GET /api/storage */
export type Storage = StorageView;
/** GET /api/backup: a backup on a storage that is offline is listed from the last look at it. */
export type BackupListEntry = ListedBackup;
export type { BackupDetail, BackupModeView, JobView, TemporaryGuest };
/** PUT /api/vm/<vmid>: the fields a client changes. */
export type VmUpdate = Partial<Pick<VmDetail, 'name' | 'memory' | 'sockets' | 'cores' | 'ostype' | 'boot' | 'onboot' | 'agent' | 'description'>> & { accel?: AccelSetting | null };
/** POST /api/vm/<vmid>/disks ("replicated": on both nodes of a 2-node cluster, raw) */
export type DiskRequest = Partial<Pick<DiskConfig, 'size' | 'bus' | 'format' | 'cache' | 'replicated'>>;
/** An answer that started a task (202). */
export interface Started {
  task: string;
}
/** POST /api/vm?dryrun=1: what the node would refuse, and the config it would write. */
export type VmCheck = VmCreateCheck;
/** PUT /api/access/password answers with the new session's ticket. */
export type Ticket = TicketView;

/** An id or name as one path segment. */
const seg = (v: string | number): string => encodeURIComponent(String(v));

/** "?a=1&b=x" of the given values, leaving out undefined and ''; '' when none is left. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function createClient(send: Send) {
  const get = <T>(path: string) => send<T>('GET', path);
  const post = <T = unknown>(path: string, body?: unknown) => send<T>('POST', path, body);
  const put = <T = unknown>(path: string, body: unknown) => send<T>('PUT', path, body);
  const del = <T = unknown>(path: string) => send<T>('DELETE', path);
  const vm = (vmid: number) => `/api/vm/${seg(vmid)}`;
  const backup = (id: string) => `/api/backup/${seg(id)}`;
  const job = (id: string) => `/api/backup/jobs/${seg(id)}`;
  const restore = (vmid: number) => `/api/restore/${seg(vmid)}`;
  const user = (name: string) => `/api/access/users/${seg(name)}`;
  const group = (name: string) => `/api/access/groups/${seg(name)}`;

  return {
    vms: {
      /** Every guest the user may see; `can`: only those on which the user also holds that privilege (VM.Backup: may back up). */
      list: (filter: { can?: string } = {}) => get<VmListEntry[]>(`/api/vm${query(filter)}`),
      get: (vmid: number) => get<VmDetail>(vm(vmid)),
      /** What the node says of a create request without creating anything (also: the next free VMID). */
      check: (body: Partial<VmCreateRequest>) => post<VmCheck>(`/api/vm${query({ dryrun: 1 })}`, body),
      create: (body: VmCreateRequest) => post<{ vmid: number }>('/api/vm', body),
      /** Settings and hardware; `accel: null` goes back to the node's setting. */
      update: (vmid: number, body: VmUpdate) => put<VmDetail>(vm(vmid), body),
      setCdrom: (vmid: number, cdrom: string | null) => put(`${vm(vmid)}/cdrom`, { cdrom }),
      power: (vmid: number, action: PowerAction) => post(`${vm(vmid)}/${action}`),
      start: (vmid: number) => post(`${vm(vmid)}/start`),
      stop: (vmid: number) => post(`${vm(vmid)}/stop`),
      remove: (vmid: number) => del(vm(vmid)),
      addDisk: (vmid: number, body: DiskRequest) => post<DiskConfig>(`${vm(vmid)}/disks`, body),
      /** Grow it (`size`), or change its bus or cache. */
      updateDisk: (vmid: number, disk: string, body: Partial<Pick<DiskConfig, 'size' | 'bus' | 'cache'>>) => put<DiskConfig>(`${vm(vmid)}/disks/${seg(disk)}`, body),
      removeDisk: (vmid: number, disk: string) => del(`${vm(vmid)}/disks/${seg(disk)}`),
      /** A raw disk of a stopped guest made replicated, its data copied whole to the other node. */
      replicateDisk: (vmid: number, disk: string) => post<DiskConfig>(`${vm(vmid)}/disks/${seg(disk)}/replicate`),
      /** Move to another node of the cluster: live (`online`) or stopped. */
      migrate: (vmid: number, body: { target: string; online: boolean }) => post<Started>(`${vm(vmid)}/migrate`, body),
      /** Start it on this node from its replicas, its own node being down. */
      failover: (vmid: number) => post<Started>(`${vm(vmid)}/failover`, {}),
    },
    nodes: {
      resources: (node: string) => get<NodeResources>(`/api/node/${seg(node)}/resources`),
      settings: (node: string) => get<NodeSettings>(`/api/node/${seg(node)}/settings`),
      setSettings: (node: string, body: Partial<NodeSettings>) => put(`/api/node/${seg(node)}/settings`, body),
      setupLog: (node: string) => get<SetupLog>(`/api/node/${seg(node)}/setup-log`),
    },
    isos: {
      list: () => get<IsoImage[]>('/api/iso'),
      remove: (name: string) => del(`/api/iso/${seg(name)}`),
    },
    storages: {
      list: () => get<Storage[]>('/api/storage'),
    },
    backups: {
      list: (filter: { vmid?: number | string; storage?: string } = {}) => get<BackupListEntry[]>(`/api/backup${query(filter)}`),
      get: (id: string) => get<BackupDetail>(backup(id)),
      log: (id: string) => get<{ lines: string[] }>(`${backup(id)}/log`),
      run: (body: { vmid: number; storage: string; mode: string; compress: string }) => post<Started>('/api/backup/run', body),
      restore: (id: string, body: { vmid?: number; force?: boolean }) => post<Started>(`${backup(id)}/restore`, body),
      /** Run from backup: a temporary guest. */
      boot: (id: string) => post<{ vmid: number; warnings: string[] }>(`${backup(id)}/boot`, {}),
      bootcheck: (id: string) => get<BootCheckResult>(`${backup(id)}/bootcheck`),
      checkBoot: (id: string) => post<Started>(`${backup(id)}/bootcheck`, {}),
      alerts: () => get<BackupAlert[]>('/api/backup/alerts'),
      /** When the job scheduler of this node last ran, and whether it stopped. */
      scheduler: () => get<SchedulerHealth>('/api/backup/scheduler'),
      /** Acknowledge these failures, or all of them. */
      acknowledge: (tasks?: string[]) => post<{ acknowledged: string[] }>('/api/backup/alerts/ack', tasks ? { tasks } : {}),
      jobs: {
        list: () => get<JobView[]>('/api/backup/jobs'),
        get: (id: string) => get<BackupJob>(job(id)),
        create: (body: Record<string, unknown>) => post('/api/backup/jobs', body),
        update: (id: string, body: Record<string, unknown>) => put(job(id), body),
        remove: (id: string) => del(job(id)),
        run: (id: string) => post<Started>(`${job(id)}/run`),
      },
    },
    restores: {
      /** Guests running from a backup. */
      list: () => get<TemporaryGuest[]>('/api/restore'),
      /** Booted from a backup disk: its guests and their backups (`active: false` otherwise). */
      backupMode: () => get<BackupModeView>('/api/restore/backup-mode'),
      link: (vmid: number, up: boolean) => post(`${restore(vmid)}/link`, { up }),
      keep: (vmid: number) => post<Started>(`${restore(vmid)}/keep`, {}),
    },
    tasks: {
      list: (limit: number) => get<TaskRecord[]>(`/api/task${query({ limit })}`),
      get: (id: string) => get<TaskRecord>(`/api/task/${seg(id)}`),
      log: (id: string, tail: number) => get<{ lines: string[] }>(`/api/task/${seg(id)}/log${query({ tail })}`),
    },
    cluster: {
      /** The cluster as this node sees it (every node asked now); a single node: name null, itself the only node. */
      get: () => get<ClusterView>('/api/cluster'),
      create: (name: string) => post<ClusterView>('/api/cluster', { name }),
      /** A single-use join token (on the master; a member sends it there). */
      token: () => post<JoinTokenAnswer>('/api/cluster/token', {}),
      /** Join the cluster of the master at `master` (its cluster URL): a task; this node's users become the cluster's. */
      join: (body: { master: string; token: string; fingerprint: string }) => post<Started>('/api/cluster/join', body),
      /** This member becomes the master (only while the master does not answer). */
      promote: () => post<ClusterView>('/api/cluster/promote', {}),
      removeNode: (name: string) => del<ClusterView & { left: boolean }>(`/api/cluster/nodes/${seg(name)}`),
    },
    monitor: {
      /** Whether the caller may run every command, and the read-only ones. */
      access: (vmid: number | string) => get<MonitorAccess>(`/api/monitor/${seg(vmid)}`),
      run: (vmid: number | string, command: string) => post<{ output: string }>(`/api/monitor/${seg(vmid)}`, { command }),
    },
    access: {
      me: () => get<Me>('/api/access/me'),
      password: (body: { oldpassword: string; password: string }) => put<Ticket>('/api/access/password', body),
      roles: () => get<RoleView[]>('/api/access/roles'),
      audit: (filter: { limit: number; user?: string; action?: string }) => get<AuditView[]>(`/api/access/audit${query(filter)}`),
      users: {
        list: () => get<UserView[]>('/api/access/users'),
        get: (name: string) => get<UserView>(user(name)),
        create: (body: Record<string, unknown>) => post('/api/access/users', body),
        update: (name: string, body: Record<string, unknown>) => put<UserView>(user(name), body),
        remove: (name: string) => del(user(name)),
      },
      groups: {
        list: () => get<GroupView[]>('/api/access/groups'),
        create: (body: { group: string; comment: string; members: string[] }) => post('/api/access/groups', body),
        setMembers: (name: string, members: string[]) => put(group(name), { members }),
        remove: (name: string) => del(group(name)),
      },
      acl: {
        /** Every entry, or those on `path` and inherited from above it. */
        list: (path?: string) => get<AclEntryView[]>(`/api/access/acl${query({ path })}`),
        set: (body: Record<string, unknown>) => put('/api/access/acl', body),
        /** The entry of this path and principal: {path, user|group|token}. */
        remove: (entry: Record<string, string>) => del(`/api/access/acl${query(entry)}`),
      },
      tokens: {
        list: () => get<TokenView[]>('/api/access/tokens'),
        create: (body: { tokenid: string; expire: number; privsep: boolean; comment: string }) => post<NewToken>('/api/access/tokens', body),
        remove: (tokenid: string) => del(`/api/access/tokens/${seg(tokenid)}`),
      },
    },
  };
}

export type Client = ReturnType<typeof createClient>;

/** The app's client, over web/api.ts. */
export const client: Client = createClient((method, path, body) => api.request(method, path, body));

/** URLs the browser loads itself, not through the client. */
export const urls = {
  /** A PNG of the guest's screen, `width` px wide; `extra` busts the cache. */
  screenshot: (vmid: number | string, width: number, extra: Record<string, string | number> = {}) =>
    `/api/monitor/${seg(vmid)}/screenshot${query({ width, ...extra })}`,
  /** The boot check's screenshot of a backup. */
  bootcheckShot: (id: string, time: number) => `/api/backup/${seg(id)}/screenshot${query({ t: time })}`,
  /** The console's websocket on this page's host. */
  console: (loc: { protocol: string; host: string }, vmid: number | string) =>
    `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/console/${seg(vmid)}`,
  /** PUT target of an ISO upload (sent through XMLHttpRequest for its progress). */
  isoUpload: (name: string, q: { sha256?: string; replace?: boolean }) => `/api/iso/${seg(name)}${query({ sha256: q.sha256, replace: q.replace ? 1 : undefined })}`,
};
