/**
 * The root helper's replicated-disk operation: `drbd <step> <vmid> <disk>`.
 * The disk's record (drbd/record.ts) is read as the node's user and checked;
 * the resource file drbdadm reads is generated from it into root's own
 * folder of the node (never the data tree, which the node's user could fill
 * with handler programs):
 *
 *   /run/ramvm-root/3f9c…/drbd/vm-101-disk-0.res
 *
 * The backing file is created and opened as the node's user, without
 * following links, and handed to losetup as an open file (/proc/self/fd/3:
 * a node has no /dev/fd), so a
 * link planted in the data tree cannot put a loop device over anything the
 * user could not open. On `primary` the DRBD device is handed to the QEMU
 * user (0660), which opens it for the guest; `secondary` and `down` give it
 * back to root.
 *
 *   create    new sparse file, loop device, meta-data, up (connecting to the peer)
 *   adopt     the same over an existing file that holds a guest's data, grown by its meta-data
 *             (drbd/guest.ts convertToReplicated); on a failure the file stays as it is
 *   force-primary  this side's data wins (primary --force; then secondary): the peer gets all of it
 *   up        an existing disk back after a boot: loop device, up
 *   skip-sync both sides UpToDate without copying (a new, empty disk only)
 *   primary | secondary | connect | disconnect
 *   discard   reconnect after a split brain, this side's changes thrown away
 *   split-brain  whether the kernel's log says the disk is in an unresolved split brain
 *   two-primaries | one-primary   two primaries allowed for a live migration, then forbidden again
 *   down      resource down, loop device free (the file stays)
 *
 * And `disconnect-on-go <vmid> <disk>…` (disconnectOnGo): every disk
 * checked and its drbdsetup-84 argv made first, then a ready line, then the
 * disconnects only when the go arrives on stdin (drbd/armed.ts), so the
 * cluster backup's guest is held for the disconnects alone.
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { conflict, HttpError, notFound } from '../lib/errors';
import { run } from '../lib/exec';
import { drbdBackingFile, registryDir } from '../lib/paths';
import type { NodeRecord } from '../lib/separation';
import { writeFileAtomic } from '../lib/store';
import { cstateArgs, disconnectArgs, drbdadmArgs, DRBD_STEP_TIMEOUT_MS, loopDetachArgs, type DrbdadmStep, type DrbdHelperStep } from '../drbd/commands';
import { splitBrainInLog } from '../drbd/proc';
import { parseDrbdRecord } from '../drbd/record';
import { twoPrimariesArgs } from '../drbd/replica';
import { GO_WAIT_MS, readyLine, waitForGo, wallMs, type ArmedAnswer } from '../drbd/go';
import type { Readable } from 'node:stream';
import { backingFileBytes, drbdDevice, drbdResourceName, loopDevice } from '../drbd/resource';
import { asUser } from './trust';


/** The major number of DRBD's block devices. */
const DRBD_MAJOR = 147;

/** root's resource file of a disk: /run/ramvm-root/<key>/drbd/<resource>.res */
export const rootResourceFile = (rec: Pick<NodeRecord, 'root'>, resource: string) => join(registryDir(rec.root), 'drbd', `${resource}.res`);

/** "/dev/drbdN" of a replicated disk, from its record read as the node's user (the guest's QEMU opens it). */
export function replicaDeviceOf(rec: NodeRecord, vmid: number, disk: number): string {
  return drbdDevice(record(rec, vmid, disk).resource.minor);
}

/** The disk's record, read as the node's user: 404 without one. */
function record(rec: NodeRecord, vmid: number, disk: number) {
  const name = drbdResourceName(vmid, disk);
  const file = `${drbdBackingFile(vmid, name)}.json`;
  const text = asUser(rec.cgi, () => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  });
  if (text === null) throw notFound(`guest ${vmid} has no replicated disk ${disk}`);
  return { ...parseDrbdRecord(text, vmid, disk), file: drbdBackingFile(vmid, name) };
}

