/**
 * One booted pair of lab nodes (the node image, TCG here) for every DRBD
 * lab suite: the first suite that needs it boots it, the last one that
 * used it powers it off. uvu loads every test file of a run before it runs
 * the first suite, so each file's `useDrbdLab(T)` at load time counts its
 * suite in; a run of one file alone boots and ends the pair for that file.
 *
 *   const T = suite('…');
 *   const lab = useDrbdLab(T, () => d.remove()); // before: the pair serves; after: d removed, powered off after the last suite
 *   const d = lab.disk(111, 5);                   // resource vm-111-disk-0, minor 5
 *   await d.writeRecords();
 *   await d.helper(0, 'create');               // node1's root helper, asked by the node's user as a CGI asks
 *   await d.until(1, 'UpToDate', (x) => x.disk === 'UpToDate');
 *
 * Every DRBD step goes through the node's root helper as the node's user
 * (sudo -n, the one sudoers line), as the CGIs ask for it (root/drbd.ts):
 *
 *   setpriv --reuid=ramvm … sudo -n /usr/bin/node …/ramvm-root <key> drbd <step> <vmid> <disk>
 *
 * With RAMVM_DRBD_CAPTURE=<dir> every /proc/drbd read under a name is kept
 * there (the parser's fixtures under test/unit/drbd/fixtures came from such runs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'uvu';
import { buildImage } from '../../build/image/image';
import { startHub, type Hub } from '../../build/lab/hub';
import { acquireLabLock, type LabLock } from '../../build/lab/lock';
import { LAB_NET_PREFIX, NodeVm, ensureSparseDisk, labAccel } from '../../build/lab/node-vm';
import type { DrbdHelperStep } from '../../node-cgi/drbd/commands';
import { readProcDrbd, type DrbdRunner } from '../../node-cgi/drbd/edge';
import { deviceOf, type DrbdDeviceState, type ProcDrbd } from '../../node-cgi/drbd/proc';
import { drbdRecordText, type DrbdRecord } from '../../node-cgi/drbd/record';
import { drbdDevice, drbdResourceName } from '../../node-cgi/drbd/resource';
import { parseNodeRecord, type NodeRecord } from '../../node-cgi/lib/separation';
import { freePort, loginClient, type Client } from './node';
import { waitTask } from './cluster';
import { waitFor } from './guest';

/** Generous: a TCG boot, while other suites may share the machine's two cores. */
export const SERVE_TIMEOUT_MS = 420_000;
export const STATE_TIMEOUT_MS = 120_000;
export const LAB_PASSWORD = 'drbd-lab-pw';
export const LAB_DISK_BYTES = 64 * 2 ** 20; // 64 MiB

/** ' quoted for the node's sh. */
export const shq = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

export type ConsoleRunner = DrbdRunner & { sh(cmd: string): Promise<string> };

/** A lab node's root console: sh, and a program found on PATH as a spawn finds it (the console's busybox ash would run its own applet of the name). */
function consoleRunner(vm: NodeVm): ConsoleRunner {
  const sh = async (cmd: string) => {
    const r = await vm.exec(cmd, STATE_TIMEOUT_MS);
    if (r.code !== 0) throw new Error(`${vm.config.name}: ${cmd} → exit ${r.code}: ${r.out.slice(-800)}`);
    return r.out;
  };
  return {
    sh,
    run: ([cmd, ...args]) => sh(`p=$(which ${shq(cmd!)}) && "$p" ${args.map(shq).join(' ')} 2>&1`),
    write: async (file, text) => {
      const dir = file.slice(0, file.lastIndexOf('/'));
      await sh(`mkdir -p ${shq(dir)} && echo ${Buffer.from(text).toString('base64')} | base64 -d > ${shq(file)}`);
    },
    read: (file) => sh(`cat ${shq(file)}`),
  };
}

