/**
 * A test process stopped by a signal (a CI timeout, ^C, `npm test` passing
 * one on) leaves nothing running: its test nodes' guests and lighttpd, its
 * namespaces and what runs in them end, its temporary root goes
 * (test/helpers/suite.ts turns the signal into an exit, whose handlers in
 * node.ts and netns.ts do the work). A SIGKILL leaves no chance for that:
 * netns.test.ts covers the sweep that cleans up after one.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../build/build';
import { existingNamespaces } from '../helpers/netns';
import { waitFor } from '../helpers/guest';

/** A process that runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

interface ChildInfo {
  root: string;
  qemu: number;
  lighttpd: number;
  netId: string;
  sleeper: number;
}

const S = suite('a test process stopped by a signal');

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  S(`should end its node's guest and lighttpd, its namespaces and its root on ${sig}, and exit 128 + the signal`, async () => {
    // A child as a test file is: the suite helper loaded, a node with a running guest, a namespace with a process inside.
    const h = (f: string) => JSON.stringify(join(ROOT, 'test/helpers', f));
    const script = `
      require(${h('suite.ts')});
      const { startTestNode } = require(${h('node.ts')});
      const { createSectorGuest, guestPids } = require(${h('guest.ts')});
      const { createNetwork } = require(${h('netns.ts')});
      const { spawn } = require('node:child_process');
      (async () => {
        const node = await startTestNode();
        const api = await node.login('admin', node.adminPassword);
        const vmid = await createSectorGuest(api, node.root, { name: 'left-running' });
        const s = await api.post('/api/vm/' + vmid + '/start');
        if (s.status !== 200) throw new Error('start: ' + s.text);
        const net = createNetwork(1);
        const sleeper = spawn('ip', ['netns', 'exec', net.nodes[0].ns, 'sleep', '600'], { detached: true, stdio: 'ignore' });
        sleeper.unref();
        process.stdout.write(JSON.stringify({ root: node.root, qemu: guestPids(node.root)[0], lighttpd: node.server.proc.pid, netId: net.id, sleeper: sleeper.pid }) + '\\n');
        setInterval(() => {}, 1000);
      })().catch((e) => { console.error(e); process.exit(2); });`;
    const child = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const info = await new Promise<ChildInfo>((res, rej) => {
      child.stdout!.on('data', (b) => {
        out += b;
        if (out.includes('\n')) res(JSON.parse(out.split('\n')[0]!) as ChildInfo);
      });
      void exited.then((code) => rej(new Error(`child exited with ${code} before it was ready: ${out}`)));
    });
    assert.ok(running(info.qemu), `the guest runs (pid ${info.qemu})`);
    assert.ok(running(info.lighttpd), 'lighttpd runs');
    assert.is(existingNamespaces(info.netId).length, 2, 'its namespaces exist');

    child.kill(sig);
    const code = await exited;
    assert.is(code, sig === 'SIGTERM' ? 143 : 130, out);
    assert.match(out, `stopped by ${sig}: ending this run's nodes, guests and namespaces`);
    // SIGKILLed by pid in the exit handler; the kernel may take a moment to reap what the child's exit orphaned.
    await waitFor('the guest, lighttpd and the sleeper gone', () => (![info.qemu, info.lighttpd, info.sleeper].some(running) ? true : null), 5_000);
    assert.not.ok(existsSync(info.root), `${info.root} removed`);
    assert.equal(existingNamespaces(info.netId), [], 'its namespaces removed');
  });
}

S.run();
