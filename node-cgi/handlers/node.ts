/**
 * /api/node/<node>: a node's resources and its settings for guests. In a
 * cluster the request goes to the node named (cluster/dispatch.ts).
 *
 *   GET /api/node/<node>/resources   CPU, memory, disk free, memory claimed by running guests, KVM (Sys.Audit)
 *   GET /api/node/<node>/settings    {"memoryOvercommit": 1.0}                                     (Sys.Audit)
 *   PUT /api/node/<node>/settings    {"memoryOvercommit": 1.5}                                     (Sys.Modify)
 *   GET /api/node/<node>/setup-log   the set-up log of an image node (/ram.log): lines, percent   (Sys.Audit)
 *
 * The privilege is checked on /nodes/<node>.
 */
import { runCgi } from '../lib/cgi';
import { clusterDispatch } from '../cluster/dispatch';
import { authorizer, type ApiContext, type ApiRoute } from '../auth/authorize';
import { notFound } from '../lib/errors';
import { nodeName } from '../lib/paths';
import { checkSettingsPatch, nodeResources, readNodeSettings, readSetupLog, updateNodeSettings } from '../vm';

/** The node named in the path runs the request. */
const NAMED_NODE = { node: (ctx: ApiContext) => ctx.params.node ?? null };

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
    home: NAMED_NODE,
    handle: (ctx) => {
      thisNode(ctx);
      return nodeResources();
    },
  },
  {
    method: 'GET',
    path: '/:node/settings',
    perm: { path: '/nodes/:node', priv: 'Sys.Audit' },
    home: NAMED_NODE,
    handle: (ctx) => readNodeSettings(thisNode(ctx)),
  },
  {
    method: 'PUT',
    path: '/:node/settings',
    perm: { path: '/nodes/:node', priv: 'Sys.Modify' },
    home: NAMED_NODE,
    handle: async (ctx) => updateNodeSettings(checkSettingsPatch(await ctx.req.json()), thisNode(ctx)),
  },
  {
    method: 'GET',
    path: '/:node/setup-log',
    perm: { path: '/nodes/:node', priv: 'Sys.Audit' },
    home: NAMED_NODE,
    handle: (ctx) => {
      thisNode(ctx);
      return readSetupLog();
    },
  },
];

if (require.main === module) runCgi(routes, authorizer, clusterDispatch);
