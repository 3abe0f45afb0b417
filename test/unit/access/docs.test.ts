import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVILEGES, PRIVILEGE_INFO, ROLES, type RoleName } from '../../../node-cgi/access/privileges';

/** "| `VM.Audit` | see a guest… |" rows of docs/API.md's Access section, as [name, rest]. */
function rows(): Map<string, string> {
  const doc = readFileSync(join(__dirname, '../../../docs/API.md'), 'utf8');
  const access = doc.slice(doc.indexOf('## Access'), doc.indexOf('\n## ', doc.indexOf('## Access') + 1));
  const out = new Map<string, string>();
  for (const m of access.matchAll(/^\| `([A-Za-z.]+)` \| (.+) \|$/gm)) out.set(m[1]!, m[2]!);
  return out;
}

const D = suite('docs/API.md');
D('should document every privilege with its meaning from privileges.ts', () => {
  const r = rows();
  for (const p of PRIVILEGES) assert.is(r.get(p), PRIVILEGE_INFO[p], p);
});
D('should list each role with exactly its privileges', () => {
  const r = rows();
  for (const role of Object.keys(ROLES) as RoleName[]) {
    const text = r.get(role);
    assert.ok(text, `role ${role} documented`);
    const listed = [...text!.matchAll(/`([A-Za-z.]+)`/g)].map((m) => m[1]);
    const want = role === 'Administrator' ? [] : [...ROLES[role]];
    assert.equal(listed, want, role);
  }
});
D.run();
