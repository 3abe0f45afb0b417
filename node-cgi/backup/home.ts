/**
 * Which node serves a request about one backup, in a cluster. Each node
 * keeps the backups on its own storages: a guest's backups are made on the
 * node it runs on, a cluster-mode backup on the guest's peer (from its
 * replica), and a guest that moved leaves its older backups behind. So a
 * backup id ("local:101:<stamp>") names no node; the routes of one backup
 * (GET, log, DELETE, restore, run from backup, boot check) find it:
 *
 *   ?node=n2                 that node (404 there, from checkNodeHere, when the cluster has none of the name)
 *   it lies here             this node
 *   else                     the other node that answers the backup's GET for the user
 *                            with it (or with 403: it lies there, the user may not see it)
 *   nowhere                  this node, which answers 404
 *
 * Outside a cluster the dispatcher asks no home: everything runs here.
 */
import { askOtherNodes } from '../cluster/dispatch';
import type { Context } from '../lib/cgi';
import { parseBackupId } from './manifest';
import { findBackup } from './list';

/** True when backup `id` (of the path) lies on a storage of this node that can be read now. */
function liesHere(id: string): boolean {
  try {
    findBackup(parseBackupId(id));
    return true;
  } catch {
    return false;
  }
}

/** The node of the backup of the path (null: here). */
export async function backupNode(ctx: Context): Promise<string | null> {
  const asked = ctx.req.query.get('node');
  if (asked !== null) return asked;
  const id = ctx.params.id!;
  parseBackupId(id);
  if (liesHere(id)) return null;
  const answers = await askOtherNodes<unknown>(ctx, `/api/backup/${encodeURIComponent(id)}`);
  const holder = answers?.find((a) => a.ok || a.error.code === 'forbidden');
  return holder?.node ?? null;
}

/** Route home of the routes of one backup. */
export const BACKUP_HOME = { node: backupNode };
