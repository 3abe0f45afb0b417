/**
 * /api/node: this node's resources and settings for guests.
 *
 *   GET /api/node/resources   CPU, memory, disk free, memory claimed by running guests, KVM (Sys.Audit on /nodes/<node>)
 *   GET /api/node/settings    {"memoryOvercommit": 1.0}                                     (Sys.Audit on /nodes/<node>)
 *   PUT /api/node/settings    {"memoryOvercommit": 1.5}                                     (Sys.Modify on /nodes/<node>)
 */
import { runCgi, type Route } from '../lib/cgi';
import { nodeName } from '../lib/paths';
import { nodeResources } from '../vm/node-resources';
import { checkSettingsPatch, readNodeSettings, updateNodeSettings } from '../vm/settings';

const here = () => `/nodes/${nodeName()}`;

export const routes: Route[] = [
  {
    method: 'GET',
    path: '/resources',
    perm: 'authenticated',
    handle: (ctx) => {
      ctx.check(here(), 'Sys.Audit');
      return nodeResources();
    },
  },
  {
    method: 'GET',
    path: '/settings',
    perm: 'authenticated',
    handle: (ctx) => {
      ctx.check(here(), 'Sys.Audit');
      return readNodeSettings();
    },
  },
  {
    method: 'PUT',
    path: '/settings',
    perm: 'authenticated',
    handle: async (ctx) => {
      ctx.check(here(), 'Sys.Modify');
      return updateNodeSettings(checkSettingsPatch(await ctx.req.json()));
    },
  },
];

if (require.main === module) runCgi(routes);