/** Open (or create, sparse, of `bytes`) the backing file as the node's user, refusing links, anything but a regular file and a size but `size`. */
function openBacking(rec: NodeRecord, file: string, createBytes: number | null, size?: number): number {
  return asUser(rec.cgi, () => {
    if (createBytes !== null) mkdirSync(join(file, '..'), { recursive: true, mode: 0o750 });
    const flags = constants.O_RDWR | constants.O_NOFOLLOW | (createBytes !== null ? constants.O_CREAT | constants.O_EXCL : 0);
    let fd: number;
    try {
      fd = openSync(file, flags, 0o660);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw conflict(`${file} exists already`);
      if (code === 'ENOENT') throw notFound(`the backing file ${file} is missing`);
      if (code === 'ELOOP') throw new HttpError('forbidden', `${file} is a symbolic link`);
      throw e;
    }
    const st = fstatSync(fd);
    if (!st.isFile() || (createBytes === null && size !== undefined && st.size !== size)) {
      closeSync(fd);
      throw st.isFile() ? conflict(`${file} has ${st.size} bytes, not ${size}`) : new HttpError('forbidden', `${file} is not a regular file`);
    }
    if (createBytes !== null) ftruncateSync(fd, backingFileBytes(createBytes));
    return fd;
  });
}

/** losetup <loop> /proc/self/fd/3 with the open file as fd 3. */
function attachLoop(device: string, fd: number): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn('losetup', [device, '/proc/self/fd/3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let err = '';
    p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), DRBD_STEP_TIMEOUT_MS);
    p.once('error', (e) => {
      clearTimeout(t);
      rej(e);
    });
    p.once('close', (code) => {
      clearTimeout(t);
      if (code === 0) res();
      else rej(new HttpError('exec_failed', `losetup ${device} failed (exit ${code})`, err.trim()));
    });
  });
}

/** The file a loop device is over (/sys/block/loopN/loop/backing_file), or null when it is free. */
function loopBacking(device: string): string | null {
  try {
    return readFileSync(`/sys/block/${device.slice('/dev/'.length)}/loop/backing_file`, 'utf8').trim();
  } catch {
    return null;
  }
}

async function attach(rec: NodeRecord, device: string, file: string, createBytes: number | null, size?: number): Promise<void> {
  const back = loopBacking(device);
  if (back === file && createBytes === null) return; // already up to here (a second `up`)
  if (back !== null) throw conflict(`${device} is in use by ${back}`);
  const fd = openBacking(rec, file, createBytes, size);
  try {
    await attachLoop(device, fd);
  } finally {
    closeSync(fd);
  }
}

/** The DRBD device node, checked to be DRBD's, handed to `uid` with mode 0660. */
function handDevice(device: string, uid: number, gid: number): void {
  const st = lstatSync(device);
  if (!st.isBlockDevice() || st.rdev >> 8 !== DRBD_MAJOR) throw conflict(`${device} is not a DRBD device`);
  chownSync(device, uid, gid);
  chmodSync(device, 0o660);
}

const drbdadm = (step: DrbdadmStep, conf: string, resource: string) => run(drbdadmArgs(step, conf, resource), { timeoutMs: DRBD_STEP_TIMEOUT_MS });

/** A disk's record, checked, and root's resource file written from it. */
function prepared(rec: NodeRecord, vmid: number, disk: number) {
  const r = record(rec, vmid, disk);
  const conf = rootResourceFile(rec, r.resource.name);
  mkdirSync(join(conf, '..'), { recursive: true, mode: 0o755 });
  writeFileAtomic(conf, r.config, 0o644);
  return { r, conf };
}

/** Where an armed disconnect hears its go and says it is ready (the helper's stdin and stdout). */
export interface GoChannel {
  input: Readable;
  ready(line: string): void;
}

/**
 * `disconnect-on-go`: disks `disks` of guest `vmid` checked (each must be
 * replicated here, on this node) and each one's drbdsetup-84 argv made
 * before the ready line; on the go they all run at once (drbdadm would
 * start three programs each, in the hold: commands.ts disconnectArgs);
 * without the go, nothing (waitForGo's error is the answer).
 *
 * The copy this leaves on the peer is the disk at the pause: the go comes
 * only after QMP `stop` answered, and QEMU stops a guest by draining every
 * request in flight and flushing its disks before it answers; under
 * protocol C a write to /dev/drbdN completes only once the peer has it, so
 * nothing the guest wrote is still on its way when the connection goes.
 */
