/**
 * docs/API.md, run as written: every `sh` block, in order, in one bash with
 * history expansion on (as an interactive shell has it), against a fresh
 * node named pve1 whose admin password is the docs' "secret". The docs'
 * address http://127.0.0.1:8006 becomes the test node's; the working folder
 * holds the files a reader brings (the ISO and the rescue image the upload
 * examples send), and `ramvm` on PATH is the node's CLI with the node's
 * RAMVM_ROOT (so `ramvm backup install-cron` writes below that root).
 *
 * The Cluster section forms a cluster with a second fresh node, pve2: its
 * address http://127.0.0.1:8016 and pve1's cluster socket
 * https://127.0.0.1:8007 become the test nodes'.
 *
 * Each command's answer is compared with the one the text shows under it
 * (test/helpers/api-docs.ts says how); every curl must answer below 400
 * unless the text shows another status. Ids reach later commands the way a
 * reader passes them: through shell variables the examples set.
 */
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, ROOT } from '../../build/build';
import { matchJson, matchText, shellBlocks, type DocCommand } from '../helpers/api-docs';
import { killGuests } from '../helpers/guest';
import { startTestNode, type TestNode } from '../helpers/node';
import { suite } from '../helpers/suite';

/** The address the docs' examples use. */
const DOCS_URL = 'http://127.0.0.1:8006';
/** The second node of the Cluster section, and the first one's cluster socket. */
const DOCS_URL2 = 'http://127.0.0.1:8016';
const DOCS_CLUSTER_URL = 'https://127.0.0.1:8007';
/** The whole document's run; a boot check and a live restore take a while on a busy machine. */
const RUN_TIMEOUT_MS = 15 * 60_000;
/** Files a reader of the upload examples has, by name, with their size. */
const READER_FILES: Record<string, number> = { 'debian-12.4.0-amd64-netinst.iso': 4 << 20, 'rescue.img': 1 << 20 };

interface Ran {
  stdout: string;
  stderr: string;
  rc: number | null;
  statuses: number[];
}

/** The bash script: markers around each command on both streams, curl reporting its status on stderr. */
export function docScript(commands: readonly DocCommand[], url: string, more: Record<string, string> = {}): string {
  const addresses: [string, string][] = [[DOCS_URL, url], ...Object.entries(more)];
  const lines = [
    'set -o history -o histexpand',
    // Each HTTP status on stderr, after what curl writes there itself; stdout stays the answer.
    "curl() { command curl -w '%{stderr}\\n@@status %{http_code}\\n' \"$@\"; }",
  ];
  commands.forEach((c, i) => {
    lines.push(`printf '\\n@@cmd ${i}\\n'; printf '\\n@@cmd ${i}\\n' >&2`);
    lines.push(addresses.reduce((text, [from, to]) => text.split(from).join(to), c.text));
    lines.push(`printf '\\n@@end ${i} %s\\n' "$?"; printf '\\n@@end ${i}\\n' >&2`);
  });
  return lines.join('\n') + '\n';
}

/** Each command's stdout, stderr, exit code and curl statuses, from the marked streams. */
export function splitRun(stdout: string, stderr: string, count: number): Ran[] {
  const out: Ran[] = [];
  for (let i = 0; i < count; i++) {
    const o = new RegExp(`\\n@@cmd ${i}\\n([\\s\\S]*?)\\n@@end ${i} (\\d+)\\n`).exec(stdout);
    const e = new RegExp(`\\n@@cmd ${i}\\n([\\s\\S]*?)\\n@@end ${i}\\n`).exec(stderr);
    const err = e?.[1] ?? '';
    out.push({
      stdout: o?.[1] ?? '',
      stderr: err.replace(/\n?@@status \d+\n?/g, '\n').trim(),
      rc: o ? Number(o[2]) : null,
      statuses: [...err.matchAll(/@@status (\d+)/g)].map((m) => Number(m[1])),
    });
  }
  return out;
}

