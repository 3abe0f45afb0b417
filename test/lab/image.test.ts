/**
 * The node image, booted for real: `buildImage()` makes kernel, initrd and
 * ISO from Debian's packages and dist/, then a QEMU guest (TCG here) boots
 * it twice on one sparse data disk:
 *
 *   1. kernel + initrd with lab parameters: the disk is blank, so the node
 *      formats it, creates admin (password over fw_cfg), makes its
 *      certificate there and serves HTTPS (plain HTTP on port 80 only
 *      redirects); we log in through the forwarded port, check the node from
 *      its console, and create and start a tiny guest inside it (nested KVM,
 *      tap on vmbr0); `ps` there shows lighttpd, a CGI and the guest's QEMU
 *      as non-root users, QEMU sandboxed. A backup of the guest mails its
 *      result through the node's SMTP client to a relay this test runs.
 *   2. the ISO through GRUB with no parameters at all: the node finds the
 *      disk by its label and keeps the admin from boot 1 (a new fw_cfg
 *      password is ignored) and the certificate (the same fingerprint);
 *      with no address on its command line, its console asks for the IP
 *      settings, and we type them on the serial console.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ImageBuild } from '../../build/image/image';
import { ISO_LIMIT_BYTES } from '../../build/image/layout';
import { startHub, type Hub } from '../../build/lab/hub';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { LAB_SMTP_HOST, LAB_SMTP_PORT, NodeVm, ensureSparseDisk, labAccel, type Accel } from '../../build/lab/node-vm';
import { freePort, loginClient, makeClient } from '../helpers/node';
import { startSmtpServer, type SmtpServer } from '../helpers/smtp-server';
import { openConsole } from '../integration/console-helpers';

/** Generous: two TCG guests of other suites may share the machine's two cores. */
const SERVE_TIMEOUT_MS = 360_000;
const PASSWORD = 'image-test-pw';

const T = suite('node image');
let image: ImageBuild;
let dir: string;
let hub: Hub | undefined;
let lock: LabLock | undefined;
let accel: Accel;
const vms: NodeVm[] = [];
let relay: SmtpServer | undefined;
/** The certificate the node served on its first boot (SHA-256 fingerprint), for the second. */
let firstFingerprint = '';

/** The SHA-256 fingerprint of the certificate a node serves at `url` (https://127.0.0.1:PORT). */
function servedFingerprint(url: string): Promise<string> {
  const u = new URL(url);
  return new Promise((res, rej) => {
    const s = tlsConnect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      res(fp);
    });
    s.once('error', rej);
  });
}

/** Whether plain HTTP to `url`'s port (a TLS socket) gets any answer: it must not. */
async function plainHttpAnswers(url: string): Promise<string> {
  try {
    const r = await fetch(url.replace(/^https:/, 'http:') + '/', { signal: AbortSignal.timeout(30_000) });
    return `${r.status}`;
  } catch (e) {
    return `no answer (${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message})`;
  }
}

T.before(async () => {
  lock = await acquireLabLock({ what: 'the image test', wait: true, onWait: (h) => process.stderr.write(`image test: waiting for the lab lock (${h})\n`) });
  accel = (await labAccel()).accel;
  image = await buildImage({ iso: true });
  dir = mkdtempSync(join(tmpdir(), 'ramvm-image-test-'));
  ensureSparseDisk(join(dir, 'data.img'), 4);
  hub = await startHub();
  relay = await startSmtpServer();
});

T.after(async () => {
  await Promise.all(vms.map((v) => v.stop()));
  await hub?.close();
  await relay?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  lock?.release();
});

T('should build kernel, initrd and an ISO under the limit', () => {
  for (const f of [image.kernel, image.vmlinux, image.initrd, image.iso!]) assert.ok(existsSync(f), f);
  assert.ok(statSync(image.iso!).size <= ISO_LIMIT_BYTES);
  assert.match(image.report, /node\.sfs/);
});

