/**
 * drbd-utils' 8.4 front end run on a resource file as if on a given node
 * (__DRBD_NODE__ stands in for `uname -n`); it needs no kernel module for
 * `dump` and `-d` (dry run). On a node `drbdadm` hands over to it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** drbd-utils' 8.4 front end; on a node `drbdadm` hands over to it. */
export const DRBDADM_84 = '/usr/lib/drbd/drbdadm-84';

/** drbdadm-84 with a resource file, as node `node`; stdout, stderr, exit code. */
export function drbdadm84(config: string, node: string, args: string[]): { out: string; err: string; code: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'ramvm-drbd-'));
  try {
    const file = join(dir, 'r.res');
    writeFileSync(file, config);
    const r = spawnSync(DRBDADM_84, ['-c', file, ...args], { encoding: 'utf8', env: { ...process.env, __DRBD_NODE__: node } });
    return { out: r.stdout, err: r.stderr, code: r.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
