/**
 * /api/node/<node>: a node's resources and its settings for guests. Only
 * this node answers for now (a cluster forwards to the node named).
 *
 *   GET /api/node/<node>/resources   CPU, memory, disk free, memory claimed by running guests, KVM (Sys.Audit)
 *   GET /api/node/<node>/settings    {"memoryOvercommit": 1.0}                                     (Sys.Audit)
 *   PUT /api/node/<node>/settings    {"memoryOvercommit": 1.5}                                     (Sys.Modify)
 *
 * The privilege is checked on /nodes/<node>.
 */
import { runCgi } from '../lib/cgi';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { notFound } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { checkSettingsPatch, nodeResources, readNodeSettings, updateNodeSettings } from '../vm';

/** 404 unless the route names this node. */
function thisNode(ctx: ApiContext): string {
  const node = ctx.params.node!;
  if (node !== nodeName()) throw notFound(`no node ${JSON.stringify(node.slice(0, 64))} here; this node is "${nodeName()}"`);
  return node;
}

export const routes: ApiRoute[] = [
  {
    method: 'GET',
    path: '/:node/resources',
    perm: { path: '/nodes/:node', priv: 'Sys.Audit' },
    handle: (ctx) => {
      thisNode(ctx);
      return nodeResources();
    },
  },
  {
    method: 'GET',
    path: '/:node/settings',
    perm: { path: '/nodes/:node', priv: 'Sys.Audit' },
    handle: (ctx) => readNodeSettings(thisNode(ctx)),
  },
  {
    method: 'PUT',
    path: '/:node/settings',
    perm: { path: '/nodes/:node', priv: 'Sys.Modify' },
    handle: async (ctx) => updateNodeSettings(checkSettingsPatch(await ctx.req.json()), thisNode(ctx)),
  },
];

if (require.main === module) runCgi(routes, authorizer);
