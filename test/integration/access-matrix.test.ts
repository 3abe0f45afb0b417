/**
 * The route matrix: every route of every handler in node-cgi/handlers
 * (found at run time, so handlers added later are covered too) declares its
 * privilege, and a real node enforces it: anonymous callers get 401 on
 * every route but login (and the routes between nodes), and a user whose role lacks the declared
 * privilege gets 403.
 *
 *   route { method: 'POST', path: '/:vmid/start', perm: { path: '/vms/:vmid', priv: 'VM.PowerMgmt' } } of vm.ts
 *   → POST /api/vm/101/start: anonymous 401, NoAccess 403, VMAuditor 403
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { startTestNode, type Client, type TestNode } from '../helpers/node';
import { loadRoutes, sampleParams, type HandlerRoute } from '../helpers/routes';
import { fillPath } from '../../node-cgi/lib/cgi';
import { PRIVILEGES, ROLES, type RoleName } from '../../node-cgi/access/privileges';
import { checkedAclPath } from '../../node-cgi/access/model';

/** The only route anyone may call without credentials (logout needs the ticket it ends). */
const PUBLIC = new Set(['POST /api/access/ticket']);
/**
 * Routes between the nodes of a cluster: perm "public" for the kernel, but
 * the handler takes only a request signed with the cluster key (over HTTPS):
 * every caller here, a user or none, gets 401.
 */
const NODE_ONLY = new Set([
  'GET /api/cluster/status', 'GET /api/cluster/state', 'PUT /api/cluster/state',
  'POST /api/cluster/vmids', 'PUT /api/cluster/vmids/:vmid', 'DELETE /api/cluster/vmids/:vmid', 'POST /api/cluster/leave',
  'POST /api/vm/:vmid/migrate/incoming', 'POST /api/vm/:vmid/migrate/incoming/verify', 'POST /api/vm/:vmid/migrate/incoming/commit',
  'POST /api/vm/:vmid/migrate/incoming/done', 'DELETE /api/vm/:vmid/migrate/incoming',
  'GET /api/vm/:vmid/replica', 'POST /api/vm/:vmid/replica', 'DELETE /api/vm/:vmid/replica/:disk',
  'PUT /api/vm/:vmid/replica/config', 'POST /api/vm/:vmid/replica/:disk/resolve',
  'GET /api/iso/cluster', 'PUT /api/iso/cluster/:name', 'DELETE /api/iso/cluster/:name', 'POST /api/backup/replica', 'GET /api/backup/replica/:task',
]);
/** A joining node, authenticated by its join token, over HTTPS only: on the plain-HTTP UI socket every caller gets 403. */
const JOIN = new Set(['POST /api/cluster/members']);
/** Roles of the test users (on "/", propagating). */
const CALLER_ROLES: RoleName[] = ['NoAccess', 'VMAuditor', 'Administrator'];

const ROUTES = loadRoutes();

const D = suite('route declarations');

D('should find the routes of every handler', () => {
  const handlers = new Set(ROUTES.map((r) => r.handler));
  assert.ok(handlers.has('access') && handlers.has('task'), [...handlers].join(', '));
});

D('should declare a perm on every route, "public" only for login and the routes between nodes', () => {
  const wrong: string[] = [];
  for (const { route, label } of ROUTES) {
    const p = route.perm as unknown;
    if (p === 'public') {
      if (!PUBLIC.has(label) && !NODE_ONLY.has(label) && !JOIN.has(label)) wrong.push(`${label}: public`);
    } else if (p !== 'authenticated') {
      if (typeof p !== 'object' || p === null) wrong.push(`${label}: no perm`);
      else if (!PRIVILEGES.includes((p as { priv: never }).priv)) wrong.push(`${label}: unknown privilege ${(p as { priv: string }).priv}`);
    }
  }
  assert.equal(wrong, []);
});

