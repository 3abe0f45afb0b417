/**
 * /api/task: the tasks of this node; in a cluster, of every node (a task's
 * id names its node, "n2:2026…", and its requests go there).
 *
 *   GET /api/task            newest first; others' tasks only with Sys.Audit; in a cluster every node's
 *   GET /api/task/<id>       state
 *   GET /api/task/<id>/log   {"lines": [...]}  (?tail=N for the last N)
 */
import { runCgi } from '../lib/cgi';
import { askOtherNodes, clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { forbidden } from '../lib/errors';
import { listTasks, readTask, readTaskLog, taskNodeOf, type TaskRecord } from '../tasks/task';

/** The node named in the task id runs requests about it. */
const TASK_NODE = { node: (ctx: ApiContext) => taskNodeOf(ctx.params.id!) };

function visible(ctx: ApiContext, t: TaskRecord): boolean {
  return t.user === ctx.me.username || ctx.can('/', 'Sys.Audit') || ctx.can(t.object, 'Sys.Audit');
}

function ownTask(ctx: ApiContext): TaskRecord {
  const t = readTask(ctx.params.id!);
  if (!visible(ctx, t)) throw forbidden('this task belongs to another user');
  return t;
}

export const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/',
    perm: 'authenticated',
    handle: async (ctx) => {
      const limit = Math.min(Number(ctx.req.query.get('limit') ?? 100) || 100, 1000);
      const here = listTasks(limit).filter((t) => visible(ctx, t));
      const others = await askOtherNodes<TaskRecord[]>(ctx, `/api/task?limit=${limit}`);
      if (!others) return here;
      const all = [...here, ...others.flatMap((r) => (r.ok ? r.value : []))];
      return all.sort((a, b) => b.start - a.start).slice(0, limit);
    },
  },
  { method: 'GET', path: '/:id', perm: 'authenticated', home: TASK_NODE, handle: ownTask },
  {
    method: 'GET',
    path: '/:id/log',
    perm: 'authenticated',
    home: TASK_NODE,
    handle: (ctx) => {
      const t = ownTask(ctx);
      const tail = Number(ctx.req.query.get('tail') ?? 0) || undefined;
      return { lines: readTaskLog(t.id, tail) };
    },
  },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
