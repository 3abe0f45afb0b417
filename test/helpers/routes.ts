/**
 * The route table of the node's API as the tests see it: every route of
 * every handler in node-cgi/handlers, found at run time (so routes added
 * later are covered by whatever test walks them: the route matrix, the
 * fuzz suite), each with a URL whose parameters hold harmless samples.
 *
 *   route { method: 'POST', path: '/:vmid/start', … } of vm.ts
 *   → { handler: 'vm', url: '/api/vm/101/start', label: 'POST /api/vm/:vmid/start' }
 */
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Route } from '../../node-cgi/lib/cgi';

const HANDLERS_DIR = join(__dirname, '../../node-cgi/handlers');
/** Files that answer what no handler does and list no routes. */
const NO_ROUTES = new Set(['unknown']);
/** A value for each route parameter; any other name gets DEFAULT_SAMPLE. */
const SAMPLES: Record<string, string> = { vmid: '101', node: 'matrixnode', username: 'nobody', group: 'nogroup', tokenid: 'none' };
const DEFAULT_SAMPLE = 'sample1';

export interface HandlerRoute {
  handler: string;
  route: Route;
  /** "/api/vm/101/start" */
  url: string;
  /** "POST /api/vm/:vmid/start" */
  label: string;
}

export function sampleParams(path: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const part of path.split('/')) {
    if (part.startsWith(':')) params[part.slice(1)] = SAMPLES[part.slice(1)] ?? DEFAULT_SAMPLE;
    if (part.startsWith('*')) params[part.slice(1)] = `${DEFAULT_SAMPLE}/x`;
  }
  return params;
}

/** The URL of `route` of `handler` with `params` (raw: the caller escapes what it means to). */
export function routeUrl(handler: string, route: Pick<Route, 'path'>, params: Record<string, string>): string {
  const rest = route.path.split('/').filter(Boolean).map((p) => (p.startsWith(':') || p.startsWith('*') ? params[p.slice(1)]! : p));
  return `/api/${handler}${rest.length ? '/' + rest.join('/') : ''}`;
}

export function loadRoutes(): HandlerRoute[] {
  const out: HandlerRoute[] = [];
  for (const file of readdirSync(HANDLERS_DIR).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort()) {
    const handler = basename(file, '.ts');
    if (NO_ROUTES.has(handler)) continue;
    const mod = require(join(HANDLERS_DIR, file)) as { routes?: Route[] };
    assert.ok(Array.isArray(mod.routes), `${file} exports routes`);
    for (const route of mod.routes!) {
      out.push({ handler, route, url: routeUrl(handler, route, sampleParams(route.path)), label: `${route.method} /api/${handler}${route.path === '/' ? '' : route.path}` });
    }
  }
  return out;
}
