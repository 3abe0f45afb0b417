import { suite } from '../../helpers/suite';
import { useTempRoot } from '../../helpers/temp-root';
import * as assert from 'uvu/assert';
import { readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { AUDIT_ROTATE_BYTES, audit, auditFile, auditLine, filterAudit, parseAuditLines, readAudit, type AuditEvent } from '../../../node-cgi/access/audit';

const ev = (n: number, over: Partial<AuditEvent> = {}): AuditEvent => ({
  time: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`, node: 'n1', user: 'admin', action: 'user.create', object: `u${n}`, ok: true, ...over,
});

const L = suite('auditLine');
L('should be one line of JSON', () => {
  const line = auditLine(ev(1, { detail: { note: 'a\nb' } }));
  assert.ok(line.endsWith('\n'));
  assert.is(line.indexOf('\n'), line.length - 1);
  assert.equal(JSON.parse(line), ev(1, { detail: { note: 'a\nb' } }));
});
L('should cut a long detail', () => {
  const line = auditLine(ev(1, { detail: { big: 'x'.repeat(5000) } }));
  assert.ok(line.length < 1400, `${line.length}`);
});
L.run();

const P = suite('parseAuditLines');
P('should skip broken and foreign lines', () => {
  const text = auditLine(ev(1)) + '{"half":\n' + 'null\n' + '[1]\n\n' + auditLine(ev(2));
  assert.equal(parseAuditLines(text).map((e) => e.object), ['u1', 'u2']);
});
P.run();

const F = suite('filterAudit');
const events = [ev(1), ev(2, { user: 'anna', action: 'login' }), ev(3, { action: 'login.failed', ok: false }), ev(4)];
F('should give the newest first, at most limit', () => {
  assert.equal(filterAudit(events, { limit: 2 }).map((e) => e.object), ['u4', 'u3']);
});
F('should filter by user and by action or its family', () => {
  assert.equal(filterAudit(events, { limit: 10, user: 'anna' }).map((e) => e.object), ['u2']);
  assert.equal(filterAudit(events, { limit: 10, action: 'login' }).map((e) => e.object), ['u3', 'u2']);
  assert.equal(filterAudit(events, { limit: 10, action: 'login.failed' }).map((e) => e.object), ['u3']);
});
F.run();

const A = suite('audit');
useTempRoot(A);
A.before.each(() => {
  rmSync(auditFile(), { force: true });
  rmSync(`${auditFile()}.1`, { force: true });
});
A('should append events that readAudit returns newest first', () => {
  audit({ user: 'admin', action: 'group.create', object: 'g1', ok: true });
  audit({ user: 'admin', action: 'group.delete', object: 'g1', ok: true, addr: '10.0.0.1' });
  const got = readAudit({ limit: 10 });
  assert.equal(got.map((e) => e.action), ['group.delete', 'group.create']);
  assert.is(got[0]!.addr, '10.0.0.1');
  assert.ok(got[0]!.node.length > 0);
});
A('should rotate past the size limit and still read both generations', () => {
  const filler = auditLine(ev(9)).repeat(Math.ceil(AUDIT_ROTATE_BYTES / auditLine(ev(9)).length) + 1);
  writeFileSync(auditFile(), filler);
  audit({ user: 'admin', action: 'user.delete', object: 'last', ok: true });
  assert.ok(existsSync(`${auditFile()}.1`));
  assert.not.ok(existsSync(auditFile()) && statSync(auditFile()).size > AUDIT_ROTATE_BYTES);
  audit({ user: 'admin', action: 'user.delete', object: 'after', ok: true });
  const got = readAudit({ limit: 3 });
  assert.equal(got.map((e) => e.object), ['after', 'last', 'u9']);
  assert.match(readFileSync(auditFile(), 'utf8'), '"after"');
});
A.run();
