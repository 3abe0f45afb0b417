import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { useTempRoot } from '../../helpers/temp-root';
import {
  paths, backupStoppedFile, catalogFile, deviceMountPoint, guestConfigFile, guestImagesDir, guestRunFile, isoFile, lockDir,
  joinTaskTokenFile, nodeKey, nodeSettingsFile, pathsFor, registryDir, scratchFile, taskFile,
} from '../../../node-cgi/lib/paths';

const P = suite('pathsFor');
// [field, path below the root]: DESIGN.md's table and the files each feature keeps
const TABLE: [string, string][] = [
  ['etc', 'etc/ramvm'], ['vms', 'etc/ramvm/vms'], ['nodes', 'etc/ramvm/nodes'], ['priv', 'etc/ramvm/priv'],
  ['authKey', 'etc/ramvm/priv/authkey'], ['users', 'etc/ramvm/users.json'], ['acl', 'etc/ramvm/acl.json'],
  ['tokens', 'etc/ramvm/tokens.json'], ['groups', 'etc/ramvm/groups.json'], ['storages', 'etc/ramvm/storage.json'],
  ['backupJobs', 'etc/ramvm/backup/jobs.json'], ['backupJobStates', 'etc/ramvm/backup/job-state.json'],
  ['backupAcks', 'etc/ramvm/backup/acks.json'], ['backupMail', 'etc/ramvm/backup/mail.json'],
  ['restoreSettings', 'etc/ramvm/backup/restore.json'],
  ['iso', 'var/lib/vz/template/iso'], ['images', 'var/lib/vz/images'], ['dump', 'var/lib/vz/dump'],
  ['qemuRun', 'run/ramvm/qemu'], ['locks', 'run/ramvm/lock'], ['backupStopped', 'run/ramvm/backup-stopped'],
  ['loginThrottle', 'run/ramvm/login-throttle.json'],
  ['accelCache', 'run/ramvm/accel.json'], ['nodeCpuSample', 'run/ramvm/node.cpu.json'],
  ['tasks', 'var/log/ramvm/tasks'], ['auditLog', 'var/log/ramvm/audit.log'], ['backupTickLog', 'var/log/ramvm/backup-tick.log'],
  ['nodeCert', 'etc/ramvm/priv/node.crt'], ['nodeKey', 'etc/ramvm/priv/node.key'], ['nodePem', 'etc/ramvm/priv/node.pem'],
  ['clusterConfig', 'etc/ramvm/cluster/cluster.json'], ['placement', 'etc/ramvm/cluster/vms.json'],
  ['joinTokens', 'etc/ramvm/priv/join-tokens.json'], ['nonces', 'run/ramvm/nonces'], ['serverInfo', 'run/ramvm/server.json'],
  ['backupCronFile', 'etc/cron.d/ramvm-backup'], ['backupSchedulerTick', 'run/ramvm/backup-scheduler.json'],
  ['backupSchedulerMailed', 'run/ramvm/backup-scheduler-mailed.json'],
];
P('should put every folder and file of the table below the root', () => {
  const p = pathsFor('/tmp/r', '/opt/dist') as unknown as Record<string, string>;
  for (const [field, below] of TABLE) assert.is(p[field], `/tmp/r/${below}`, field);
});
P('should put backup mount points in the node\'s root-owned registry, not in its data tree', () => {
  assert.is(pathsFor('/tmp/r', '/d').backupMounts, `/run/ramvm-root/${nodeKey('/tmp/r')}/mnt`);
});
P('should find the CLI beside the CGIs in dist', () => {
  assert.is(pathsFor('/tmp/r', '/opt/dist').ramvmBin, '/opt/dist/bin/ramvm');
});
P('should resolve a relative root', () => {
  assert.is(pathsFor('var', '/d').root, `${process.cwd()}/var`);
});
P.run();

const O = suite('object paths');
const root = useTempRoot(O);
O('should place the files of one object below the root of this process', () => {
  // [path, below the root]
  const objects: [string, string][] = [
    [guestConfigFile(101), 'etc/ramvm/vms/101.json'],
    [guestImagesDir(101), 'var/lib/vz/images/101'],
    [guestRunFile(101, 'status.qmp'), 'run/ramvm/qemu/101.status.qmp'],
    [isoFile('debian-12.iso'), 'var/lib/vz/template/iso/debian-12.iso'],
    [nodeSettingsFile('pve1'), 'etc/ramvm/nodes/pve1.json'],
    [taskFile('20261125T101500Z-x-a3f90c', 'log'), 'var/log/ramvm/tasks/20261125T101500Z-x-a3f90c.log'],
    [lockDir('vm-start'), 'run/ramvm/lock/vm-start.lock'],
    [catalogFile('usb'), 'etc/ramvm/backup/catalog-usb.json'],
    [backupStoppedFile(101), 'run/ramvm/backup-stopped/101.json'],
    [scratchFile('screendump-101.png'), 'run/ramvm/qemu/.screendump-101.png'],
    [joinTaskTokenFile('join-0123456789abcdef'), 'run/ramvm/join-0123456789abcdef'],
  ];
  for (const [path, below] of objects) assert.is(path, `${root.path}/${below}`);
  assert.is(deviceMountPoint('usb'), `${registryDir(root.path)}/mnt/usb`);
});
O.run();

const K = suite('nodeKey');
K('should name a data root by 16 hex digits of its absolute path, the same for every spelling', () => {
  assert.match(nodeKey('/'), /^[0-9a-f]{16}$/);
  assert.is(nodeKey('/tmp/r'), nodeKey('/tmp/x/../r/'));
  assert.is.not(nodeKey('/tmp/r'), nodeKey('/tmp/r2'));
  assert.is(registryDir('/tmp/r'), `/run/ramvm-root/${nodeKey('/tmp/r')}`);
});
K.run();

const F = suite('paths');
let saved: [string | undefined, string | undefined];
F.before(() => {
  saved = [process.env.RAMVM_ROOT, process.env.RAMVM_DIST];
});
F.after(() => {
  const [r, dist] = saved;
  if (r === undefined) delete process.env.RAMVM_ROOT;
  else process.env.RAMVM_ROOT = r;
  if (dist === undefined) delete process.env.RAMVM_DIST;
  else process.env.RAMVM_DIST = dist;
});

F('should follow RAMVM_ROOT when it changes, and keep the same object while it does not', () => {
  process.env.RAMVM_ROOT = '/tmp/first';
  const a = paths();
  assert.is(a.etc, '/tmp/first/etc/ramvm');
  assert.is(paths(), a);
  process.env.RAMVM_ROOT = '/tmp/second';
  assert.is(paths().etc, '/tmp/second/etc/ramvm');
});

F('should follow RAMVM_DIST', () => {
  process.env.RAMVM_DIST = '/opt/one';
  assert.is(paths().dist, '/opt/one');
  process.env.RAMVM_DIST = '/opt/two';
  assert.is(paths().dist, '/opt/two');
});

F.run();