T('should boot from kernel + initrd, make the data disk, and let admin log in over the forwarded port', async () => {
  const vm = new NodeVm({
    name: 'imgtest', index: 1, boot: { kernel: image.vmlinux, initrd: image.initrd }, dataDisk: join(dir, 'data.img'),
    memoryMiB: 1536, cpus: 1, accel, hubPort: hub!.port, webPort: await freePort(), adminPassword: PASSWORD,
    shell: true, runDir: join(dir, 'boot1'), smtpRelayPort: relay!.port,
  });
  vms.push(vm);
  vm.start();
  try {
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);

    const api = await loginClient(vm.url, 'admin', PASSWORD);
    const tasks = await api.get('/api/task');
    assert.is(tasks.status, 200, tasks.text);
    const anon = await makeClient(vm.url).get('/api/task');
    assert.is(anon.status, 401);

    // HTTPS by default: the certificate made on this first boot, on the data disk; port 8006 speaks nothing else.
    firstFingerprint = await servedFingerprint(vm.url);
    const onDisk = await vm.exec('openssl x509 -noout -fingerprint -sha256 -in /etc/ramvm/priv/node.crt');
    assert.is(onDisk.out.trim(), `sha256 Fingerprint=${firstFingerprint}`, 'the node serves the certificate kept in /etc/ramvm/priv');
    assert.match(await plainHttpAnswers(vm.url), /^no answer/);
    // Plain HTTP on port 80 sends a browser to the HTTPS UI, path and query kept, and serves nothing itself.
    const redirect = await vm.exec("printf 'GET /api/task?x=1 HTTP/1.1\\r\\nHost: 10.99.0.1\\r\\nConnection: close\\r\\n\\r\\n' | timeout 20 nc 127.0.0.1 80");
    assert.match(redirect.out, /^HTTP\/1\.1 301 /, redirect.out);
    assert.match(redirect.out, /\r?\nLocation: https:\/\/10\.99\.0\.1:8006\/api\/task\?x=1\r?\n/, redirect.out);
    const noHost = await vm.exec("printf 'GET /api/task HTTP/1.0\\r\\n\\r\\n' | timeout 20 nc 127.0.0.1 80");
    assert.match(noHost.out, /^HTTP\/1\.0 403 /, noHost.out);

    const log = await vm.exec('cat /ram.log');
    assert.match(log.out, /data disk \/dev\/vda \(datadisk=\/dev\/vda\): blank, making ext4/);
    assert.match(log.out, /ramvm init: created user admin/);
    assert.match(log.out, /set-up done/);
    assert.not.match(log.out, /FAILED/);
    assert.not.ok(log.out.includes(PASSWORD), 'the password never reaches the log');

    assert.is((await vm.exec('grep -q " /etc/ramvm " /proc/mounts')).code, 0, 'settings live on the data disk');
    assert.is((await vm.exec('ip -4 addr show vmbr0 | grep -q "10.99.0.1/24"')).code, 0, 'vmbr0 has the LAN address');
    assert.is((await vm.exec('test -c /dev/kvm')).code, 0, 'nested KVM: kvm_amd gives /dev/kvm under -cpu max');
    assert.is((await vm.exec('qemu-img --version')).code, 0, 'qemu-img runs with its libraries');
    assert.is((await vm.exec('qemu-system-x86_64 -accel help | grep -q tcg')).code, 0, 'qemu runs and has TCG');
    const nested = await vm.exec("(echo 'info kvm'; sleep 3; echo quit) | timeout 120 qemu-system-x86_64 -accel kvm -cpu max -m 32 -nodefaults -display none -monitor stdio 2>&1", 180_000);
    assert.match(nested.out, /kvm support: enabled/, 'a guest of the node starts under nested KVM');
    assert.is((await vm.exec('drbdadm --version | grep -q DRBD_KERNEL_VERSION_CODE=0x0804')).code, 0, 'drbd-utils sees the 8.4 module');
    const minors = await vm.exec('cat /sys/module/drbd/parameters/minor_count');
    assert.is(minors.out.trim(), '8', 'DRBD loaded with the pools of 8 devices (rootfs/etc/modprobe.d/drbd.conf), not 32 MiB of them');

    // The node's own probe: nested KVM (kvm_amd inside a -cpu max node) runs a kernel's first steps.
    const res = (await api.get('/api/node/imgtest/resources')).json.data;
    process.stdout.write(`\n  the node's KVM probe (nested, the node under ${accel}): ${res.kvmProbe.accel} in ${res.kvmProbe.ms} ms: ${res.kvmProbe.reason}\n`);
    assert.is(res.kvmProbe.accel, 'kvm', res.kvmProbe.reason);
    assert.is(res.accel, 'kvm', 'auto follows the probe');

    // A tiny guest of the node: seed defaults (IDE qcow2 disk, rtl8139 NIC on vmbr0).
    const created = await api.post('/api/vm', { name: 'tiny', memory: 32, disks: [{ size: '64M' }] });
    assert.is(created.status, 201, created.text);
    const vmid = created.json.data.vmid;
    const started = await api.post(`/api/vm/${vmid}/start`);
    assert.is(started.status, 200, started.text);
    assert.is(started.json.data.status, 'running');
    const guest = (await api.get(`/api/vm/${vmid}`)).json.data;
    assert.is(guest.status, 'running');
    assert.is(guest.runtime.accel, 'kvm', 'nested KVM');
    assert.equal(guest.runtime.net.map((n: { mode: string; bridge: string }) => [n.mode, n.bridge]), [['tap', 'vmbr0']]);
    const ports = await vm.exec('ls /sys/class/net/vmbr0/brif');
    assert.is(ports.out.trim().split(/\s+/).length, 2, `eth0 and the guest's tap on vmbr0: ${ports.out}`);

    // The devices every user opens keep their modes through mdev's scan (rootfs/etc/mdev.conf).
    const devs = await vm.exec('stat -c "%n %a" /dev/null /dev/urandom /dev/net/tun');
    assert.equal(devs.out.trim().split('\n'), ['/dev/null 666', '/dev/urandom 666', '/dev/net/tun 666'], devs.out);

    // Nobody of the node's is root: lighttpd and a CGI (the console's, held open) as ramvm, the guest's QEMU as ramvm-qemu, sandboxed.
    const consoleWs = await openConsole(vm.url, vmid, { cookie: api.cookie! });
    assert.is(consoleWs.status, 101);
    try {
      const table = await vm.exec('ps -o user,pid,args | grep -E "lighttpd|\\.cgi|qemu-system" | grep -v grep');
      process.stdout.write(`\n  ps on the node, a guest running and its console open:\n${table.out.replace(/^/gm, '    ')}\n`);
      const uids = await vm.exec('for p in $(pidof lighttpd) $(ps -o pid,args | grep "[c]onsole.cgi" | cut -c1-6) $(pidof qemu-system-x86_64); do echo "$(tr "\\0" " " < /proc/$p/cmdline | cut -c1-60)|$(grep ^Uid: /proc/$p/status | cut -f2)|$(grep ^Seccomp: /proc/$p/status | cut -f2)"; done');
      const rows = uids.out.trim().split('\n').map((l) => l.split('|'));
      const uidOf = (re: RegExp) => rows.filter(([cmd]) => re.test(cmd!)).map(([, uid]) => uid);
      assert.equal(uidOf(/^\/usr\/sbin\/lighttpd/), ['200'], uids.out);
      assert.equal(uidOf(/console\.cgi/), ['200'], uids.out);
      assert.equal(uidOf(/^qemu-system/), ['201'], uids.out);
      assert.equal(rows.filter(([cmd]) => /^qemu-system/.test(cmd!)).map(([, , sec]) => sec), ['2'], 'QEMU\'s seccomp filter is on');
    } finally {
      consoleWs.ws?.close();
    }
    assert.is((await api.post(`/api/vm/${vmid}/stop`)).status, 200);

    // Mail from the image: a backup's result through the node's own SMTP client to the lab's relay.
    const mail = await api.put('/api/backup/mail', { from: 'ramvm@imgtest', transport: 'smtp', smtp: { host: LAB_SMTP_HOST, port: LAB_SMTP_PORT, security: 'none' } });
    assert.is(mail.status, 200, mail.text);
    const backup = await api.post('/api/backup/run', { vmid, storage: 'local', mailto: 'it@example.com', mailOnSuccess: true });
    assert.is(backup.status, 202, backup.text);
    const mailDeadline = Date.now() + SERVE_TIMEOUT_MS;
    while (relay!.messages.length === 0 && Date.now() < mailDeadline) await new Promise((r) => setTimeout(r, 500));
    const got = relay!.messages[0];
    assert.ok(got, `no mail reached the relay; the task: ${(await api.get(`/api/task/${backup.json.data.task}/log`)).text.slice(-800)}`);
    assert.is(got.from, 'ramvm@imgtest');
    assert.equal(got.to, ['it@example.com']);
    assert.match(got.data, /^Subject: ramvm backup ok on imgtest: manual backup \(1 guests\)\r?$/m);
    assert.is((await vm.exec(`test -f /var/lib/vz/images/${vmid}/vm-${vmid}-disk-0.qcow2 && grep -q ' /var/lib/vz ' /proc/mounts`)).code, 0, 'the guest disk lies on the data disk');
    await vm.exec('sync');
  } finally {
    await vm.stop();
  }
});

