/**
 * Request bodies have a read deadline before a CGI is spent on them
 * (finding 5): a client that announces a body and withholds it is cut off
 * within seconds, is answered as JSON, and leaves no process behind.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { startTestNode, type TestNode } from '../helpers/node';

let node: TestNode;
const B = suite('request body deadline through lighttpd');
B.before(async () => {
  node = await startTestNode({ node: 'deadlinenode' });
});
B.after(async () => {
  await node?.stop();
});

/** Pids of the CGIs that run for this node (lighttpd starts them with its RAMVM_ROOT). */
function cgiProcesses(root: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.endsWith('.cgi'))) continue;
      if (readFileSync(`/proc/${d}/environ`, 'utf8').split('\0').includes(`RAMVM_ROOT=${root}`)) out.push(Number(d));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** Waits until `fn` is true, polling; false when `limitMs` passed first (a limit for a hung test, not a timing claim). */
async function eventually(fn: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  while (Date.now() < end) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return fn();
}

/**
 * Sends the head and `sent` of a body that announces `announced` bytes, then
 * nothing more; resolves with what the server answered and whether it
 * closed the connection (or 'none' when it said nothing before `limitMs`).
 */
function withhold(path: string, announced: number, sent: string, limitMs: number, headers: Record<string, string> = {}): Promise<{ answer: string; closed: boolean }> {
  const url = new URL(node.url);
  return new Promise((resolve) => {
    const sock = connect(Number(url.port), url.hostname);
    let answer = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ answer: answer || 'none', closed: false });
    }, limitMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (answer += d));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, closed: true });
    });
    sock.on('error', () => undefined);
    sock.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${announced}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${sent}`);
  });
}

// Far more than the deadline (seconds), far less than what was held before (600 s): a limit for a hung test only.
const HUNG_MS = 120_000;

B('should answer 408 to a login whose announced body never comes, and leave no CGI running', async () => {
  const held = await Promise.all(Array.from({ length: 5 }, () => withhold('/api/access/ticket', 1000, '{"username":', HUNG_MS)));
  for (const r of held) {
    assert.ok(r.answer !== 'none', 'the server answered before the test gave up');
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
    assert.match(r.answer, /"code":"request_timeout"/);
    assert.ok(r.closed, 'the server closed the connection');
  }
  assert.ok(await eventually(() => cgiProcesses(node.root).length === 0, 30_000), `CGIs left: ${cgiProcesses(node.root).join(' ')}`);
});

B('should cut off an announced body on any route, before any check of credentials', async () => {
  const r = await withhold('/api/vm/101/start', 500, '{', HUNG_MS);
  assert.match(r.answer, /^HTTP\/1\.1 401 /, 'refused for its missing credentials without waiting for the body');
  assert.ok(r.closed, 'the server closed the connection');
  assert.ok(await eventually(() => cgiProcesses(node.root).length === 0, 30_000), `CGIs left: ${cgiProcesses(node.root).join(' ')}`);
});

B("should answer 408 to an admin's change whose body never comes, and change nothing", async () => {
  const admin = await node.login('admin', node.adminPassword);
  const r = await withhold('/api/access/users', 800, '{"username":"late",', HUNG_MS, { cookie: admin.cookie!, 'x-ramvm-csrf': admin.csrf! });
  assert.match(r.answer, /^HTTP\/1\.1 408 /);
  assert.ok(r.closed, 'the server closed the connection');
  assert.is((await admin.get('/api/access/users/late')).status, 404);
  assert.ok(await eventually(() => cgiProcesses(node.root).length === 0, 30_000), `CGIs left: ${cgiProcesses(node.root).join(' ')}`);
});

B.run();
