/**
 * A guest's screen as a PNG: QEMU writes it itself (QMP screendump, format
 * "png", QEMU ≥ 7.1) into a scratch file of the run folder that lives only
 * for this call.
 *
 *   → {"execute": "screendump", "arguments": {"filename": "…/.screendump-101-4242-9f3a61c0.png", "format": "png"}}
 *   ← {"return": {}}   then the file holds the PNG
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { internal } from '../lib/errors';
import { scratchFile } from '../lib/paths';
import { withQmp } from '../qemu/qmp';
import { screendumpArgs } from './monitor';
import { PNG_SIGNATURE } from './png';

/** The screen of guest `vmid` through its QMP socket `socket` (the status socket when work may hold the other). */
export async function screenshot(socket: string, vmid: number): Promise<Buffer> {
  const tmp = scratchFile(`screendump-${vmid}-${process.pid}-${randomBytes(4).toString('hex')}.png`);
  try {
    await withQmp(socket, (q) => q.execute('screendump', screendumpArgs(tmp)));
    const png = await readFile(tmp);
    if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw internal("QEMU's screendump is not a PNG");
    return png;
  } finally {
    await rm(tmp, { force: true });
  }
}