export async function disconnectOnGo(rec: NodeRecord, vmid: number, disks: readonly number[], io: GoChannel, goWaitMs = GO_WAIT_MS): Promise<ArmedAnswer> {
  const here = hostname();
  const all = disks.map((d) => record(rec, vmid, d).resource);
  const argvs = all.map((r) => disconnectArgs(r, here));
  const resources = all.map((r) => r.name);
  // Each one Connected, asked of drbdsetup-84 itself: its first start here (and Node's first spawn) is not in the hold.
  for (const r of all) {
    const c = (await run(cstateArgs(r.minor), { timeoutMs: DRBD_STEP_TIMEOUT_MS })).stdout.trim();
    if (c !== 'Connected') throw conflict(`${r.name} is ${c || 'in no state'} here, not Connected`);
  }
  // Reading its stdin before it says ready: the go finds it listening, not still setting up its stream. The
  // guest's hold begins once the task has the ready line, and on a node of one CPU the task runs then, not this.
  const go = waitForGo(io.input, goWaitMs);
  go.catch(() => undefined); // awaited below; its error is the answer
  await new Promise((res) => setImmediate(res));
  io.ready(readyLine(resources));
  await go;
  const at = wallMs();
  // All settled before the answer, a failure too: once the task has it, no disconnect of this call still runs.
  const failed = (await Promise.allSettled(argvs.map((a) => run(a, { timeoutMs: DRBD_STEP_TIMEOUT_MS })))).find((x) => x.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return { resources, at, ms: wallMs() - at };
}

export async function drbdOp(rec: NodeRecord, step: DrbdHelperStep, vmid: number, disk: number): Promise<{ resource: string; device: string; splitBrain?: boolean }> {
  const { r, conf } = prepared(rec, vmid, disk);
  const name = r.resource.name;
  const loop = loopDevice(r.resource.minor);
  const device = drbdDevice(r.resource.minor);
  switch (step) {
    case 'create':
    case 'adopt':
      // adopt: the file is there, grown by its meta-data already.
      await attach(rec, loop, r.file, step === 'create' ? r.record.bytes : null, backingFileBytes(r.record.bytes));
      try {
        await drbdadm('create-md', conf, name);
        await drbdadm('up', conf, name);
      } catch (e) {
        // Nothing half made stays: the next create starts from scratch; an adopted file (the guest's data) stays as it is.
        await run(drbdadmArgs('down', conf, name), { timeoutMs: DRBD_STEP_TIMEOUT_MS }).catch(() => undefined);
        if (loopBacking(loop) === r.file) await run(loopDetachArgs(loop), { timeoutMs: DRBD_STEP_TIMEOUT_MS }).catch(() => undefined);
        if (step === 'create') asUser(rec.cgi, () => rmSync(r.file, { force: true }));
        throw e;
      }
      break;
    case 'up':
      await attach(rec, loop, r.file, null);
      await drbdadm('up', conf, name);
      break;
    case 'primary':
      await drbdadm('primary', conf, name);
      handDevice(device, rec.qemu.uid, rec.qemu.gid);
      break;
    case 'secondary':
      handDevice(device, 0, 0);
      await drbdadm('secondary', conf, name);
      break;
    case 'split-brain': {
      const log = (await run(['dmesg'], { timeoutMs: DRBD_STEP_TIMEOUT_MS })).stdout;
      return { resource: name, device, splitBrain: splitBrainInLog(log, r.resource.minor, name) };
    }
    case 'discard':
      await drbdadm('discard-my-data', conf, name);
      break;
    case 'two-primaries':
    case 'one-primary':
      await run(twoPrimariesArgs(conf, name, step === 'two-primaries'), { timeoutMs: DRBD_STEP_TIMEOUT_MS });
      break;
    case 'down':
      try {
        handDevice(device, 0, 0);
      } catch {
        /* no device node: nothing to take back */
      }
      await drbdadm('down', conf, name);
      if (loopBacking(loop) === r.file) await run(loopDetachArgs(loop), { timeoutMs: DRBD_STEP_TIMEOUT_MS });
      break;
    default:
      await drbdadm(step, conf, name);
  }
  return { resource: name, device };
}
