/**
 * The `ramvm` command on a node: set-up, tasks and cron jobs.
 *
 *   ramvm init                 lay out the data tree, create admin on first start
 *   ramvm task run <id>        run a recorded task (started detached by a CGI)
 *   ramvm passwd <user>        set a password (read from stdin)
 *   ramvm boot                 start this node's guests marked "start at boot", in VMID order; in a
 *                              cluster after catching up with it (a guest failed over to the other
 *                              node while this one was down is not started here: migrate/failover.ts)
 *   ramvm backup tick          start due backup jobs (cron, each minute; see backup/cron.ts)
 *   ramvm accel [--probe]      this boot's KVM verdict (what accel "auto" picks); --probe: probe again
 *   ramvm cluster …            create, token, join, leave, show (cli/cluster.ts)
 *
 * Exit status 0 on success; errors print one line to stderr and set exit 1.
 *
 * Started by root on a separated node (cron, `npm start`, an admin at the
 * console), it first becomes the node's user (lib/separation.ts), so what
 * it writes belongs to the node as a CGI's would; only `backup
 * install-cron`, which writes the system's cron.d, keeps root.
 */
import { readFileSync } from 'node:fs';
import { initNode } from './init';
import { runTask } from '../tasks/task';
import { TASK_KINDS } from './task-kinds';
import { updateAccess } from '../access/store';
import { existingUser, setPassword } from '../access/model';
import { hashPassword } from '../auth/password';
import { checkedUsername } from '../lib/validate';
import { bootGuests } from '../vm';
import { clusterTick } from '../cluster/membership';
import { replicaTick } from '../migrate/failover';
import { dropPrivileges, separation } from '../lib/separation';
import { backupCommand } from '../backup/cron';
import { hostAccel } from '../vm';
import { explain } from '../lib/errors';
import { clusterCommand, commitCliChanges } from './cluster';
import { guardClusterWrites } from '../cluster/state';

type Command = (args: string[]) => Promise<void> | void;

const COMMANDS: Record<string, Command> = {
  init: () => {
    const r = initNode();
    if (r.generatedPassword) {
      process.stdout.write(`created user admin with password: ${r.generatedPassword}\n(shown once; set RAMVM_ADMIN_PASSWORD to choose it)\n`);
    } else if (r.createdAdmin) {
      process.stdout.write('created user admin with the password from RAMVM_ADMIN_PASSWORD\n');
    }
    for (const m of r.migrated) process.stdout.write(`${m}\n`);
  },
  task: async ([sub, id]) => {
    if (sub !== 'run' || !id) throw new Error('usage: ramvm task run <id>');
    const rec = await runTask(id, TASK_KINDS);
    if (rec.status !== 'ok') process.exitCode = 1;
  },
  passwd: async ([user]) => {
    const username = checkedUsername(user);
    const password = readFileSync(0, 'utf8').replace(/\r?\n$/, '');
    if (password.length < 8) throw new Error('a password needs at least 8 characters');
    const hash = hashPassword(password);
    // Users are cluster-wide: on a member this is refused, on the master it is replicated.
    guardClusterWrites();
    updateAccess((d) => setPassword(existingUser(d, username), hash, Math.floor(Date.now() / 1000)));
    await commitCliChanges();
  },
  boot: async () => {
    // The cluster's newer state first: a guest placed elsewhere meanwhile leaves this node's list, its replicas Secondary.
    try {
      for (const line of [...(await clusterTick()), ...(await replicaTick())]) process.stdout.write(`cluster: ${line}\n`);
    } catch (e) {
      process.stdout.write(`cluster: could not catch up before the boot: ${(e as Error).message}\n`);
    }
    const ok = await bootGuests((line) => process.stdout.write(`${line}\n`));
    if (!ok) process.exitCode = 1;
  },
  backup: backupCommand,
  cluster: clusterCommand,
  accel: async (args) => {
    if (args.some((a) => a !== '--probe')) throw new Error('usage: ramvm accel [--probe]');
    const v = await hostAccel({ force: args.includes('--probe') });
    process.stdout.write(`${v.accel}: ${v.reason} (probe ${v.ms} ms)\n`);
  },
};

/** Register more commands (features add theirs here). */
export function addCommand(name: string, fn: Command): void {
  COMMANDS[name] = fn;
}

export async function main(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  const cmd = name ? COMMANDS[name] : undefined;
  if (!cmd) {
    process.stderr.write(`usage: ramvm <${Object.keys(COMMANDS).join('|')}> …\n`);
    process.exitCode = 2;
    return;
  }
  try {
    const keepsRoot = name === 'backup' && args[0] === 'install-cron';
    if (process.getuid?.() === 0 && !keepsRoot) {
      const rec = separation();
      if (rec) dropPrivileges(rec);
    }
    await cmd(args);
  } catch (e) {
    process.stderr.write(`ramvm ${name}: ${explain(e)}\n`);
    process.exitCode = 1;
  }
}

if (require.main === module) void main(process.argv.slice(2));
