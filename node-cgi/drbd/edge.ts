/**
 * The one place that carries out a replicated disk's steps (commands.ts)
 * on this node: programs through lib/exec.ts, the resource file through
 * the store's atomic write, /proc/drbd read as it is. Everything DRBD does
 * as root goes through `applySteps` with a runner, so the root helper can
 * take the runner's place without the steps changing; the lab's tests run
 * the same steps on a lab node's console with a runner of their own.
 */
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { conflict, HttpError } from '../lib/errors';
import { run } from '../lib/exec';
import { drbdBackingFile, nodeName } from '../lib/paths';
import { rootCall, separation } from '../lib/separation';
import { drbdRecordText, parseDrbdRecord, recordReplication, type DrbdRecord } from './record';
import { drbdResourceName } from './resource';
import { writeFileAtomic } from '../lib/store';
import { DRBD_STEP_TIMEOUT_MS, type DrbdHelperStep, type DrbdStep } from './commands';
import { parseProcDrbd, type ProcDrbd, type Replication } from './proc';

/** Where /proc/drbd is (the module must be loaded). */
export const PROC_DRBD = '/proc/drbd';

/** Whether this node's kernel has the DRBD module loaded (`procFile` exists): a node that can hold replicated disks. */
export const drbdLoaded = (procFile = PROC_DRBD): boolean => existsSync(procFile);

export interface DrbdRunner {
  /** Run argv; resolves to its stdout, rejects on a non-zero exit. */
  run(argv: readonly string[]): Promise<string>;
  /** Write a whole file atomically. */
  write(file: string, text: string): Promise<void>;
  /** A file's text. */
  read(file: string): Promise<string>;
}

/** This node, as its own process (root until the root helper takes this over). */
export const localRunner: DrbdRunner = {
  run: async (argv) => (await run(argv, { timeoutMs: DRBD_STEP_TIMEOUT_MS })).stdout,
  write: async (file, text) => writeFileAtomic(file, text, 0o644),
  read: async (file) => readFileSync(file, 'utf8'),
};

/** Each step in order; the first that fails ends it with its error. */
export async function applySteps(steps: readonly DrbdStep[], runner: DrbdRunner = localRunner): Promise<void> {
  for (const s of steps) {
    if ('run' in s) await runner.run(s.run);
    else await runner.write(s.write, s.text);
  }
}

/** /proc/drbd now, parsed. */
export async function readProcDrbd(runner: DrbdRunner = localRunner): Promise<ProcDrbd> {
  return parseProcDrbd(await runner.read(PROC_DRBD));
}

/**
 * One step of a replicated disk on this node, as the CGIs and tasks ask for
 * it: through the root helper (`drbd <step> <vmid> <disk>`, root/drbd.ts),
 * which reads the disk's record (record.ts) as the node's user. A node that
 * runs direct has no root to ask: it says so.
 */
export async function drbdNodeStep(step: DrbdHelperStep, vmid: number, disk: number): Promise<{ resource: string; device: string; splitBrain?: boolean }> {
  const rec = separation();
  if (!rec) throw new HttpError('conflict', 'replicated disks need a node started as root (the root helper runs DRBD)');
  try {
    return await rootCall(rec, 'drbd', [step, String(vmid), String(disk)]);
  } catch (e) {
    // A host without the module (a node not booted from the node image): say that, not "drbdadm failed (exit 1)".
    if (e instanceof HttpError && e.code === 'exec_failed' && !drbdLoaded()) throw conflict(drbdMissing(nodeName()));
    throw e;
  }
}

/** Why node `node` has no replicated disks: its kernel has no DRBD module loaded. */
export const drbdMissing = (node: string) => `DRBD is not loaded on node ${node} (no ${PROC_DRBD}): replicated disks need the node image's kernel module`;

/**
 * Write a replicated disk's record beside its backing file (as this
 * process's user: the node's). `exclusive`: a new disk's record, 409 when
 * the disk has one already (written whole to a temporary name, then linked
 * to its own: link fails on an existing name, so two adds of the same disk
 * never both win, and no reader sees half a record).
 */
export function writeDrbdRecord(vmid: number, disk: number, r: DrbdRecord, exclusive = false): void {
  const file = `${drbdBackingFile(vmid, drbdResourceName(vmid, disk))}.json`;
  mkdirSync(dirname(file), { recursive: true });
  if (!exclusive) return writeFileAtomic(file, drbdRecordText(r), 0o640);
  const tmp = `${file}.${process.pid}.new`;
  writeFileAtomic(tmp, drbdRecordText(r), 0o640);
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`disk ${disk} of guest ${vmid} has a replicated disk record already`);
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** A replicated disk's record on this node, checked (record.ts); null when the disk is not replicated here. */
export function readDrbdRecord(vmid: number, disk: number): DrbdRecord | null {
  let text: string;
  try {
    text = readFileSync(`${drbdBackingFile(vmid, drbdResourceName(vmid, disk))}.json`, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return parseDrbdRecord(text, vmid, disk).record;
}

/** A replicated disk's `replication` on this node (null when it is not replicated); /proc/drbd through `runner`. */
export async function diskReplication(vmid: number, disk: number, runner: DrbdRunner = localRunner): Promise<Replication | null> {
  const r = readDrbdRecord(vmid, disk);
  return r ? recordReplication(r, await readProcDrbd(runner), nodeName()) : null;
}
