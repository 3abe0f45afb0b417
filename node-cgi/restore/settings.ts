/**
 * Settings of the restore side of backups, kept apart from the backup
 * jobs' own file so each can change without the other:
 *
 *   etc/ramvm/backup/restore.json
 *   { "rescueImage": "ramvm-rescue.iso",                       an ISO of the library, or null
 *     "jobs": { "job-a1b2c3": { "bootCheck": { "enabled": true, "seconds": 60 } } } }
 *
 * rescueImage: every backup job copies it to its storage (once; again when
 * its SHA-256 changes), so the backup disk carries a system that boots and
 * runs the guests off it. bootCheck: after each verified backup of the job,
 * the backup is booted in a sandbox for `seconds` and a screenshot stored.
 */
import { existsSync } from 'node:fs';
import { invalid } from '../lib/errors';
import { isoFile, paths } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';
import { checkedBool, only } from '../lib/validate';

/** Longest boot check, seconds. */
export const BOOT_CHECK_MAX_S = 3600;
/** Boot check time when none is given, seconds: long enough for an OS to reach its login screen. */
export const BOOT_CHECK_DEFAULT_S = 60;

export interface BootCheckSetting {
  enabled: boolean;
  seconds: number;
}

export interface RestoreSettings {
  rescueImage: string | null;
  jobs: Record<string, { bootCheck?: BootCheckSetting }>;
}

export const restoreSettingsFile = () => paths().restoreSettings;

const EMPTY: RestoreSettings = { rescueImage: null, jobs: {} };

export function readRestoreSettings(): RestoreSettings {
  return { ...EMPTY, ...readJson<Partial<RestoreSettings>>(restoreSettingsFile(), {}) };
}

/** Seconds of a boot check: a whole number 1..BOOT_CHECK_MAX_S. */
export function checkedSeconds(v: unknown, field = 'seconds'): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > BOOT_CHECK_MAX_S) throw invalid(field, `must be a whole number of seconds from 1 to ${BOOT_CHECK_MAX_S}`);
  return v;
}

/** A job's boot check setting from a body {"enabled", "seconds"?} laid over the current one. */
export function parseBootCheck(body: Record<string, unknown>, cur: BootCheckSetting | undefined): BootCheckSetting {
  only(body, ['enabled', 'seconds']);
  const enabled = checkedBool(body.enabled ?? cur?.enabled ?? false, 'enabled');
  const seconds = body.seconds === undefined ? cur?.seconds ?? BOOT_CHECK_DEFAULT_S : checkedSeconds(body.seconds);
  return { enabled, seconds };
}

export function jobBootCheck(job: string): BootCheckSetting {
  return readRestoreSettings().jobs[job]?.bootCheck ?? { enabled: false, seconds: BOOT_CHECK_DEFAULT_S };
}

export function setJobBootCheck(job: string, v: BootCheckSetting): BootCheckSetting {
  updateJson<RestoreSettings>(restoreSettingsFile(), EMPTY, (s) => ({ ...EMPTY, ...s, jobs: { ...s.jobs, [job]: { ...s.jobs?.[job], bootCheck: v } } }));
  return v;
}

/** The rescue image: an ISO of the library (it must be there now), or null for none. */
export function checkedRescueImage(name: string | null): string | null {
  if (name !== null && !existsSync(isoFile(name))) throw invalid('image', `no ISO image named "${name}" in the library`);
  return name;
}

export function setRescueImage(name: string | null): RestoreSettings {
  return updateJson<RestoreSettings>(restoreSettingsFile(), EMPTY, (s) => ({ ...EMPTY, ...s, rescueImage: name }));
}