/** What is wrong with one command's run, as lines for the report. */
export function problemsOf(c: DocCommand, r: Ran): string[] {
  const where = `docs/API.md:${c.line}: ${c.text.split('\n')[0]!.slice(0, 100)}`;
  const problems: string[] = [];
  if (r.rc === null) return [`${where}: did not run to its end`];
  if (/event not found/.test(r.stderr)) problems.push(`${where}: bash history expansion broke it: ${r.stderr}`);
  if (r.rc !== 0) problems.push(`${where}: exit ${r.rc}${r.stderr ? `: ${r.stderr.slice(0, 300)}` : ''}`);
  const status = r.statuses[r.statuses.length - 1];
  const answer = c.answer;
  if (answer?.kind === 'json' && answer.error) problems.push(`${where}: ${answer.error}`);
  if (status !== undefined) {
    const want = answer?.kind === 'json' ? answer.status : null;
    if (want !== null && status !== want) problems.push(`${where}: HTTP ${status}, the text shows ${want}: ${r.stdout.slice(0, 300)}`);
    if (want === null && (status >= 400 || status < 100)) problems.push(`${where}: HTTP ${status}: ${r.stdout.slice(0, 300)}`);
  }
  if (answer?.kind === 'json' && answer.pattern) {
    let value: unknown;
    try {
      value = JSON.parse(r.stdout);
    } catch {
      return [...problems, `${where}: the answer is not JSON: ${JSON.stringify(r.stdout.slice(0, 300))}`];
    }
    const why = matchJson(answer.pattern, value);
    if (why) problems.push(`${where}: ${why}`);
  }
  if (answer?.kind === 'text') {
    const why = matchText(answer.lines, r.stdout);
    if (why) problems.push(`${where}: ${why}`);
  }
  return problems;
}

function runBash(script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((res) => {
    const p = spawn('bash', ['--norc', '--noprofile', '-s'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), RUN_TIMEOUT_MS);
    p.on('close', (_code, signal) => {
      clearTimeout(timer);
      res({ stdout, stderr, timedOut: signal === 'SIGKILL' });
    });
    p.stdin.end(script);
  });
}

const T = suite('docs/API.md');
let node: TestNode;
let node2: TestNode;
let dir: string;

T.before(async () => {
  node = await startTestNode({ node: 'pve1', env: { RAMVM_ADMIN_PASSWORD: 'secret' } });
  node2 = await startTestNode({ node: 'pve2', env: { RAMVM_ADMIN_PASSWORD: 'secret' } });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-api-docs-'));
  for (const [name, size] of Object.entries(READER_FILES)) writeFileSync(join(dir, name), randomBytes(size));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/ramvm'), `#!/bin/sh\nexec "${process.execPath}" "${join(DIST, 'bin/ramvm')}" "$@"\n`);
  chmodSync(join(dir, 'bin/ramvm'), 0o755);
});

T.after(async () => {
  for (const n of [node, node2]) {
    if (!n) continue;
    await killGuests(n.root);
    await n.stop();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

T('should run every sh example as written and answer what the text shows', async () => {
  const blocks = shellBlocks(readFileSync(join(ROOT, 'docs/API.md'), 'utf8'));
  const commands = blocks.flatMap((b) => b.commands);
  assert.ok(commands.length > 90, `found ${commands.length} commands`);
  const env = {
    ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir,
    RAMVM_ROOT: node.root, RAMVM_DIST: DIST, RAMVM_NODE: 'pve1',
  };
  const run = await runBash(docScript(commands, node.url, { [DOCS_URL2]: node2.url, [DOCS_CLUSTER_URL]: node.server.clusterUrl }), dir, env);
  const ran = splitRun(run.stdout, run.stderr, commands.length);
  const problems = commands.flatMap((c, i) => problemsOf(c, ran[i]!));
  if (run.timedOut) problems.unshift(`timed out after ${RUN_TIMEOUT_MS} ms`);
  const tail = run.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('@@')).slice(-20).join('\n');
  assert.equal(problems, [], `${problems.length} problem(s), bash's own stderr ends:\n${tail}`);
});

T.run();
