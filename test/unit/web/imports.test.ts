/**
 * The web app's modules import each other without cycles: a view never
 * imports the registry that loads it, nor a sibling that imports it back.
 * Type-only imports and import() count too (see test/helpers/imports.ts).
 */
import { join } from 'node:path';
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { importCycles, importGraph, importSpecifiers } from '../../helpers/imports';

const WEB = join(__dirname, '../../../web');

const specifiers = suite('importSpecifiers');

const SOURCES: Array<[string, string, string[]]> = [
  ["import { h } from 'preact';\nimport { api } from './api';", 'named imports, packages included', ['preact', './api']],
  ["import type { Me } from '../api';", 'a type-only import', ['../api']],
  ["import {\n  a,\n  b,\n} from './model';", 'an import over several lines', ['./model']],
  ["export { default } from '../access/account';\nexport * from './x';", 're-exports', ['../access/account', './x']],
  ["import './style.css';", 'an import for its side effect', ['./style.css']],
  ["const load = () => import('./guests');", 'a dynamic import', ['./guests']],
  ["/**\n *   import { Console } from '../console/console';\n *   load: () => import('./guests'),\n */\nimport { t } from './i18n';", 'examples in a doc comment do not count', ['./i18n']],
  ["// import { x } from './x';\nconst s = 'import from';", 'a commented-out import and the words in a string do not count', []],
];
for (const [src, why, want] of SOURCES) {
  specifiers(`should read ${why}`, () => {
    assert.equal(importSpecifiers(src), want);
  });
}

specifiers.run();

const cycles = suite('importCycles');

cycles('should find no cycle in a tree', () => {
  assert.equal(importCycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]])), []);
});

cycles('should report a cycle once, from its smallest module, the shortest way round', () => {
  const g = new Map([['views/index', ['views/guests', 'views/iso']], ['views/guests', ['views/index']], ['views/iso', ['views/guests']]]);
  assert.equal(importCycles(g), [['views/guests', 'views/index', 'views/guests']]);
});

cycles('should report two separate cycles and a module that imports itself', () => {
  const g = new Map([['a', ['b']], ['b', ['a']], ['c', ['d']], ['d', ['c']], ['e', ['e']]]);
  assert.equal(importCycles(g), [['a', 'b', 'a'], ['c', 'd', 'c'], ['e', 'e']]);
});

cycles.run();

const web = suite('web/ imports');

web('should read the imports of every module of web/', () => {
  const g = importGraph(WEB);
  assert.ok(g.size > 40, `${g.size} modules`);
  assert.ok(g.get('main.ts')?.includes('shell/app.ts'), 'main.ts imports the shell');
});

web('should hold no import cycle', () => {
  const found = importCycles(importGraph(WEB));
  assert.equal(found, [], `cycles:\n${found.map((c) => c.join(' → ')).join('\n')}`);
});

web.run();
