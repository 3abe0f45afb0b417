/**
 * node-cgi/backup/agent.ts: when a backup freezes a guest's filesystems
 * through its agent, as a table of configs, states and pings.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { agentDecision } from '../../../node-cgi/backup/agent';

const D = suite('agentDecision');
const CASES: [string, Parameters<typeof agentDecision>, boolean, RegExp | null][] = [
  ['no agent in the config', [{}, 'running', null], false, null],
  ['agent false', [{ agent: false }, 'running', { ok: true }], false, null],
  ['a stopped guest (copied offline)', [{ agent: true }, 'stopped', null], false, null],
  ['a paused guest: it writes nothing, and its agent cannot run', [{ agent: true }, 'paused', null], false, /^the guest is paused: its filesystems are not frozen/],
  ['a running guest whose agent answers', [{ agent: true }, 'running', { ok: true }], true, /^the guest agent answers: its filesystems are frozen/],
  ['a running guest whose agent is silent', [{ agent: true }, 'running', { ok: false, reason: 'the guest agent did not answer guest-sync-delimited within 2000 ms' }], false,
    /^the guest agent did not answer \(the guest agent did not answer guest-sync-delimited within 2000 ms\): backing up without freezing its filesystems$/],
];
for (const [why, args, freeze, line] of CASES) {
  D(`should ${freeze ? '' : 'not '}freeze: ${why}`, () => {
    const d = agentDecision(...args);
    assert.is(d.freeze, freeze);
    if (line) assert.match(d.line!, line);
    else assert.is(d.line, null);
  });
}
D.run();
