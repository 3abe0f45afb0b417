/**
 * A node started by root is separated, shown on the running processes:
 * lighttpd and its CGIs run as ramvm, a guest's QEMU as ramvm-qemu under its
 * seccomp sandbox without capabilities, and root is reached only through
 * the root helper, which logs every call and refuses what is not on its
 * list. Then the attacks of a full Administrator through the raw monitor:
 * running a program (migrate to exec:), writing as root (screendump and
 * dump-guest-memory to root's folders) and reading the node's keys
 * (drive_add of etc/ramvm/priv/authkey) all fail.
 *
 * A checkout the node's user cannot reach (below /root on a fresh Debian)
 * is served from root's copy in the registry, and the copy goes with the
 * node.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useNode } from '../helpers/fixture';
import { waitFor } from '../helpers/guest';
import { consoleCgiPids, openConsole, startConsoleGuest, type WsClient } from './console-helpers';
import { nodeKey, registryDir } from '../../node-cgi/lib/paths';
import { rootCallArgv, type NodeRecord } from '../../node-cgi/lib/separation';
import { sudoersFile } from '../../node-cgi/root/setup';
import { DIST, ROOT } from '../../build/build';
import { startTestNode } from '../helpers/node';
import { armHelper } from '../../node-cgi/drbd/armed';
import { drbdRecordText } from '../../node-cgi/drbd/record';
import { rejection } from '../helpers/rejection';

const S = suite('privilege separation');
const fx = useNode(S);
const VMID = 141;
let rec: NodeRecord;
let qemuPid = 0;

/** A field of /proc/<pid>/status. */
function status(pid: number, field: string): string {
  const m = new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return m[1]!.trim();
}
const ids = (n: number) => [n, n, n, n].join('\t');

/** `ps` as a reader would run it: user name, pid, command. */
function ps(pids: number[]): string {
  return spawnSync('ps', ['-o', 'user:12=,pid=,args=', '-p', pids.join(',')], { encoding: 'utf8' }).stdout;
}

