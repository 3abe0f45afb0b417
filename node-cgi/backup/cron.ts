/**
 * `ramvm backup …` on a node:
 *
 *   ramvm backup tick [cron|npm-start]    start due jobs (cron, or npm start, each minute), and record the tick
 *   ramvm backup cron-line                print the cron.d line for this node
 *   ramvm backup install-cron [FILE]      write it to FILE (default etc/cron.d/ramvm-backup below
 *                                         RAMVM_ROOT: /etc/cron.d/ramvm-backup on a node)
 *
 * The cron.d line (system crontab format: minute … user command):
 *   * * * * * ramvm RAMVM_ROOT=/ RAMVM_NODE=pve1 /usr/bin/node /usr/lib/ramvm/bin/ramvm backup tick >>/var/log/ramvm/backup-tick.log 2>&1
 * (user root on a node that is not separated: lib/separation.ts)
 * `npm start` does not install it: its foreground process runs the tick
 * itself (build/start.ts). Every tick is recorded (scheduler.ts), so a node
 * whose scheduler stopped says so.
 */
import { nodeName, paths } from '../lib/paths';
import { separation } from '../lib/separation';
import { writeFileAtomic } from '../lib/store';
import { tick } from './job';
import { recordedTick, TICK_SOURCES, type TickSource } from './scheduler';

/** The cron.d line; every part is checked to be shell-safe (cron hands the command to sh). */
export function cronLine(o: { user: string; root: string; node: string; nodeBin: string; ramvm: string; log: string }): string {
  for (const [k, v] of Object.entries(o)) {
    if (!/^[A-Za-z0-9_./@+-]+$/.test(v)) throw new Error(`${k} has characters unsafe for a cron line: ${v}`);
  }
  return `* * * * * ${o.user} RAMVM_ROOT=${o.root} RAMVM_NODE=${o.node} ${o.nodeBin} ${o.ramvm} backup tick >>${o.log} 2>&1\n`;
}

/** This node's line: run as the node's user on a separated node (lib/separation.ts), else as root. */
function thisNodeLine(): string {
  return cronLine({
    user: separation()?.cgi.user ?? 'root', root: paths().root, node: nodeName(), nodeBin: process.execPath,
    ramvm: paths().ramvmBin, log: paths().backupTickLog,
  });
}

export async function backupCommand([sub, arg]: string[]): Promise<void> {
  if (sub === 'tick') {
    const by = arg ?? 'cron';
    if (!(TICK_SOURCES as readonly string[]).includes(by)) throw new Error(`usage: ramvm backup tick [${TICK_SOURCES.join('|')}]`);
    for (const line of await recordedTick(by as TickSource, () => tick())) process.stdout.write(`${line}\n`);
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
  throw new Error('usage: ramvm backup tick [cron|npm-start] | cron-line | install-cron [FILE]');
}
