import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { useTempRoot } from '../../helpers/temp-root';
import { claimMigration, lockHolder, migrationHolder, refuseIfMigrating, releaseMigration } from '../../../node-cgi/vm/migration-lock';

/** A live process whose argv carries `mark` (as `ramvm task run <id>` carries its task id). */
function holder(mark: string) {
  return spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', mark], { stdio: 'ignore' });
}

const C = suite('claimMigration');
const root = useTempRoot(C);
C('should take the lock for the started task, and refuse a second one while it lives', () => {
  const p = holder('task-a');
  try {
    const t = claimMigration(101, () => ({ id: 'task-a', pid: p.pid! }));
    assert.is(t.id, 'task-a');
    assert.is(migrationHolder(101), 'task-a');
    let started = false;
    assert.throws(() => claimMigration(101, () => ((started = true), { id: 'task-b', pid: process.pid })), /guest 101 is being migrated \(task task-a\); migrate it after that/);
    assert.not.ok(started, 'no second task was started');
  } finally {
    p.kill();
  }
});
C('should take over a lock whose task died', async () => {
  const p = holder('task-c');
  claimMigration(102, () => ({ id: 'task-c', pid: p.pid! }));
  p.kill('SIGKILL');
  await new Promise((r) => p.once('exit', r));
  assert.is(migrationHolder(102), null);
  const q = holder('task-d');
  try {
    claimMigration(102, () => ({ id: 'task-d', pid: q.pid! }));
    assert.is(migrationHolder(102), 'task-d');
  } finally {
    q.kill();
  }
});
C('should give the lock back only for its own task', () => {
  const p = holder('task-e');
  try {
    claimMigration(103, () => ({ id: 'task-e', pid: p.pid! }));
    releaseMigration(103, 'task-other');
    assert.is(migrationHolder(103), 'task-e');
    releaseMigration(103, 'task-e');
    assert.is(migrationHolder(103), null);
  } finally {
    p.kill();
  }
});
C('should read a backup lock in the same format', () => {
  const p = holder('task-f');
  try {
    const dir = join(root.path, 'run/ramvm/lock/backup-vm-104.lock');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'owner'), `${p.pid} task-f\n`);
    assert.is(lockHolder('backup-vm-104'), 'task-f');
  } finally {
    p.kill();
  }
});
C.run();

const R = suite('refuseIfMigrating');
useTempRoot(R);
R('should let everything pass while no migration runs', () => {
  refuseIfMigrating(105, 'start it');
});
R('should refuse with the task and what waits', () => {
  const p = holder('task-g');
  try {
    claimMigration(105, () => ({ id: 'task-g', pid: p.pid! }));
    assert.throws(() => refuseIfMigrating(105, 'start it'), /^guest 105 is being migrated \(task task-g\); start it after that$/);
  } finally {
    p.kill();
  }
});
R.run();