/** One replicated disk of the pair, driven step by step through each node's root helper. */
export interface LabDisk {
  record: DrbdRecord;
  vmid: number;
  minor: number;
  /** /dev/drbdN */
  dev: string;
  /** The backing file on both nodes. */
  file: string;
  /** The record written on both nodes by the node's user, as the API writes it, flushed (a node powered off later finds it). */
  writeRecords(): Promise<void>;
  helper(i: number, step: DrbdHelperStep): Promise<{ resource: string; device: string; splitBrain?: boolean }>;
  /** The root helper's `disconnect-on-go <vmid> 0` on node i, its stdin what shell command `feed` prints; its stdout lines. */
  disconnectOnGo(i: number, feed: string): Promise<string[]>;
  /** Polls node i's /proc/drbd until `ok` holds for this minor; returns it and the ms it took. */
  until(i: number, what: string, ok: (d: DrbdDeviceState) => boolean): Promise<{ dev: DrbdDeviceState; ms: number }>;
  /** 4 KiB of `tag` written by the QEMU user at 4 KiB block `block` of the device, flushed. */
  writeBlock(i: number, block: number, tag: string): Promise<string>;
  /** What the QEMU user reads back there, `bytes` long. */
  readBlock(i: number, block: number, bytes: number): Promise<string>;
  /** `data` (whole 512-byte sectors) written by the QEMU user from sector `lba` of the device, flushed: a boot sector for the guest, say. */
  writeSectors(i: number, lba: number, data: Buffer): Promise<void>;
  /** Down on both (ignoring "not up"), records and backing files removed. */
  remove(): Promise<void>;
}

export class DrbdLab {
  readonly vms: NodeVm[] = [];
  readonly runners: ConsoleRunner[] = [];
  /** Each node's record for its root helper (users, the helper's path) and its key. */
  readonly nodes: { rec: NodeRecord; key: string }[] = [];
  readonly captureDir = process.env.RAMVM_DRBD_CAPTURE;
  private dir = '';
  private hub: Hub | undefined;
  private lock: LabLock | undefined;
  private clients: Client[] | undefined;

  /** Runs `cmd` (a shell command) on node i as user `u`, with that user's groups. */
  asUserCmd(i: number, u: 'cgi' | 'qemu', cmd: string): string {
    const x = this.nodes[i]!.rec[u];
    return `$(which setpriv) --reuid=${x.uid} --regid=${x.gid} --init-groups sh -c ${shq(cmd)}`;
  }

  /**
   * `ramvm <args>` on node i as the node's user, with the environment its
   * CGIs get (lighttpd's setenv lines of /etc/lighttpd/ramvm.conf): what
   * cron runs each minute (`ramvm cluster tick`), asked for at once.
   */
  cli(i: number, args: string[]): Promise<string> {
    const env = `$(sed -n 's/^ *"\\(RAMVM_[A-Z_]*\\)" => "\\(.*\\)",*$/\\1=\\2/p' /etc/lighttpd/ramvm.conf)`;
    return this.runners[i]!.sh(this.asUserCmd(i, 'cgi', `env ${env} $(which node) /opt/ramvm/dist/bin/ramvm ${args.map(shq).join(' ')} 2>&1`));
  }

  /** /proc/drbd of node i (0-based), parsed, the raw text kept under `name` when capturing. */
  async proc(i: number, name?: string): Promise<ProcDrbd> {
    const text = await this.runners[i]!.read('/proc/drbd');
    if (this.captureDir && name) writeFileSync(join(this.captureDir, `${name}.node${i + 1}.txt`), text);
    return readProcDrbd({ ...this.runners[i]!, read: async () => text });
  }

  /** Node i's serial log of guest `vmid` (COM1, truncated at each start); empty before the guest made it. */
  serialLog(i: number, vmid: number): Promise<string> {
    return this.runners[i]!.sh(`cat /run/ramvm/qemu/${vmid}.serial.log 2>/dev/null; true`);
  }

  /** Powers node i on (again) and waits until it serves; the ms that took. */
  async boot(i: number): Promise<number> {
    const vm = this.vms[i]!;
    vm.start();
    const ms = await vm.waitServing(LAB_PASSWORD, SERVE_TIMEOUT_MS);
    this.runners[i] = consoleRunner(vm);
    const key = (await this.runners[i]!.sh('ls /run/ramvm-root | grep -E "^[0-9a-f]{16}$"')).trim();
    this.nodes[i] = { key, rec: parseNodeRecord(await this.runners[i]!.read(`/run/ramvm-root/${key}/node.json`)) };
    return ms;
  }

