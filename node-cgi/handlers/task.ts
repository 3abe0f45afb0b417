/**
 * /api/task: the tasks of this node.
 *
 *   GET /api/task            newest first; others' tasks only with Sys.Audit
 *   GET /api/task/<id>       state
 *   GET /api/task/<id>/log   {"lines": [...]}  (?tail=N for the last N)
 */
import { runCgi } from '../lib/cgi';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { forbidden } from '../lib/errors';
import { listTasks, readTask, readTaskLog, type TaskRecord } from '../tasks/task';

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
    handle: (ctx) => {
      const limit = Math.min(Number(ctx.req.query.get('limit') ?? 100) || 100, 1000);
      return listTasks(limit).filter((t) => visible(ctx, t));
    },
  },
  { method: 'GET', path: '/:id', perm: 'authenticated', handle: ownTask },
  {
    method: 'GET',
    path: '/:id/log',
    perm: 'authenticated',
    handle: (ctx) => {
      const t = ownTask(ctx);
      const tail = Number(ctx.req.query.get('tail') ?? 0) || undefined;
      return { lines: readTaskLog(t.id, tail) };
    },
  },
];

if (require.main === module) runCgi(routes, authorizer);
