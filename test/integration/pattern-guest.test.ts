/**
 * The pattern guest (test/helpers/pattern-guest.ts) as a guest of a real
 * test node: its boot sector written into the raw disk the API made, the
 * guest started and stopped through the API (the node's QEMU command line:
 * virtio or IDE disk, cache=writeback, COM1 into its serial log; TCG), the
 * disk file read afterwards. The same program the DRBD failover lab test
 * boots inside the lab nodes, here in seconds.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { useNode } from '../helpers/fixture';
import { waitFor } from '../helpers/guest';
import { parsePatternLine, patternBootSector, patternBytes, PATTERN_BYTES, type PatternLine } from '../helpers/pattern-guest';

const DISK_BYTES = 2 ** 20; // 1 MiB: 2048 sectors
const LBA = 1500;
/** Generous: a TCG boot while other suites share the machine's two cores. */
const LINE_TIMEOUT_MS = 60_000;

const P = suite('pattern guest on a node');
const f = useNode(P);

/** A guest with one 1 MiB raw disk on `bus`; its disk file. */
async function guest(vmid: number, bus: 'virtio' | 'ide'): Promise<string> {
  const cfg = await f.createGuest({ vmid, memory: 32, nics: [], accel: 'tcg', disks: [{ size: '1M', bus, format: 'raw' }] });
  return f.imageFile(vmid, cfg.disks[0]!.file);
}

/** `boot` into sector 0 of `disk` (the rest kept). */
function install(disk: string, boot: Buffer): void {
  const b = readFileSync(disk);
  assert.is(b.length, DISK_BYTES);
  boot.copy(b, 0);
  writeFileSync(disk, b);
}

function sectorOf(disk: string, lba: number): Buffer {
  const b = Buffer.alloc(512);
  const fd = openSync(disk, 'r');
  try {
    readSync(fd, b, 0, 512, lba * 512);
  } finally {
    closeSync(fd);
  }
  return b;
}

/** Starts the guest through the API, returns the program's line, stops it (QEMU ends: its writes are in the file). */
async function boot(vmid: number): Promise<PatternLine> {
  await f.startGuest(vmid);
  try {
    return await waitFor(`guest ${vmid}'s line on COM1`, () => {
      let log = '';
      try {
        log = readFileSync(f.runFile(vmid, 'serial.log'), 'latin1');
      } catch {
        /* not there yet */
      }
      return parsePatternLine(log);
    }, LINE_TIMEOUT_MS, 100);
  } finally {
    await f.stopGuest(vmid);
  }
}

P('should write the pattern on a blank sector, then find it at the next boot, on a virtio disk', async () => {
  const disk = await guest(190, 'virtio');
  install(disk, patternBootSector('a1b2c3d4e5f60789', LBA));
  assert.equal(await boot(190), { result: 'written', token: 'a1b2c3d4e5f60789' });
  const sector = sectorOf(disk, LBA);
  assert.ok(sector.subarray(0, PATTERN_BYTES).equals(patternBytes('a1b2c3d4e5f60789')), sector.toString('latin1'));
  assert.ok(sector.subarray(PATTERN_BYTES).equals(Buffer.alloc(512 - PATTERN_BYTES)), 'the rest of the sector is zeros');
  assert.ok(sectorOf(disk, LBA - 1).equals(Buffer.alloc(512)) && sectorOf(disk, LBA + 1).equals(Buffer.alloc(512)), 'only that sector written');
  assert.equal(await boot(190), { result: 'found', token: 'a1b2c3d4e5f60789' });
  assert.ok(sectorOf(disk, LBA).equals(sector), 'found: nothing written');
});

P('should overwrite another token\'s pattern and say written, on an IDE disk', async () => {
  const disk = await guest(191, 'ide');
  install(disk, patternBootSector('older', LBA));
  assert.equal(await boot(191), { result: 'written', token: 'older' });
  install(disk, patternBootSector('newer', LBA));
  assert.equal(await boot(191), { result: 'written', token: 'newer' });
  assert.ok(sectorOf(disk, LBA).subarray(0, PATTERN_BYTES).equals(patternBytes('newer')));
  assert.equal(await boot(191), { result: 'found', token: 'newer' });
});

P('should report the read step and the BIOS status for a sector past the end of the disk', async () => {
  // SeaBIOS answers an LBA beyond the drive with AH 01 (invalid parameter).
  const disk = await guest(192, 'virtio');
  install(disk, patternBootSector('far', DISK_BYTES / 512 + 10));
  assert.equal(await boot(192), { result: 'error', step: 'read', status: 0x01, token: 'far' });
});

P.run();
