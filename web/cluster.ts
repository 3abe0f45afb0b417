/**
 * The cluster as the web app sees it: one shared poller of GET /api/cluster
 * (every CLUSTER_POLL_MS while anything on the page shows it: the shell's
 * banner always does), and what the pages read from it, as pure functions:
 *
 *   roleOf({ name: 'office', self: 'n2', master: 'n1', … })     → 'member'
 *   heldBy({ …member…, masterOnline: false })                     → 'n1'   (cluster-wide changes wait for n1)
 *   uiUrl(master, self, { protocol: 'http:', port: '8006' })      → 'http://10.0.0.1:8006/'
 *   olderVersion('0.1.0', ['0.1.0', '0.2.0'])                     → true
 *   lagging({ generation: 6 }, { generation: 7, nodes: [master at 7] }) → true
 *
 * A member whose master does not answer holds every cluster-wide change
 * (users, ACL, jobs, storages, new guests): forms that make one show
 * <HeldNotice> and keep their button disabled instead of failing with the
 * node's 503.
 */
import type { ClusterNodeView, ClusterView } from '../node-cgi/api-types';
import { client } from './client';
import { formatTime } from './format';
import { createSharedPoller, REAL_TIMERS, useShared, type Loaded } from './hooks';
import { html } from './html';
import { t } from './i18n';
import { href } from './router';

export type { ClusterNodeView, ClusterView };

/** How often the cluster is asked again (each ask reaches every node, which may take its timeout). */
export const CLUSTER_POLL_MS = 10_000;

export const clusterPoller = createSharedPoller(() => client.cluster.get(), () => CLUSTER_POLL_MS, REAL_TIMERS);

/** The cluster as this node sees it; polls while mounted. */
export const useCluster = (): Loaded<ClusterView> => useShared(clusterPoller);

export type Role = 'single' | 'master' | 'member';

export function roleOf(c: Pick<ClusterView, 'name' | 'master' | 'self'>): Role {
  if (c.name === null) return 'single';
  return c.master === c.self ? 'master' : 'member';
}

/** The master's name when this node is a member whose master does not answer (cluster-wide changes wait), else null. */
export function heldBy(c: ClusterView | null): string | null {
  return c && roleOf(c) === 'member' && !c.masterOnline ? c.master : null;
}

export const masterOf = (c: Pick<ClusterView, 'nodes'>): ClusterNodeView | undefined => c.nodes.find((n) => n.master);
export const selfOf = (c: ClusterView): ClusterNodeView | undefined => c.nodes.find((n) => n.name === c.self);

/** "does not answer since 25.11.26, 10:15:00", or without a time when it was never seen. */
export const offlineText = (n: Pick<ClusterNodeView, 'lastSeen'>): string =>
  n.lastSeen ? t('cluster.offlineSince', { time: formatTime(n.lastSeen * 1000) }) : t('cluster.offline');

const portOf = (u: { protocol: string; port: string }): number => Number(u.port || (u.protocol === 'https:' ? 443 : 80));

/**
 * Where `node`'s web UI is, seen from this page: this page's scheme, and a
 * port as far from the node's cluster port as this page's is from this
 * node's cluster port (the cluster socket is the UI port + 1 with HTTP and
 * the UI's own socket with HTTPS, alike on every node). The node's
 * cluster URL itself (which serves the UI too) when that cannot be told.
 */
export function uiUrl(node: Pick<ClusterNodeView, 'url'>, self: Pick<ClusterNodeView, 'url'> | undefined, loc: { protocol: string; port: string }): string {
  try {
    const there = new URL(node.url);
    const here = new URL(self?.url ?? '');
    const port = portOf(there) - (portOf(here) - portOf(loc));
    if (port < 1 || port > 65535) return node.url;
    return `${loc.protocol}//${there.hostname}:${port}/`;
  } catch {
    return node.url;
  }
}

/** -1, 0 or 1 as version `a` is older, the same or newer than `b` ("0.10.0" is newer than "0.9.1"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/);
  const pb = b.split(/[.+-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    const d = /^\d+$/.test(x) && /^\d+$/.test(y) ? Number(x) - Number(y) : x.localeCompare(y);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** The newest of the versions. */
export const newestVersion = (versions: readonly string[]): string => versions.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b), versions[0] ?? '');

/** Whether `v` is older than the newest of `all`. */
export const olderVersion = (v: string, all: readonly string[]): boolean => compareVersions(v, newestVersion(all)) < 0;

/** The generation of the cluster-wide config the master holds (this node's when the master's is not known). */
export const masterGeneration = (c: Pick<ClusterView, 'generation' | 'nodes'>): number => masterOf(c)?.generation ?? c.generation;

/** Whether node `n` holds an older cluster-wide config than the master (it catches up on its next tick or request). */
export const lagging = (n: Pick<ClusterNodeView, 'generation'>, c: Pick<ClusterView, 'generation' | 'nodes'>): boolean =>
  n.generation !== undefined && n.generation < masterGeneration(c);

/** The master whose absence holds cluster-wide changes made from this node, or null. */
export const useHeld = (): string | null => heldBy(useCluster().data);

/** What a form that makes a cluster-wide change shows instead of its node's 503, while `held` (the master's name) is set. */
export function HeldNotice({ held }: { held: string | null }) {
  if (!held) return null;
  return html`<div class="banner banner-warn held-notice" role="status">
    <div class="banner-body">
      <strong>${t('cluster.held.title', { master: held })}</strong>
      <span class="banner-detail">${t('cluster.held.text', { master: held })} <a href=${href('cluster')}>${t('cluster.held.link')}</a></span>
    </div>
  </div>`;
}

/** sessionStorage key: this tab started a join, so the session that ends with it is no surprise. */
const JOINING_KEY = 'ramvm.joining';

/** Note that a join runs: the node's key and users change when it is done, which ends this session. */
export function noteJoining(): void {
  try {
    sessionStorage.setItem(JOINING_KEY, '1');
  } catch {
    /* storage disabled: the login page says "session ended" instead */
  }
}

/** Whether this tab started a join since the last login (asked once: it forgets). */
export function tookJoin(): boolean {
  try {
    const v = sessionStorage.getItem(JOINING_KEY) === '1';
    sessionStorage.removeItem(JOINING_KEY);
    return v;
  } catch {
    return false;
  }
}
