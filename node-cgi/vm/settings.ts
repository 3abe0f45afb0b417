/**
 * Per-node settings for guests: etc/ramvm/nodes/<node>.json
 *
 *   { "memoryOvercommit": 1.0,   running guests may claim 1.0 × the node's memory
 *     "accel": "auto" }          accelerator of guests without their own (vm/accel.ts)
 */
import { invalid } from '../lib/errors';
import { nodeName, nodeSettingsFile } from '../lib/paths';
import { readJson, updateJson } from '../lib/store';
import { only } from '../lib/validate';
import { DEFAULT_MEMORY_OVERCOMMIT } from './defaults';
import { ACCEL_SETTINGS, type AccelSetting, type NodeSettings } from './types';

/** Bounds of the overcommit ratio: below 0.1 nothing would start; above 10 the node would swap itself to death. */
export const OVERCOMMIT_MIN = 0.1;
export const OVERCOMMIT_MAX = 10;

const DEFAULTS: NodeSettings = { memoryOvercommit: DEFAULT_MEMORY_OVERCOMMIT, accel: 'auto' };

export function readNodeSettings(node = nodeName()): NodeSettings {
  return { ...DEFAULTS, ...readJson<Partial<NodeSettings>>(nodeSettingsFile(node), {}) };
}

/** A validated patch of the settings: only known fields, in range. */
export function checkSettingsPatch(body: Record<string, unknown>): Partial<NodeSettings> {
  const out: Partial<NodeSettings> = {};
  only(body, ['memoryOvercommit', 'accel']);
  for (const [k, v] of Object.entries(body)) {
    if (k === 'accel') {
      if (!(ACCEL_SETTINGS as readonly unknown[]).includes(v)) throw invalid(k, `must be one of ${ACCEL_SETTINGS.join(', ')}`);
      out.accel = v as AccelSetting;
      continue;
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v < OVERCOMMIT_MIN || v > OVERCOMMIT_MAX) {
      throw invalid(k, `must be a number from ${OVERCOMMIT_MIN} to ${OVERCOMMIT_MAX}`);
    }
    out.memoryOvercommit = v;
  }
  return out;
}

export function updateNodeSettings(patch: Partial<NodeSettings>, node = nodeName()): NodeSettings {
  const next = updateJson<Partial<NodeSettings>>(nodeSettingsFile(node), {}, (s) => ({ ...s, ...patch }));
  return { ...DEFAULTS, ...next };
}