T('should boot the ISO with GRUB defaults, find the data disk by label, keep its settings and ask for the IP settings on its console', async () => {
  const vm = new NodeVm({
    name: 'imgtest', index: 2, boot: { iso: image.iso! }, dataDisk: join(dir, 'data.img'),
    memoryMiB: 1536, cpus: 1, accel, hubPort: hub!.port, webPort: await freePort(), adminPassword: 'another-password',
    shell: false, runDir: join(dir, 'boot2'),
  });
  vms.push(vm);
  vm.start();
  try {
    // The console asks (30 s, then DHCP): address, gateway, DNS, typed on the serial console.
    await vm.waitSerial(/IP address\/prefix \(e\.g\. 192\.168\.1\.10\/24\): $/m, SERVE_TIMEOUT_MS);
    await vm.typeSerial([...'10.99.0.300/24\r\r\r']);
    await vm.waitSerial(/address: "10\.99\.0\.300\/24" is no IPv4 address with a prefix length[\s\S]*try again/, 60_000);
    // The question comes again right after "try again": look from there.
    const mark = vm.serialLog().lastIndexOf('try again');
    await vm.waitSerial(/IP address\/prefix \(e\.g\. 192\.168\.1\.10\/24\): $/m, 60_000, mark);
    await vm.typeSerial([...'10.99.0.9/24\r10.99.0.254\r10.99.0.254\r']);
    const shown = await vm.waitSerial(/open in a browser:[\s\S]*?https:\/\/10\.99\.0\.9:8006\/[\s\S]*?\n(administrator: [^\n]*)/, 120_000, mark);
    assert.match(shown[1]!, /^administrator: admin \(its password was set at the first boot of this data disk\)/);
    await vm.waitServing(PASSWORD, SERVE_TIMEOUT_MS);
    const bad = await makeClient(vm.url).post('/api/access/ticket', { username: 'admin', password: 'another-password' });
    assert.is(bad.status, 401, 'the fw_cfg password of a second boot is ignored: admin exists on the disk');
    assert.ok(firstFingerprint, 'boot 1 saw a certificate');
    assert.is(await servedFingerprint(vm.url), firstFingerprint, 'the certificate of the first boot, kept on the data disk');
    const serial = vm.serialLog();
    assert.match(serial, /the filesystem labelled ramvm-data/);
    assert.match(serial, /users kept from the data disk; node certificate \/etc\/ramvm\/priv\/node\.crt kept from an earlier boot/);
    assert.match(serial, new RegExp(`https: certificate /etc/ramvm/priv/node\\.crt, SHA-256 fingerprint ${firstFingerprint}`));
    const api = await loginClient(vm.url, 'admin', PASSWORD);
    assert.is((await api.get('/api/task')).status, 200);
    const list = (await api.get('/api/vm')).json.data;
    assert.equal(list.map((g: { name: string; status: string }) => [g.name, g.status]), [['tiny', 'stopped']], 'the guest from boot 1 is on the disk');
    // No ramvm.node= on this boot: the node named itself, as its console says.
    const named = [...serial.matchAll(/ramvm node (\S+), web UI on/g)].pop()?.[1];
    assert.ok(named, 'the console names the node');
    const setupLog = (await api.get(`/api/node/${named}/setup-log`)).json.data;
    assert.is(setupLog.percent, 100);
    assert.ok(setupLog.lines.some((l: string) => /console: vmbr0 has 10\.99\.0\.9\/24 now, gateway 10\.99\.0\.254, DNS 10\.99\.0\.254 \(typed on the console\)/.test(l)), setupLog.lines.slice(-5).join('\n'));
  } finally {
    await vm.stop();
  }
});

T.run();
