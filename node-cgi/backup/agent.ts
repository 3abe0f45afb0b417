/**
 * Whether a backup freezes a guest's filesystems through its QEMU guest
 * agent (qemu/qga.ts), as Proxmox VE's vzdump does: only a running guest
 * whose config has `agent` and whose agent answers a ping. An agent that
 * does not answer (not installed, not started yet, a guest started before
 * `agent` was set) is no error: the backup goes on without a freeze, and
 * its log says why.
 *
 *   agentDecision({ agent: true }, 'running', { ok: true })       → { freeze: true,  line: 'the guest agent answers: …' }
 *   agentDecision({ agent: true }, 'running', { ok: false, … })   → { freeze: false, line: 'the guest agent did not answer (…): …' }
 *   agentDecision({}, 'running', null)                             → { freeze: false, line: null }
 */
import { agentAnswers } from '../qemu/qga';
import type { Guest, VmConfig } from '../vm';

export interface AgentDecision {
  freeze: boolean;
  /** What the task's log says about it (null: the guest has no agent, nothing to say). */
  line: string | null;
}

/** The decision from the config, the status and the ping's result (null: not pinged). Pure. */
export function agentDecision(cfg: Pick<VmConfig, 'agent'>, status: 'running' | 'paused' | 'stopped', ping: { ok: true } | { ok: false; reason: string } | null): AgentDecision {
  if (cfg.agent !== true || status === 'stopped') return { freeze: false, line: null };
  if (status === 'paused') return { freeze: false, line: 'the guest is paused: its filesystems are not frozen (it writes nothing)' };
  if (!ping) return { freeze: false, line: null };
  return ping.ok
    ? { freeze: true, line: 'the guest agent answers: its filesystems are frozen for the instant the copy is taken' }
    : { freeze: false, line: `the guest agent did not answer (${ping.reason}): backing up without freezing its filesystems` };
}

/** The decision for guest `g` now: the agent pinged only when it matters. */
export async function agentForBackup(g: Pick<Guest, 'config' | 'files'>, status: 'running' | 'paused' | 'stopped'): Promise<AgentDecision> {
  const first = agentDecision(g.config, status, null);
  if (g.config.agent !== true || status !== 'running') return first;
  return agentDecision(g.config, status, await agentAnswers(g.files.agent));
}