/** Run argv as the node's user (what a CGI that an attacker took over could run). */
function asNodeUser(argv: string[], r = rec) {
  return spawnSync('setpriv', [`--reuid=${r.cgi.uid}`, `--regid=${r.cgi.gid}`, '--init-groups', '--', ...argv], { encoding: 'utf8', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
}

S.before(async () => {
  rec = fx.node.server.record!;
  qemuPid = await startConsoleGuest(fx, VMID);
});

S('should be separated when started by root: two users of its own, none of them root', () => {
  assert.ok(rec, 'a node record');
  assert.equal([rec.cgi.user, rec.qemu.user], ['ramvm', 'ramvm-qemu']);
  assert.ok(rec.cgi.uid > 0 && rec.qemu.uid > 0 && rec.cgi.uid !== rec.qemu.uid);
  assert.is(rec.qemu.gid, rec.cgi.gid, 'disks and sockets are shared through ramvm\'s group');
});

S('should run lighttpd and a CGI as ramvm and the guest\'s QEMU as ramvm-qemu, sandboxed, without capabilities', async () => {
  const lighttpd = fx.node.server.proc.pid!;
  const c = await openConsole(fx.node.url, VMID, { cookie: fx.admin.cookie! });
  assert.is(c.status, 101);
  const ws = c.ws as WsClient;
  try {
    const [cgi] = await waitFor('console.cgi running', () => (consoleCgiPids(fx.root).length ? consoleCgiPids(fx.root) : null));
    const table = ps([lighttpd, cgi!, qemuPid]);
    process.stdout.write(`\n${table}`);
    const users = table.trim().split('\n').map((l) => l.trim().split(/\s+/).slice(0, 2));
    assert.equal(users.map(([u]) => u).sort(), ['ramvm', 'ramvm', 'ramvm-qemu']);
    for (const pid of [lighttpd, cgi!]) {
      assert.is(status(pid, 'Uid'), ids(rec.cgi.uid), `pid ${pid} runs as ramvm`);
      assert.is(status(pid, 'CapEff'), '0000000000000000');
    }
    assert.is(status(qemuPid, 'Uid'), ids(rec.qemu.uid));
    assert.is(status(qemuPid, 'Gid'), ids(rec.cgi.gid));
    assert.is(status(qemuPid, 'Seccomp'), '2', 'QEMU\'s seccomp filter is on');
    assert.is(status(qemuPid, 'NoNewPrivs'), '1');
    assert.is(status(qemuPid, 'CapEff'), '0000000000000000');
    assert.is(status(qemuPid, 'CapBnd'), '0000000000000000');
  } finally {
    ws.close();
  }
});

S('should keep QEMU out of the node\'s keys and configs, and share disks and sockets with ramvm only', () => {
  const mode = (p: string) => (spawnSync('stat', ['-c', '%U:%G %a', join(fx.root, p)], { encoding: 'utf8' }).stdout.trim());
  assert.is(mode('etc/ramvm'), 'ramvm:ramvm 700');
  assert.is(mode('etc/ramvm/priv'), 'ramvm:ramvm 700');
  // The node's keys (the cluster's key, TLS key and the pem lighttpd serves with) are ramvm's alone.
  for (const key of ['authkey', 'node.key', 'node.pem']) assert.is(mode(`etc/ramvm/priv/${key}`), 'ramvm:ramvm 600', key);
  assert.is(mode('var/log/ramvm'), 'ramvm:ramvm 700');
  assert.is(mode('run/ramvm/qemu'), 'ramvm:ramvm 770');
  assert.is(mode(`run/ramvm/qemu/${VMID}.qmp`), 'ramvm-qemu:ramvm 770');
  const asQemu = spawnSync('setpriv', [`--reuid=${rec.qemu.uid}`, `--regid=${rec.qemu.gid}`, '--clear-groups', 'cat', join(fx.root, 'etc/ramvm/priv/authkey')], { encoding: 'utf8' });
  assert.match(asQemu.stderr, /Permission denied/);
});

S('should log every call of the root helper, with the caller and the answer', () => {
  const log = readFileSync('/run/ramvm-root/helper.log', 'utf8').split('\n').filter((l) => l.includes(`key=${nodeKey(fx.root)}`));
  assert.ok(log.some((l) => new RegExp(`uid=${rec.cgi.uid} key=\\w+ start-guest ${VMID} (tcg|kvm) → ok \\(\\d+ ms\\)$`).test(l)), log.join('\n'));
});

S('should refuse the node\'s user anything off the helper\'s list, and anything else as root', () => {
  const key = nodeKey(fx.root);
  const off = asNodeUser(rootCallArgv(rec, 'exec', ['/bin/sh']));
  assert.is(off.status, 2);
  assert.match(off.stdout, /"code":"forbidden","message":"root helper: unknown operation \\"exec\\"/);
  const badId = asNodeUser(rootCallArgv(rec, 'stop-guest', ['1;id']));
  assert.is(badId.status, 2);
  assert.match(badId.stdout, /vmid: must be an integer/);
  const otherNode = asNodeUser(rootCallArgv({ ...rec, root: '/tmp/no-such-ramvm-node' }, 'ping', []));
  assert.match(otherNode.stdout, /no node is registered as [0-9a-f]{16}/);
  const ping = asNodeUser(rootCallArgv(rec, 'ping', []));
  assert.is(ping.status, 0, ping.stderr);
  assert.equal(JSON.parse(ping.stdout), { ok: { uid: 0, root: fx.root } });
  // Not through sudo: the helper is nobody's but root's.
  const direct = asNodeUser([rec.node, rec.helper, key, 'ping']);
  assert.match(direct.stdout, /runs as root only/);
  // sudo itself: the one line allows the helper and nothing else.
  for (const argv of [['sudo', '-n', '/usr/bin/id'], ['sudo', '-n', rec.node, '-e', 'process.exit(0)'], ['sudo', '-n', '-E', rec.node, rec.helper, key, 'ping']]) {
    const r = asNodeUser(argv);
    assert.is.not(r.status, 0, `${argv.join(' ')} ran as root`);
    assert.match(r.stderr, /password is required|not allowed|may not/, argv.join(' '));
  }
});

S('should arm a disconnect through sudo, do nothing without its go, and run drbdadm on it', async () => {
  // Guest VMID's disk 0 as a replicated disk's record, the node's user's; this host has drbdadm but no DRBD module.
  const dir = join(fx.root, 'var/lib/vz/images', String(VMID));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `vm-${VMID}-disk-0.drbd.json`);
  writeFileSync(file, drbdRecordText({ resource: `vm-${VMID}-disk-0`, minor: 0, bytes: 2 ** 20, hosts: [{ name: 'n1', address: '10.0.0.1' }, { name: 'n2', address: '10.0.0.2' }] }));
  chownSync(file, rec.cgi.uid, rec.cgi.gid);
  const asUser = (args: string[]) => ['setpriv', `--reuid=${rec.cgi.uid}`, `--regid=${rec.cgi.gid}`, '--init-groups', '--', ...rootCallArgv(rec, 'disconnect-on-go', args)];
  try {
    const missing = await rejection(armHelper(asUser([String(VMID), '1'])), Error);
    assert.match(missing.message, `guest ${VMID} has no replicated disk 1`);
    const dismissed = await armHelper(asUser([String(VMID), '0']));
    assert.equal(dismissed.resources, [`vm-${VMID}-disk-0`]);
    dismissed.dismiss();
    const armed = await armHelper(asUser([String(VMID), '0']));
    const failed = await rejection(armed.go(), Error);
    assert.match(failed.message, /drbdadm/, 'the go reached the helper, which ran drbdadm disconnect (no module here)');
    const log = readFileSync('/run/ramvm-root/helper.log', 'utf8').split('\n').filter((l) => l.includes(`key=${nodeKey(fx.root)} disconnect-on-go ${VMID} 0`));
    assert.ok(log.some((l) => /→ conflict: armed disconnect: dismissed before the go, nothing done/.test(l)), `the dismissed helper did nothing:\n${log.join('\n')}`);
  } finally {
    rmSync(file, { force: true });
  }
});

S('should write nothing as root through the raw monitor: screendump and dump-guest-memory to root\'s folders fail', async () => {
  const tag = randomBytes(4).toString('hex');
  const targets = [`/root/ramvm-screendump-${tag}.ppm`, join(fx.root, `etc/ramvm/priv/screendump-${tag}.ppm`)];
  for (const t of targets) {
    const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: `screendump ${t}` });
    assert.is(r.status, 200, r.text);
    assert.match(r.json.data.output, /Permission denied/);
    assert.not.ok(existsSync(t), `${t} was written`);
  }
  const dump = `/root/ramvm-memory-${tag}.elf`;
  const d = await fx.admin.post(`/api/monitor/${VMID}`, { command: `dump-guest-memory ${dump}` });
  assert.match(d.text, /Permission denied/);
  assert.not.ok(existsSync(dump));
});

