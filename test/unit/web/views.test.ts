import { join } from 'node:path';
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { navViews, VIEWS, visibleViews, type ViewDef } from '../../../web/views';
import { hasMessage } from '../../../web/i18n';
import { ICONS } from '../../../web/components/icon';
import { PRIVILEGES } from '../../../node-cgi/access/privileges';

const registry = suite('VIEWS');

registry('should give every view a unique route id, a known title, icon and privilege', () => {
  const ids = VIEWS.map((v) => v.id);
  assert.equal([...new Set(ids)], ids, 'ids are unique');
  for (const v of VIEWS) {
    assert.match(v.id, /^[a-z][a-z0-9-]*$/, `id ${v.id} is one route part`);
    assert.ok(hasMessage(v.title), `title of ${v.id}`);
    assert.ok(v.icon in ICONS, `icon of ${v.id}`);
    assert.ok(v.priv === null || (PRIVILEGES as readonly string[]).includes(v.priv), `privilege of ${v.id}`);
  }
});

registry('should list the views of the design in navigation order', () => {
  assert.equal(navViews(VIEWS).map((v) => v.id), ['guests', 'iso', 'backups', 'tasks', 'users', 'nodes', 'cluster']);
});

registry('should keep the console window out of the navigation but reachable by its route', () => {
  const c = VIEWS.find((v) => v.id === 'console');
  assert.ok(c?.hidden && c.load, 'console is hidden and loadable');
  assert.ok(visibleViews(['VM.Console']).includes(c!), 'a user with VM.Console may open it');
  assert.not.ok(navViews(visibleViews(['VM.Console'])).includes(c!), 'but it is not in the navigation');
});

// Node cannot import() an extensionless .ts path (the bundle and Chromium
// can; test/browser loads the views for real), so this reads the path from
// the load function and requires the module.
registry('should point every load at a module that default-exports a component', () => {
  const loaded = VIEWS.filter((x) => x.load);
  assert.ok(loaded.length > 0);
  for (const v of loaded) {
    const m = /import\(["'](\.\/[a-z0-9-]+)["']\)/.exec(String(v.load));
    assert.ok(m, `load of ${v.id} is one import() of a sibling module: ${String(v.load)}`);
    const mod = require(join(__dirname, '../../../web/views', m![1]!)) as { default?: unknown };
    assert.type(mod.default, 'function', `${v.id} exports a component`);
  }
});

registry.run();

const visible = suite('visibleViews');

const load = async () => ({ default: () => null });
const TABLE: ViewDef[] = [
  { id: 'a', title: 'nav.guests', icon: 'guests', priv: 'VM.Audit', load },
  { id: 'b', title: 'nav.iso', icon: 'iso', priv: 'Datastore.Audit', load },
  { id: 'c', title: 'nav.tasks', icon: 'tasks', priv: null, load },
  { id: 'd', title: 'nav.users', icon: 'users', priv: 'User.Modify' },
];

const CASES: Array<[string[], string[], string]> = [
  [[], ['c'], 'no privilege: only views for everyone'],
  [['VM.Audit'], ['a', 'c'], 'an auditor of guests'],
  [['VM.Audit', 'Datastore.Audit'], ['a', 'b', 'c'], 'order follows the registry, not the privileges'],
  [['User.Modify'], ['c'], 'a view without load is not shown even with its privilege'],
];

for (const [privs, want, why] of CASES) {
  visible(`should show ${JSON.stringify(want)} for ${JSON.stringify(privs)} (${why})`, () => {
    assert.equal(visibleViews(privs, TABLE).map((v) => v.id), want);
  });
}

visible.run();