D('should check a declared privilege on a real ACL path filled from the route', () => {
  const wrong: string[] = [];
  for (const { route, label } of ROUTES) {
    if (typeof route.perm !== 'object') continue;
    const missing = (route.perm.path.match(/:([a-z]+)/gi) ?? []).filter((p) => !route.path.includes(p));
    if (missing.length) wrong.push(`${label}: ${route.perm.path} uses ${missing.join(', ')} that the route lacks`);
    try {
      checkedAclPath(fillPath(route.perm.path, sampleParams(route.path)));
    } catch (e) {
      wrong.push(`${label}: ${route.perm.path}: ${(e as Error).message}`);
    }
  }
  assert.equal(wrong, []);
});

D.run();

const M = suite('route matrix through lighttpd');
let node: TestNode;
const callers: Record<string, Client> = {};

M.before(async () => {
  try {
    node = await startTestNode({ node: 'matrixnode' });
    const admin = await node.login('admin', node.adminPassword);
    callers.anonymous = node.anon();
    for (const role of CALLER_ROLES) {
      const username = `matrix-${role.toLowerCase()}`;
      const created = await admin.post('/api/access/users', { username, password: `${username}-pw` });
      assert.is(created.status, 201, created.text);
      const granted = await admin.put('/api/access/acl', { path: '/', user: username, role });
      assert.is(granted.status, 200, granted.text);
      callers[role] = await node.login(username, `${username}-pw`);
    }
  } catch (e) {
    // uvu reports a failing hook only as "0 / n"; say why.
    console.error('route matrix set-up failed:', e);
    throw e;
  }
});
M.after(async () => {
  await node?.stop();
});

/** The status a caller must get, or the statuses it must not get. */
function expectation(r: HandlerRoute, caller: string): { is: number } | { not: number[] } {
  if (NODE_ONLY.has(r.label)) return { is: 401 };
  if (JOIN.has(r.label)) return { is: 403 };
  // Login takes anyone, but its empty body is a renewal, and without a ticket cookie there is nothing to renew.
  if (caller === 'anonymous' && r.label === 'POST /api/access/ticket') return { is: 401 };
  if (caller === 'anonymous') return PUBLIC.has(r.label) ? { not: [401] } : { is: 401 };
  const perm = r.route.perm;
  if (typeof perm !== 'object') return { not: [401] };
  const held = (ROLES[caller as RoleName] as readonly string[]).includes(perm.priv);
  return held ? { not: [401] } : { is: 403 };
}

async function callRoute(client: Client, r: HandlerRoute) {
  // A body only where one is usual; nothing here names a real object.
  return r.route.method === 'GET' ? client.get(r.url) : client.request(r.route.method, r.url, { json: {} });
}

/** Logout ends the caller's session on the node: it comes last, in a batch of its own. */
const LOGOUT = 'DELETE /api/access/ticket';
const BATCHES = (size: number) => {
  const rest = ROUTES.filter((r) => r.label !== LOGOUT);
  const out: HandlerRoute[][] = [];
  for (let i = 0; i < rest.length; i += size) out.push(rest.slice(i, i + size));
  return [...out, ROUTES.filter((r) => r.label === LOGOUT)];
};

for (const caller of ['anonymous', ...CALLER_ROLES]) {
  M(`should answer ${caller} callers as each route's perm says`, async () => {
    const wrong: string[] = [];
    for (const batch of BATCHES(4)) {
      const replies = await Promise.all(batch.map((r) => callRoute(callers[caller]!, r)));
      batch.forEach((r, j) => {
        const got = replies[j]!;
        const want = expectation(r, caller);
        const ok = 'is' in want ? got.status === want.is : !want.not.includes(got.status);
        if (!ok) wrong.push(`${r.label} (${r.url}): want ${JSON.stringify(want)}, got ${got.status} ${got.text.slice(0, 160)}`);
        if (got.status >= 400 && typeof got.json?.error?.code !== 'string') wrong.push(`${r.label}: error without a JSON error body`);
      });
    }
    assert.equal(wrong, []);
  });
}

M.run();
