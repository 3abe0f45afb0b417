/**
 * Guest configs on disk: etc/ramvm/vms/<vmid>.json, one file per guest,
 * written atomically through lib/store.ts. Backups, console and migration
 * read guests through `readVmConfig` and `listVmConfigs`.
 */
import { readdirSync } from 'node:fs';
import { notFound } from '../lib/errors';
import { guestConfigFile, paths } from '../lib/paths';
import { readJson, updateJson, writeJsonAtomic } from '../lib/store';
import { checkedVmid } from '../lib/validate';
import type { VmConfig } from './types';

/** A guest's config or undefined when there is none. */
export function findVmConfig(vmid: number): VmConfig | undefined {
  return readJson<VmConfig>(guestConfigFile(checkedVmid(vmid)));
}

/** A guest's config; 404 when there is no such guest. */
export function readVmConfig(vmid: number): VmConfig {
  const cfg = findVmConfig(vmid);
  if (!cfg) throw notFound(`no guest with VMID ${vmid}`);
  return cfg;
}

/** VMIDs with a config file, ascending. */
export function listVmids(): number[] {
  let names: string[];
  try {
    names = readdirSync(paths().vms);
  } catch {
    return [];
  }
  return names
    .map((n) => /^([0-9]{3,9})\.json$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Every guest's config, by VMID; a corrupt file is logged and left out. */
export function listVmConfigs(): VmConfig[] {
  const out: VmConfig[] = [];
  for (const vmid of listVmids()) {
    try {
      const cfg = findVmConfig(vmid);
      if (cfg) out.push(cfg);
    } catch (e) {
      process.stderr.write(`ramvm: guest ${vmid}: unreadable config: ${(e as Error).message}\n`);
    }
  }
  return out;
}

export function writeVmConfig(cfg: VmConfig): void {
  writeJsonAtomic(guestConfigFile(cfg.vmid), cfg);
}

/** Locked read-modify-write of a guest's config; 404 when it does not exist, nothing written when fn throws. */
export function updateVmConfig(vmid: number, fn: (cfg: VmConfig) => VmConfig): VmConfig {
  return updateJson<VmConfig | null>(guestConfigFile(vmid), null, (cfg) => {
    if (!cfg) throw notFound(`no guest with VMID ${vmid}`);
    return fn(cfg);
  }) as VmConfig;
}