  async start(): Promise<void> {
    this.lock = await acquireLabLock({ what: 'the drbd lab tests', wait: true, onWait: (h) => process.stderr.write(`drbd lab: waiting for the lab lock (${h})\n`) });
    const accel = (await labAccel()).accel;
    const image = await buildImage({ iso: false });
    this.dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-lab-'));
    if (this.captureDir) mkdirSync(this.captureDir, { recursive: true });
    this.hub = await startHub();
    for (const i of [1, 2]) {
      const disk = join(this.dir, `node${i}.img`);
      ensureSparseDisk(disk, 2);
      this.vms.push(new NodeVm({
        name: `node${i}`, index: i, boot: { kernel: image.vmlinux, initrd: image.initrd }, dataDisk: disk,
        memoryMiB: 1024, cpus: 1, accel, hubPort: this.hub.port, webPort: await freePort(), adminPassword: LAB_PASSWORD,
        shell: true, runDir: join(this.dir, `node${i}`),
      }));
    }
    const ms = await Promise.all([0, 1].map((i) => this.boot(i)));
    process.stdout.write(`\n  lab nodes serving ${ms.map((m) => `${(m / 1000).toFixed(0)} s`).join(', ')} after power-on\n`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.vms.map((v) => v.stop()));
    await this.hub?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.lock?.release();
  }

  /**
   * The two nodes as one cluster, made through the API once for all suites
   * (node1 master); logged-in clients of both. Made over the lab's LAN
   * (node2's console asks node1 at 10.99.0.1): a node's cluster URL is the
   * address the create came in on, and the test's own way in is QEMU's
   * user network (10.0.2.15).
   */
  async cluster(): Promise<Client[]> {
    if (this.clients) return this.clients;
    const [m, n] = await Promise.all(this.vms.map((v) => loginClient(v.url, 'admin', LAB_PASSWORD)));
    const script = `(async()=>{const u='https://${LAB_NET_PREFIX}1:8006';` +
      `let r=await fetch(u+'/api/access/ticket',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({username:'admin',password:${JSON.stringify(LAB_PASSWORD)}})});` +
      `const t=(await r.json()).data;` +
      `r=await fetch(u+'/api/cluster',{method:'POST',headers:{'content-type':'application/json',cookie:'RamvmAuth='+encodeURIComponent(t.ticket),'X-Ramvm-CSRF':t.csrf},body:JSON.stringify({name:'lab'})});` +
      `console.log(r.status,await r.text())})()`;
    // The node serves its own self-signed certificate; this one-off call inside the lab trusts it.
    const created = await this.runners[1]!.sh(`NODE_TLS_REJECT_UNAUTHORIZED=0 $(which node) --no-warnings -e ${shq(script)} 2>&1`);
    if (!/^200 /.test(created)) throw new Error(`cluster create on node1: ${created}`);
    const tok = await m!.post('/api/cluster/token', {});
    if (tok.status !== 200) throw new Error(`join token: ${tok.text}`);
    const j = await n!.post('/api/cluster/join', { master: `https://${LAB_NET_PREFIX}1:8007`, token: tok.json.data.token, fingerprint: tok.json.data.fingerprint });
    if (j.status !== 202) throw new Error(`join: ${j.text}`);
    const t = await waitTask(n!, j.json.data.task, STATE_TIMEOUT_MS, () => loginClient(this.vms[1]!.url, 'admin', LAB_PASSWORD));
    if (t.status !== 'ok') throw new Error(`join task: ${t.message}`);
    const clients = await Promise.all(this.vms.map((v) => loginClient(v.url, 'admin', LAB_PASSWORD)));
    // node2 serves again once its join has restarted it: node1 sees it online within a poll or two.
    await waitFor('node2 online in node1\'s view', async () => {
      const r = await clients[0]!.get('/api/cluster');
      return r.status === 200 && r.json.data.nodes.every((x: { online: boolean }) => x.online) ? r : null;
    }, STATE_TIMEOUT_MS, 1000);
    this.clients = clients;
    return clients;
  }

  /** A logged-in client of node i again (after its reboot). */
  async relogin(i: number): Promise<Client> {
    const c = await loginClient(this.vms[i]!.url, 'admin', LAB_PASSWORD);
    if (this.clients) this.clients[i] = c;
    return c;
  }

