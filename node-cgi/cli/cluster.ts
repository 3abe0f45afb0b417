/**
 * `ramvm cluster …`: forming a cluster from a node's shell (the same steps
 * as /api/cluster, run in this process).
 *
 *   ramvm cluster create NAME                 this node becomes the master of cluster NAME
 *   ramvm cluster token [SECONDS]             on the master: a join token, its expiry, the master's URL and fingerprint
 *   ramvm cluster join URL TOKEN FINGERPRINT  join the master at URL (this node must have no guests)
 *   ramvm cluster leave                       this node leaves its cluster (a single node again, with a new key)
 *   ramvm cluster show                        cluster.json of this node
 *   ramvm cluster tick                        each minute: catch up, push to members behind (membership.ts clusterTick);
 *                                             replicated disks back up after a boot, a guest failed over elsewhere left (migrate/failover.ts replicaTick);
 *                                             on the master, copy the ISO library to nodes whose library differs (iso/distribute.ts)
 *
 * Run it with the node's environment (RAMVM_ROOT, and RAMVM_ADDRESS or
 * RAMVM_LISTEN when the node has them); `npm start` records its listen
 * address and ports in run/ramvm/server.json for it.
 */
import { checkedClusterName, checkedTokenLifetime } from '../cluster/model';
import { libraryTick } from '../iso/distribute';
import { replicaTick } from '../migrate/failover';
import { checkedJoinRequest, clusterTick, createCluster, joinCheck, joinCluster, leaveCluster, makeJoinToken } from '../cluster/membership';
import { commitChanges } from '../cluster/replicate';
import { guardClusterWrites, readCluster } from '../cluster/state';

const USAGE = 'usage: ramvm cluster create NAME | token [SECONDS] | join URL TOKEN FINGERPRINT | leave | show | tick';

export async function clusterCommand([sub, ...args]: string[]): Promise<void> {
  guardClusterWrites();
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (sub === 'create' && args.length === 1) {
    const c = createCluster(checkedClusterName(args[0]));
    const self = c.nodes[0]!;
    out(`created cluster ${c.name}; this node (${self.name}) is its master at ${self.url}`);
    out(`fingerprint ${self.fingerprint}`);
    return;
  }
  if (sub === 'token' && args.length <= 1) {
    const t = makeJoinToken(checkedTokenLifetime(args[0] === undefined ? undefined : Number(args[0])));
    out(`ramvm cluster join ${t.url} ${t.token} ${t.fingerprint}`);
    out(`(single use, valid until ${new Date(t.expires * 1000).toISOString()})`);
    return;
  }
  if (sub === 'join' && args.length === 3) {
    const j = checkedJoinRequest({ master: args[0], token: args[1], fingerprint: args[2] });
    await joinCheck(j);
    const c = await joinCluster(j, out);
    out(`this node is a member of cluster ${c.name}; master ${c.master}`);
    return;
  }
  if (sub === 'leave' && args.length === 0) {
    leaveCluster();
    out('this node left its cluster');
    return;
  }
  if (sub === 'tick' && args.length === 0) {
    for (const line of await clusterTick()) out(`${new Date().toISOString()} ${line}`);
    for (const line of await libraryTick()) out(`${new Date().toISOString()} ${line}`);
    for (const line of await replicaTick()) out(`${new Date().toISOString()} ${line}`);
    return;
  }
  if (sub === 'show' && args.length === 0) {
    out(JSON.stringify(readCluster(), null, 2));
    return;
  }
  throw new Error(USAGE);
}

/** After a CLI command changed cluster-wide settings on the master: replicate them. */
export async function commitCliChanges(): Promise<void> {
  await commitChanges();
}
