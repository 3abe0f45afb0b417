/**
 * Task kind "disk-check": `qemu-img check` of every disk image of a guest
 * (qcow2 consistency; raw images have nothing to check and are reported so).
 *
 *   params { vmid: 101 } → checks var/lib/vz/images/101/*.{qcow2,raw}
 *   qemu-img check --output=json → { "check-errors": 0, "corruptions": 0, "leaks": 0, … }
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { internal, HttpError } from '../lib/errors';
import { run, runAllowFail } from '../lib/exec';
import { guestImagesDir } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import type { TaskRun } from './task';

export interface QemuImgCheck {
  'check-errors': number;
  corruptions?: number;
  leaks?: number;
  'image-end-offset'?: number;
  filename: string;
  format: string;
}

/** Parse `qemu-img check --output=json`; throws with the input on garbage. */
export function parseQemuImgCheck(text: string): QemuImgCheck {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`qemu-img check printed no JSON: ${text.slice(0, 200)}`);
  }
  const o = v as QemuImgCheck;
  if (typeof o !== 'object' || o === null || typeof o['check-errors'] !== 'number') {
    throw new Error(`unexpected qemu-img check output: ${text.slice(0, 200)}`);
  }
  return o;
}

export async function diskCheck(t: TaskRun): Promise<string> {
  const vmid = checkedVmid(t.params.vmid);
  const dir = guestImagesDir(vmid);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /^vm-\d+-disk-\d+\.(qcow2|raw)$/.test(f)).sort();
  } catch {
    files = [];
  }
  if (files.length === 0) throw new HttpError('not_found', `guest ${vmid} has no disk images`);
  let bad = 0;
  for (const [i, f] of files.entries()) {
    t.progress((i / files.length) * 100, `checking ${f}`);
    const file = join(dir, f);
    if (f.endsWith('.raw')) {
      await run(['qemu-img', 'info', '--output=json', '-f', 'raw', file]);
      t.log(`${f}: raw image, readable (raw images have no metadata to check)`);
      continue;
    }
    // Exit 2 = corruptions, 3 = leaks only; both still print JSON.
    const res = await runAllowFail(['qemu-img', 'check', '--output=json', '-f', 'qcow2', file]);
    const c = parseQemuImgCheck(res.stdout);
    const corrupt = c.corruptions ?? 0;
    const leaks = c.leaks ?? 0;
    t.log(`${f}: ${corrupt} corruptions, ${leaks} leaked clusters, ${c['check-errors']} check errors`);
    if (corrupt > 0 || c['check-errors'] > 0) bad++;
  }
  if (bad > 0) throw internal(`${bad} of ${files.length} disk images of guest ${vmid} are damaged`);
  return `${files.length} disk image(s) of guest ${vmid} checked: no errors`;
}
