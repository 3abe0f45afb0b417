/**
 * Bad input through a real node (finding 8): what was silently taken is
 * refused with a clear 4xx and changes nothing: unknown fields, a backup
 * job on a storage that does not exist, a disk that names a file; and a
 * malformed body is answered in our words, never the parser's.
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNode, type Client, type TestNode } from '../helpers/node';

let node: TestNode;
let admin: Client;
const B = suite('bad input through lighttpd');
B.before(async () => {
  node = await startTestNode({ node: 'badinputnode' });
  admin = await node.login('admin', node.adminPassword);
  const created = await admin.post('/api/vm', { name: 'plain', memory: 32, disks: [], nics: [] });
  assert.is(created.status, 201, created.text);
});
B.after(async () => {
  await node?.stop();
});

const guestFile = () => join(node.root, 'etc/ramvm/vms/101.json');

B('should refuse a backup job on a storage that does not exist with 4xx, and store no job', async () => {
  const r = await admin.post('/api/backup/jobs', { storage: 'nope' });
  assert.ok(r.status === 400 || r.status === 404, r.text);
  assert.match(r.json.error.message, /nope/);
  assert.equal((await admin.get('/api/backup/jobs')).json.data, []);
});

B('should refuse a disk that names a file, and leave the guest as it was', async () => {
  const before = readFileSync(guestFile(), 'utf8');
  for (const body of [{ file: '/etc/passwd' }, { size: '1G', file: '/etc/passwd' }, { size: '1G', path: '/dev/sda' }]) {
    const r = await admin.post('/api/vm/101/disks', body);
    assert.is(r.status, 400, r.text);
    assert.match(r.json.error.message, /unknown field/);
  }
  assert.is(readFileSync(guestFile(), 'utf8'), before);
});

const UNKNOWN: [string, string, unknown, RegExp][] = [
  ['POST', '/api/backup/run', { vmid: 101, x: 1 }, /unknown field/],
  ['POST', '/api/backup/verify', { x: 1 }, /unknown field/],
  ['PUT', '/api/backup/mail', { sendmail: ['/bin/sh', '-c', 'id'] }, /a mail command is no longer configurable/],
  ['POST', '/api/backup/alerts/ack', { x: 1 }, /unknown field/],
  ['POST', '/api/vm/101/start', { force: true }, /takes no body|unknown field/],
];
for (const [method, path, body, message] of UNKNOWN) {
  B(`should refuse ${method} ${path} with a field it does not know`, async () => {
    const r = await admin.request(method, path, { json: body });
    assert.is(r.status, 400, r.text);
    assert.match(r.json.error.message, message);
  });
}

B("should answer malformed JSON in its own words on every kind of route, never the parser's", async () => {
  for (const [method, path] of [['POST', '/api/access/users'], ['PUT', '/api/vm/101'], ['POST', '/api/backup/jobs'], ['POST', '/api/vm/101/start']]) {
    const r = await admin.request(method!, path!, { body: '{"name":"<script>x', headers: { 'content-type': 'application/json' } });
    assert.is(r.status, 400, `${method} ${path}: ${r.text}`);
    assert.is(r.json.error.message, 'the body is not valid JSON');
    assert.not.match(r.text, /<script>|Unterminated|position|SyntaxError/);
  }
});

B.run();
