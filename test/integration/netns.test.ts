/**
 * The namespace harness cleans up after itself, and a later run cleans up
 * after a run that was killed (SIGKILL leaves no chance for exit handlers):
 * its namespaces, links and the processes still inside them go.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../build/build';
import { createNetwork, existingNamespaces, sweepStaleNetworks } from '../helpers/netns';

/** A process that runs (a zombie waiting for its reaper does not). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

const linkExists = (name: string) => spawnSync('ip', ['link', 'show', name], { encoding: 'utf8' }).status === 0;

const N = suite('network namespaces of the test harness');

N('should remove namespaces and links on destroy()', () => {
  const net = createNetwork(2);
  assert.equal(existingNamespaces(net.id).sort(), [net.hub, ...net.nodes.map((n) => n.ns)].sort());
  assert.ok(linkExists(net.host.link));
  net.destroy();
  assert.equal(existingNamespaces(net.id), []);
  assert.not.ok(linkExists(net.host.link));
});

N('should give the host\'s end no IPv6 address, whose late arrival Chromium takes as a network change', async () => {
  const net = createNetwork(1);
  try {
    // Duplicate address detection of a link-local address ends about a second after the link is up.
    await new Promise((r) => setTimeout(r, 2500));
    const v6 = spawnSync('ip', ['-6', 'addr', 'show', 'dev', net.host.link], { encoding: 'utf8' });
    assert.is(v6.status, 0, v6.stderr);
    assert.is(v6.stdout.trim(), '', 'no inet6 address on the host\'s end');
    const v4 = spawnSync('ip', ['-4', 'addr', 'show', 'dev', net.host.link], { encoding: 'utf8' });
    assert.match(v4.stdout, /inet 10\.213\.\d+\.254\/24/);
  } finally {
    net.destroy();
  }
});

N('should sweep the network of a run that was killed, with the processes left inside it', async () => {
  // A child creates a network, starts a sleeper inside it, prints the id and waits to be killed.
  const script = `
    const { createNetwork } = require(${JSON.stringify(join(ROOT, 'test/helpers/netns.ts'))});
    const { spawn } = require('node:child_process');
    const net = createNetwork(1);
    const s = spawn('ip', ['netns', 'exec', net.nodes[0].ns, 'sleep', '600'], { detached: true, stdio: 'ignore' });
    s.unref();
    process.stdout.write(JSON.stringify({ id: net.id, link: net.host.link, sleeper: s.pid }) + '\\n');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-r', 'esbuild-register', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ id: string; link: string; sleeper: number }>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (b) => {
      out += b;
      if (out.includes('\n')) res(JSON.parse(out));
    });
    child.once('exit', (code) => rej(new Error(`child exited with ${code}: ${out}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.is(existingNamespaces(info.id).length, 2, 'the killed run left its namespaces');
  const swept = sweepStaleNetworks();
  assert.ok(swept.includes(info.id), `swept ${swept}`);
  assert.equal(existingNamespaces(info.id), []);
  assert.not.ok(linkExists(info.link));
  await new Promise((r) => setTimeout(r, 200));
  assert.not.ok(running(info.sleeper), 'the process inside the namespace is gone');
});

N.run();
