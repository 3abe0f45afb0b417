/**
 * The pattern guest (test/helpers/pattern-guest.ts) booted by real QEMU
 * (TCG) on a raw file, with a node's own command line for a guest
 * (vm/qemu-args.ts: virtio or IDE disk, cache=writeback, COM1 into a serial
 * log file) launched as a node launches it (vm/launch.ts): the same program
 * the DRBD failover lab test boots inside the lab nodes, here in seconds.
 * Each boot is ended with SIGTERM, then the file is read.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchQemu } from '../../node-cgi/vm/launch';
import { qemuArgs } from '../../node-cgi/vm/qemu-args';
import type { DiskBus, VmConfig } from '../../node-cgi/vm/types';
import { alive, waitFor } from '../helpers/guest';
import { parsePatternLine, patternBootSector, patternBytes, PATTERN_BYTES, type PatternLine } from '../helpers/pattern-guest';

const DISK_BYTES = 2 ** 20; // 1 MiB: 2048 sectors
const LBA = 1500;
/** Generous: a TCG boot while other suites share the machine's two cores. */
const LINE_TIMEOUT_MS = 60_000;

const P = suite('pattern guest under QEMU');
let dir = '';
let disk = '';
P.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ramvm-pattern-'));
  disk = join(dir, 'disk.raw');
});
P.after(() => rmSync(dir, { recursive: true, force: true }));

/** A raw disk of DISK_BYTES with `boot` in sector 0 (the rest zeros, or `keep`'s old contents). */
function writeDisk(boot: Buffer, keep = false): void {
  const b = keep ? readFileSync(disk) : Buffer.alloc(DISK_BYTES);
  boot.copy(b, 0);
  writeFileSync(disk, b);
}

function sectorOf(lba: number): Buffer {
  const b = Buffer.alloc(512);
  const fd = openSync(disk, 'r');
  try {
    readSync(fd, b, 0, 512, lba * 512);
  } finally {
    closeSync(fd);
  }
  return b;
}

/** Boots the disk as a guest of a node (its command line, its launcher), returns the program's line, then ends QEMU (SIGTERM). */
async function boot(bus: DiskBus): Promise<PatternLine> {
  const vm: VmConfig = {
    vmid: 190, name: 'pattern', node: 'local', type: 'kvm', memory: 32, sockets: 1, cores: 1, ostype: 'other', onboot: false, cdrom: null,
    disks: [{ id: 'disk0', file: 'disk.raw', size: '1M', bus, format: 'raw', cache: 'writeback' }],
    nics: [], boot: ['disk0'], description: '', created: 0,
  };
  const serialLog = join(dir, 'serial.log');
  rmSync(serialLog, { force: true });
  const files = { qmp: join(dir, 'qmp'), statusQmp: join(dir, 'status.qmp'), vnc: join(dir, 'vnc'), serialLog };
  const argv = qemuArgs(vm, { accel: 'tcg', files, diskPath: () => disk, isoPath: (n) => join(dir, n), bridges: new Set() });
  const pid = await launchQemu(argv, { timeoutMs: 30_000, env: { PATH: process.env.PATH } });
  try {
    return await waitFor('the pattern guest\'s line on COM1', () => {
      let log = '';
      try {
        log = readFileSync(serialLog, 'latin1');
      } catch {
        /* not there yet */
      }
      return parsePatternLine(log);
    }, LINE_TIMEOUT_MS, 100);
  } finally {
    process.kill(pid, 'SIGTERM');
    await waitFor(`QEMU ${pid} to end`, () => !alive(pid), 20_000, 50);
  }
}

P('should write the pattern on a blank sector, then find it at the next boot, on a virtio disk', async () => {
  writeDisk(patternBootSector('a1b2c3d4e5f60789', LBA));
  assert.equal(await boot('virtio'), { result: 'written', token: 'a1b2c3d4e5f60789' });
  const sector = sectorOf(LBA);
  assert.ok(sector.subarray(0, PATTERN_BYTES).equals(patternBytes('a1b2c3d4e5f60789')), sector.toString('latin1'));
  assert.ok(sector.subarray(PATTERN_BYTES).equals(Buffer.alloc(512 - PATTERN_BYTES)), 'the rest of the sector is zeros');
  assert.ok(sectorOf(LBA - 1).equals(Buffer.alloc(512)) && sectorOf(LBA + 1).equals(Buffer.alloc(512)), 'only that sector written');
  assert.equal(await boot('virtio'), { result: 'found', token: 'a1b2c3d4e5f60789' });
  assert.ok(sectorOf(LBA).equals(sector), 'found: nothing written');
});

P('should overwrite another token\'s pattern and say written, on an IDE disk', async () => {
  writeDisk(patternBootSector('older', LBA));
  assert.equal(await boot('ide'), { result: 'written', token: 'older' });
  writeDisk(patternBootSector('newer', LBA), true);
  assert.equal(await boot('ide'), { result: 'written', token: 'newer' });
  assert.ok(sectorOf(LBA).subarray(0, PATTERN_BYTES).equals(patternBytes('newer')));
  assert.equal(await boot('ide'), { result: 'found', token: 'newer' });
});

P('should report the read step and the BIOS status for a sector past the end of the disk', async () => {
  // SeaBIOS answers an LBA beyond the drive with AH 01 (invalid parameter).
  writeDisk(patternBootSector('far', DISK_BYTES / 512 + 10));
  assert.equal(await boot('virtio'), { result: 'error', step: 'read', status: 0x01, token: 'far' });
});

P.run();