S('should not let the raw monitor read the node\'s keys', async () => {
  const key = join(fx.root, 'etc/ramvm/priv/authkey');
  const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: `drive_add 0 if=none,id=steal,file=${key},format=raw,readonly=on` });
  assert.match(r.text, /Permission denied/);
  const info = await fx.admin.post(`/api/monitor/${VMID}`, { command: 'info block steal' });
  assert.not.match(info.text, /authkey/);
});

S('should execute nothing for a full Administrator\'s migrate to exec: the sandbox ends QEMU first', async () => {
  const marker = `/tmp/ramvm-exploit-${randomBytes(4).toString('hex')}`;
  const r = await fx.admin.post(`/api/monitor/${VMID}`, { command: `migrate -d "exec:id > ${marker}"` });
  // QEMU's fork is refused by its seccomp filter, which kills QEMU (SIGSYS): the monitor call gets no answer.
  assert.is.not(r.status, 200, r.text);
  await waitFor('the guest\'s QEMU gone', () => !existsSync(`/proc/${qemuPid}`) || /\) Z /.test(readFileSync(`/proc/${qemuPid}/stat`, 'utf8')));
  await new Promise((res) => setTimeout(res, 500));
  assert.not.ok(existsSync(marker), `${marker}: a program ran`);
  const after = (await fx.admin.get(`/api/vm/${VMID}`)).json.data;
  assert.is(after.status, 'stopped');
  assert.match(after.note ?? '', /ended without a shutdown/);
  // The guest starts again; its taps and files are cleaned by the next start.
  await fx.startGuest(VMID);
});

S.run();

const U = suite('a checkout the node\'s user cannot reach');
/** Root's and closed to others, like a checkout below /root: a fixed path, so its sudoers file is one across runs (and removed after). */
const HIDDEN = join(ROOT, '.cache/unreachable-checkout');
U.after(() => {
  rmSync(HIDDEN, { recursive: true, force: true });
  rmSync(sudoersFile(join(HIDDEN, 'dist/bin/ramvm-root')), { force: true });
});
U('should serve root\'s copy of the build from the registry, run the helper from the checkout, and drop the registry with the node', async () => {
  rmSync(HIDDEN, { recursive: true, force: true });
  mkdirSync(HIDDEN, { recursive: true, mode: 0o700 });
  cpSync(DIST, join(HIDDEN, 'dist'), { recursive: true });
  const node = await startTestNode({ node: 'hiddennode', dist: join(HIDDEN, 'dist') });
  let served = '';
  try {
    served = node.server.dist;
    assert.is(served, join(registryDir(node.root), 'dist'));
    const admin = await node.login('admin', node.adminPassword);
    const me = await admin.get('/api/access/me');
    assert.is(me.status, 200, me.text);
    const rec = node.server.record!;
    assert.is(rec.helper, join(HIDDEN, 'dist/bin/ramvm-root'), 'root runs the checkout\'s helper');
    const ping = asNodeUser(rootCallArgv(rec, 'ping', []), rec);
    assert.is(ping.status, 0, ping.stderr);
    assert.equal(JSON.parse(ping.stdout).ok.uid, 0, 'the node\'s user reaches root through the helper of the checkout');
    // Where the helper writes the DRBD resource files of the node's replicated disks (root/drbd.ts rootResourceFile).
    mkdirSync(join(registryDir(node.root), 'drbd'));
    writeFileSync(join(registryDir(node.root), 'drbd', `vm-${VMID}-disk-0.res`), `resource vm-${VMID}-disk-0 {}\n`);
  } finally {
    await node.stop();
  }
  assert.not.ok(existsSync(served), `${served} outlives its node`);
  assert.not.ok(existsSync(registryDir(node.root)), 'the registration outlives its node (a resource file kept its folder)');
});
U.run();
