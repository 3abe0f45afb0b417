/**
 * `ramvm-root`: the one way the node's user reaches root (built to
 * dist/bin/ramvm-root, its own bundle). The CGIs and tasks call it through
 * sudo, whose one line for it (root/setup.ts) allows exactly this bundle:
 *
 *   sudo -n /usr/bin/node …/dist/bin/ramvm-root <node key> <operation> <argument>…
 *
 * It takes nothing from its caller but that argv: its environment is
 * replaced by one made from the node's record (root/trust.ts: written by
 * root, checked before it is read), the call is parsed against the
 * allow-list (root/ops.ts), and everything in the data tree is read as the
 * node's user. Every call is logged, refused ones too, to
 * /run/ramvm-root/helper.log:
 *
 *   2026-12-06T15:30:00.123Z uid=998 key=3f9c0a1b2c3d4e5f start-guest 101 tcg → ok (84 ms)
 *   2026-12-06T15:30:02.456Z uid=998 key=3f9c0a1b2c3d4e5f start-guest 101 "-x" → forbidden: root helper: vmid: must be an integer (1 ms)
 *
 * It answers one line of JSON on stdout (lib/separation.ts parseHelperAnswer),
 * exit status 0 on success, 1 on an error, 2 on a refused call; its last
 * line is the answer (disconnect-on-go says it is ready on a line before).
 */
import { closeSync, constants, fstatSync, ftruncateSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { HttpError } from '../lib/errors';
import { ROOT_REGISTRY } from '../lib/paths';
import type { NodeRecord } from '../lib/separation';
import { bootBackupDiskOf, mountBackup, prepareBackupDiskOf, umountBackup } from './backup';
import { disconnectOnGo, drbdOp } from './drbd';
import { HELPER_PATH, startGuest, stopGuest } from './guest';
import { parseRootCall, type RootCall } from './ops';
import { trustedRecord } from './trust';

/** The helper's log; past this size it starts over (it lives in RAM). */
const LOG_FILE = join(ROOT_REGISTRY, 'helper.log');
const LOG_MAX_BYTES = 1024 * 1024; // 1 MiB

async function perform(call: RootCall, rec: NodeRecord): Promise<unknown> {
  switch (call.op) {
    case 'ping':
      return { uid: process.getuid!(), root: rec.root };
    case 'start-guest':
      return startGuest(rec, call.vmid, call.accel, call.incoming);
    case 'stop-guest':
      return stopGuest(rec, call.vmid);
    case 'mount-backup':
      return mountBackup(rec, call.storage);
    case 'umount-backup':
      return umountBackup(call.storage);
    case 'prepare-backup-disk':
      return prepareBackupDiskOf(rec, call.storage, call.disk);
    case 'boot-backup':
      return bootBackupDiskOf(rec, call.storage);
    case 'drbd':
      return drbdOp(rec, call.step, call.vmid, call.disk);
    case 'disconnect-on-go':
      // The one call that reads its stdin: the go (drbd/armed.ts), after a ready line on stdout.
      return disconnectOnGo(rec, call.vmid, call.disks, { input: process.stdin, ready: (line) => process.stdout.write(line) });
  }
}

/** One log line, appended (O_NOFOLLOW: the folder is root's, the file must be too). */
function log(line: string): void {
  try {
    mkdirSync(ROOT_REGISTRY, { recursive: true, mode: 0o755 });
    const fd = openSync(LOG_FILE, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
    try {
      if (fstatSync(fd).size > LOG_MAX_BYTES) ftruncateSync(fd, 0);
      writeSync(fd, line + '\n');
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    process.stderr.write(`ramvm-root: cannot log: ${(e as Error).message}\n${line}\n`);
  }
}

const shown = (argv: readonly string[]) => argv.map((a) => (/^[A-Za-z0-9_.:-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');

export async function main(argv: readonly string[]): Promise<number> {
  const started = Date.now();
  // For the log only: sudo says who called.
  const caller = `uid=${/^\d+$/.test(process.env.SUDO_UID ?? '') ? process.env.SUDO_UID : process.getuid!()}`;
  // Nothing of the caller's environment: sudo resets it, and the helper does not rely on that.
  for (const k of Object.keys(process.env)) delete process.env[k];
  process.env.PATH = HELPER_PATH;
  let answer: { ok: unknown } | { error: { code: string; message: string; detail?: string } };
  let status = 0;
  try {
    if (process.getuid!() !== 0) throw new HttpError('forbidden', 'root helper: runs as root only (through sudo)');
    const call = parseRootCall(argv);
    const rec = trustedRecord(call.key);
    process.env.RAMVM_ROOT = rec.root;
    answer = { ok: (await perform(call, rec)) ?? {} };
  } catch (e) {
    const h = e instanceof HttpError ? e : new HttpError('internal', `root helper: ${(e as Error).message}`);
    status = h.code === 'forbidden' ? 2 : 1;
    answer = { error: { code: h.code, message: h.message, ...(h.detail ? { detail: h.detail } : {}) } };
  }
  const result = 'ok' in answer ? 'ok' : `${answer.error.code}: ${answer.error.message}`;
  // The answer first: an armed disconnect's caller holds a guest until it reads it.
  process.stdout.write(JSON.stringify(answer) + '\n');
  log(`${new Date(started).toISOString()} ${caller} key=${shown(argv.slice(0, 1))} ${shown(argv.slice(1))} → ${result} (${Date.now() - started} ms)`);
  return status;
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