  /** Disk 0 of guest `vmid` replicated between node1 (first) and node2 on DRBD minor `minor`. */
  disk(vmid: number, minor: number, bytes = LAB_DISK_BYTES): LabDisk {
    const record: DrbdRecord = {
      resource: drbdResourceName(vmid, 0), minor, bytes,
      hosts: [{ name: 'node1', address: `${LAB_NET_PREFIX}1` }, { name: 'node2', address: `${LAB_NET_PREFIX}2` }],
    };
    const imagesDir = `/var/lib/vz/images/${vmid}`;
    const file = `${imagesDir}/${record.resource}.drbd`;
    const dev = drbdDevice(minor);
    const lab = this;
    const helper: LabDisk['helper'] = async (i, step) => {
      const { rec, key } = lab.nodes[i]!;
      const out = await lab.runners[i]!.sh(`${lab.asUserCmd(i, 'cgi', `$(which sudo) -n ${rec.node} ${rec.helper} ${key} drbd ${step} ${vmid} 0`)} 2>&1; true`);
      const a = JSON.parse(out.trim().split('\n').pop()!) as { ok?: { resource: string; device: string; splitBrain?: boolean }; error?: { message: string } };
      if (!a.ok) throw new Error(`node${i + 1}: drbd ${step}: ${out.trim()}`);
      return a.ok;
    };
    const disconnectOnGo: LabDisk['disconnectOnGo'] = async (i, feed) => {
      const { rec, key } = lab.nodes[i]!;
      const out = await lab.runners[i]!.sh(`{ ${feed}; } | ${lab.asUserCmd(i, 'cgi', `$(which sudo) -n ${rec.node} ${rec.helper} ${key} disconnect-on-go ${vmid} 0`)} 2>/dev/null; true`);
      return out.trim().split('\n');
    };
    return {
      record, vmid, minor, dev, file, helper, disconnectOnGo,
      async writeRecords() {
        for (const i of [0, 1]) {
          const rec = lab.nodes[i]!.rec.cgi;
          await lab.runners[i]!.sh(`mkdir -p ${imagesDir} && chown ${rec.uid}:${rec.gid} ${imagesDir}`);
          await lab.runners[i]!.sh(lab.asUserCmd(i, 'cgi', `echo ${Buffer.from(drbdRecordText(record)).toString('base64')} | base64 -d > ${file}.json && sync`));
        }
      },
      async until(i, what, ok) {
        const started = Date.now();
        let last: DrbdDeviceState | undefined;
        while (Date.now() - started < STATE_TIMEOUT_MS) {
          last = deviceOf(await lab.proc(i), minor);
          if (last && ok(last)) return { dev: last, ms: Date.now() - started };
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`node${i + 1}: not ${what} after ${STATE_TIMEOUT_MS / 1000} s: ${JSON.stringify(last)}`);
      },
      writeBlock: (i, block, tag) =>
        lab.runners[i]!.sh(lab.asUserCmd(i, 'qemu', `printf %s ${shq(tag)} | dd of=${dev} bs=4096 seek=${block} conv=sync,fsync 2>/dev/null`)),
      readBlock: (i, block, bytes) =>
        lab.runners[i]!.sh(lab.asUserCmd(i, 'qemu', `dd if=${dev} bs=4096 skip=${block} count=1 2>/dev/null | head -c ${bytes}`)),
      async writeSectors(i, lba, data) {
        if (data.length === 0 || data.length % 512 !== 0) throw new Error(`writeSectors takes whole 512-byte sectors, not ${data.length} bytes`);
        await lab.runners[i]!.sh(lab.asUserCmd(i, 'qemu', `echo ${data.toString('base64')} | base64 -d | dd of=${dev} bs=512 seek=${lba} conv=fsync 2>/dev/null`));
      },
      async remove() {
        for (const [i, vm] of lab.vms.entries()) {
          if (!vm.running() || !lab.nodes[i]) continue;
          await helper(i, 'down').catch(() => undefined);
          await lab.runners[i]!.sh(`rm -rf ${imagesDir}`).catch(() => undefined);
        }
      },
    };
  }
}

let shared: DrbdLab | undefined;
let starting: Promise<void> | undefined;
let users = 0;

/**
 * The shared pair for suite `T`: counted in now (at load time), booted in
 * the first suite's `before`, powered off in the last suite's `after`,
 * after `cleanup` (what the suite leaves on the pair: its resources) ran.
 */
export function useDrbdLab(T: Test, cleanup?: (lab: DrbdLab) => Promise<void>): DrbdLab {
  users++;
  shared ??= new DrbdLab();
  const lab = shared;
  T.before(async () => {
    starting ??= lab.start();
    await starting;
  });
  T.after(async () => {
    try {
      if (starting) await cleanup?.(lab);
    } finally {
      users--;
      if (users === 0) await lab.stop();
    }
  });
  return lab;
}
