/**
 * The layers of node-cgi/, checked on the source: a folder imports only
 * folders of lower layers (type imports too), and no module imports itself
 * round a cycle. docs/HACKING.md draws the same picture.
 *
 *   api-types.ts                     the API's answers as types (for the web app)
 *   handlers, cli, root              the edges: CGIs, the `ramvm` command, the root helper and the root-side start
 *   restore, migrate                 restores, run from backup, boot checks; moving guests between nodes
 *   backup                           storages, jobs, copies, verification
 *   console                          websocket console, monitor, screenshots
 *   vm                               guests: configs, QEMU processes, disks, status
 *   iso                              the ISO library
 *   auth                             who is asking (tickets, tokens) and what they may do
 *   cluster                          node to node: membership, replication, forwarding
 *   access                           users, groups, ACL, audit log
 *   qemu, tools, tasks               QMP client, external programs, the task runner
 *   lib                              CGI kernel, errors, paths, store, exec, validation
 */
import { suite } from '../helpers/suite';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { importGraph, importCycles } from '../helpers/imports';

const SRC = resolve(__dirname, '../../node-cgi');

/** Lowest first; folders on one line are peers and import none of each other. "." is node-cgi/ itself. */
export const LAYERS: readonly (readonly string[])[] = [
  ['lib'],
  ['qemu', 'tools', 'tasks'],
  ['access'],
  ['cluster'],
  ['auth'],
  ['iso'],
  ['vm'],
  ['console'],
  ['backup'],
  ['restore', 'migrate'],
  ['handlers', 'cli', 'root'],
  ['.'],
];

/** Folders entered from outside only through their index.ts, their public face. */
export const FACES: readonly string[] = ['vm'];

interface Edge {
  from: string;
  to: string;
}

/** Every relative import of node-cgi (static, type-only, re-exports and import()), as edges. */
function importEdges(root = SRC): Edge[] {
  return [...importGraph(root)].flatMap(([from, tos]) => tos.map((to) => ({ from, to })));
}

const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : '.');

function rankOf(folder: string): number {
  return LAYERS.findIndex((l) => l.includes(folder));
}

/** Imports of a folder at the same or a higher layer: "vm/manage.ts → backup/job.ts". */
export function layerViolations(edges: readonly Edge[]): string[] {
  return edges
    .filter((e) => folderOf(e.from) !== folderOf(e.to) && rankOf(folderOf(e.to)) >= rankOf(folderOf(e.from)))
    .map((e) => `${e.from} → ${e.to}`);
}

/** Imports into a folder with a public face that pass by it: "restore/boot.ts → vm/power.ts". */
export function faceViolations(edges: readonly Edge[], faces = FACES): string[] {
  return edges
    .filter((e) => faces.includes(folderOf(e.to)) && folderOf(e.from) !== folderOf(e.to) && e.to !== `${folderOf(e.to)}/index.ts`)
    .map((e) => `${e.from} → ${e.to}`);
}

const EDGES = importEdges();

const L = suite('node-cgi layers');
L('should place every folder of node-cgi in a layer', () => {
  const folders = readdirSync(SRC).filter((n) => statSync(join(SRC, n)).isDirectory());
  for (const f of folders) assert.ok(rankOf(f) >= 0, `node-cgi/${f}/ is in no layer of LAYERS`);
});
L('should read the imports of the tree', () => {
  assert.ok(EDGES.length > 300, `${EDGES.length} imports`);
  assert.ok(EDGES.some((e) => e.from === 'handlers/vm.ts' && e.to.startsWith('vm/')), 'handlers/vm.ts imports vm/');
});
L('should import only folders of lower layers', () => {
  assert.equal(layerViolations(EDGES), []);
});
L('should enter a folder with a public face only through its index.ts', () => {
  assert.equal(faceViolations(EDGES), []);
});
L('should import no handler from another (each is a CGI entry: bundled into another it would answer too)', () => {
  assert.equal(EDGES.filter((e) => e.from.startsWith('handlers/') && e.to.startsWith('handlers/')).map((e) => `${e.from} → ${e.to}`), []);
});
L('should have no import cycle', () => {
  assert.equal(importCycles(importGraph(SRC)), []);
});
L.run();

const W = suite('web imports of the node');
W('should import the node only type-only, and only its api-types.ts', () => {
  const web = resolve(__dirname, '../../web');
  const wrong: string[] = [];
  for (const rel of importGraph(web).keys()) {
    const file = join(web, rel);
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^;]*?from\s+'([^']*node-cgi[^']*)'/gm)) {
      if (!m[2] || !m[3]!.endsWith('node-cgi/api-types')) wrong.push(`${relative(web, file)}: ${m[0].replace(/\s+/g, ' ')}`);
    }
  }
  assert.equal(wrong, []);
});
W.run();

const C = suite('layer checks');
C('should catch a folder importing one above it, and a peer', () => {
  assert.equal(layerViolations([{ from: 'lib/cgi.ts', to: 'auth/authorize.ts' }, { from: 'tasks/kinds.ts', to: 'tools/qemu-img.ts' }]), [
    'lib/cgi.ts → auth/authorize.ts', 'tasks/kinds.ts → tools/qemu-img.ts',
  ]);
  assert.equal(layerViolations([{ from: 'restore/boot.ts', to: 'vm/index.ts' }, { from: 'vm/power.ts', to: 'vm/status.ts' }]), []);
});
C('should catch a way round a public face', () => {
  assert.equal(faceViolations([{ from: 'restore/boot.ts', to: 'vm/power.ts' }, { from: 'backup/guest.ts', to: 'vm/index.ts' }], ['vm']), ['restore/boot.ts → vm/power.ts']);
});
C.run();
