/**
 * Task kind "disk-check": `qemu-img check` of every disk image of a guest
 * (qcow2 consistency; raw images have nothing to check and are reported so).
 *
 *   params { vmid: 101 } → checks var/lib/vz/images/101/*.{qcow2,raw}
 *   qemu-img check --output=json → { "check-errors": 0, "corruptions": 0, "leaks": 0, … } (tools/qemu-img.ts)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { internal, HttpError } from '../lib/errors';
import { checkImage, readable } from '../tools/qemu-img';
import { guestImagesDir } from '../lib/paths';
import { checkedVmid } from '../lib/validate';
import type { TaskRun } from '../tasks/task';

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
      await readable({ file, format: 'raw' });
      t.log(`${f}: raw image, readable (raw images have no metadata to check)`);
      continue;
    }
    const res = await checkImage(file);
    if (!res.report) throw new HttpError('exec_failed', `qemu-img check cannot read ${f} (exit ${res.code}): ${res.error}`);
    const c = res.report;
    const corrupt = c.corruptions ?? 0;
    const leaks = c.leaks ?? 0;
    t.log(`${f}: ${corrupt} corruptions, ${leaks} leaked clusters, ${c['check-errors']} check errors`);
    if (corrupt > 0 || c['check-errors'] > 0) bad++;
  }
  if (bad > 0) throw internal(`${bad} of ${files.length} disk images of guest ${vmid} are damaged`);
  return `${files.length} disk image(s) of guest ${vmid} checked: no errors`;
}
