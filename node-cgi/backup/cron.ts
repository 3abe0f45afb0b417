/**
 * `ramvm backup …` on a node:
 *
 *   ramvm backup tick                     start due jobs (cron, each minute)
 *   ramvm backup cron-line                print the cron.d line for this node
 *   ramvm backup install-cron [FILE]      write it to FILE (default etc/cron.d/ramvm-backup below
 *                                         RAMVM_ROOT: /etc/cron.d/ramvm-backup on a node)
 *
 * The cron.d line (system crontab format: minute … user command):
 *   * * * * * root RAMVM_ROOT=/ RAMVM_NODE=pve1 /usr/bin/node /usr/lib/ramvm/bin/ramvm backup tick >>/var/log/ramvm/backup-tick.log 2>&1
 * `npm start` does not install it: a development node runs jobs on "run now"
 * or by calling the tick by hand.
 */
import { nodeName, paths } from '../lib/paths';
import { writeFileAtomic } from '../lib/store';
import { tick } from './job';

/** The cron.d line; every part is checked to be shell-safe (cron hands the command to sh). */
export function cronLine(o: { root: string; node: string; nodeBin: string; ramvm: string; log: string }): string {
  for (const [k, v] of Object.entries(o)) {
    if (!/^[A-Za-z0-9_./@+-]+$/.test(v)) throw new Error(`${k} has characters unsafe for a cron line: ${v}`);
  }
  return `* * * * * root RAMVM_ROOT=${o.root} RAMVM_NODE=${o.node} ${o.nodeBin} ${o.ramvm} backup tick >>${o.log} 2>&1\n`;
}

function thisNodeLine(): string {
  return cronLine({
    root: paths().root, node: nodeName(), nodeBin: process.execPath,
    ramvm: paths().ramvmBin, log: paths().backupTickLog,
  });
}

export async function backupCommand([sub, arg]: string[]): Promise<void> {
  if (sub === 'tick') {
    for (const line of await tick()) process.stdout.write(`${line}\n`);
    return;
  }
  if (sub === 'cron-line') {
    process.stdout.write(thisNodeLine());
    return;
  }
  if (sub === 'install-cron') {
    const file = arg ?? paths().backupCronFile;
    writeFileAtomic(file, `# ramvm: start due backup jobs each minute\n${thisNodeLine()}`, 0o644);
    process.stdout.write(`wrote ${file}\n`);
    return;
  }
  throw new Error('usage: ramvm backup tick | cron-line | install-cron [FILE]');
}
