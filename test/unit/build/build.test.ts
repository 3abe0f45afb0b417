/**
 * The web budgets of build/build.ts as data: which outputs of a split
 * build load eagerly, lazily or are noVNC, and the rows that carry each
 * budget. `npm run build` applies them to the real metafile.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import type { Metafile } from 'esbuild';
import { transformSync } from 'esbuild';
import { BUDGETS, catalogueSource, classifyWebOutputs, overBudget, webJsRows, type WebOutput } from '../../../build/build';

type Out = Metafile['outputs'][string];
const out = (inputs: string[], imports: Array<[string, 'import-statement' | 'dynamic-import']>, entryPoint?: string): Out => ({
  bytes: 1,
  inputs: Object.fromEntries(inputs.map((i) => [i, { bytesInOutput: 1 }])),
  imports: imports.map(([path, kind]) => ({ path, kind })),
  exports: [],
  ...(entryPoint ? { entryPoint } : {}),
});

/** The shape of the real build: app → shared (static); app ⇢ guests ⇢ console part ⇢ noVNC (import()). */
const META: Pick<Metafile, 'outputs'> = {
  outputs: {
    'dist/www/chunk-guests-G.js': out(['web/views/guests.ts'], [['dist/www/chunk-chunk-S.js', 'import-statement'], ['dist/www/chunk-chunk-C.js', 'import-statement']], 'web/views/guests.ts'),
    'dist/www/app-A.js': out(['web/main.ts', 'web/shell/app.ts'], [['dist/www/chunk-chunk-S.js', 'import-statement'], ['dist/www/chunk-guests-G.js', 'dynamic-import']], 'web/main.ts'),
    'dist/www/chunk-chunk-S.js': out(['web/i18n/en.ts', 'node_modules/preact/dist/preact.mjs'], []),
    'dist/www/chunk-chunk-C.js': out(['web/console/rfb.ts'], [['dist/www/chunk-rfb-R.js', 'dynamic-import']]),
    'dist/www/chunk-rfb-R.js': out(['node_modules/@novnc/novnc/core/rfb.js', 'node_modules/@novnc/novnc/vendor/pako/lib/zlib/inflate.js'], [], 'node_modules/@novnc/novnc/core/rfb.js'),
    'dist/www/app-A.css': out(['web/style.css'], []),
  },
};

const classify = suite('classifyWebOutputs');

classify('should call eager what the app entry reaches by static imports, though every import() target is an entry point too', () => {
  const by = Object.fromEntries(classifyWebOutputs(META, 'web/main.ts').map((o) => [o.file, o]));
  assert.equal(Object.keys(by).sort(), ['dist/www/app-A.js', 'dist/www/chunk-chunk-C.js', 'dist/www/chunk-chunk-S.js', 'dist/www/chunk-guests-G.js', 'dist/www/chunk-rfb-R.js']);
  assert.equal(by['dist/www/app-A.js'], { file: 'dist/www/app-A.js', eager: true, novnc: false });
  assert.equal(by['dist/www/chunk-chunk-S.js'], { file: 'dist/www/chunk-chunk-S.js', eager: true, novnc: false });
  assert.equal(by['dist/www/chunk-guests-G.js'], { file: 'dist/www/chunk-guests-G.js', eager: false, novnc: false });
  assert.equal(by['dist/www/chunk-chunk-C.js'], { file: 'dist/www/chunk-chunk-C.js', eager: false, novnc: false }, 'a lazy chunk that imports noVNC is still ours');
});

classify('should call noVNC only a chunk made of noVNC alone', () => {
  assert.equal(classifyWebOutputs(META, 'web/main.ts').filter((o) => o.novnc).map((o) => o.file), ['dist/www/chunk-rfb-R.js']);
});

classify('should find nothing eager for an entry the build does not have', () => {
  assert.equal(classifyWebOutputs(META, 'web/other.ts').filter((o) => o.eager), []);
});

classify.run();

const rows = suite('webJsRows');

const sized = (o: WebOutput, gzip: number): WebOutput & { raw: number; gzip: number } => ({ ...o, raw: gzip * 3, gzip });
const KB = 1024;

rows('should budget each lazy chunk, the eager set and all but noVNC, and leave noVNC unbudgeted', () => {
  const r = webJsRows([
    sized({ file: 'app.js', eager: true, novnc: false }, 20 * KB),
    sized({ file: 'guests.js', eager: false, novnc: false }, 7 * KB),
    sized({ file: 'users.js', eager: false, novnc: false }, 5 * KB),
    sized({ file: 'rfb.js', eager: false, novnc: true }, 55 * KB),
  ]);
  const by = Object.fromEntries(r.map((x) => [x.file, x]));
  assert.is(by['app.js']!.budget, undefined, 'the eager chunks count together');
  assert.equal(by['guests.js']!.budget, { bytes: BUDGETS.webChunkGzip, of: 'gzip' });
  assert.is(by['rfb.js']!.budget, undefined);
  assert.equal(by['dist/www (app JS, eager)'], { file: 'dist/www (app JS, eager)', raw: 60 * KB, gzip: 20 * KB, budget: { bytes: BUDGETS.webJsGzip, of: 'gzip' } });
  assert.equal(by['dist/www (app JS, all but noVNC)'], {
    file: 'dist/www (app JS, all but noVNC)', raw: 96 * KB, gzip: 32 * KB, budget: { bytes: BUDGETS.webJsAllGzip, of: 'gzip' },
  });
  assert.equal(overBudget(r), []);
});

rows('should fail a lazy chunk over its own budget though the totals are within theirs', () => {
  const r = webJsRows([sized({ file: 'app.js', eager: true, novnc: false }, 10 * KB), sized({ file: 'big.js', eager: false, novnc: false }, BUDGETS.webChunkGzip + 1)]);
  assert.equal(overBudget(r).map((x) => x.file), ['big.js']);
});

rows('should fail the total when lazy chunks each within budget add up past it', () => {
  const many = Array.from({ length: 8 }, (_, i) => sized({ file: `v${i}.js`, eager: false, novnc: false }, BUDGETS.webChunkGzip));
  const r = webJsRows([sized({ file: 'app.js', eager: true, novnc: false }, 10 * KB), ...many]);
  assert.equal(overBudget(r).map((x) => x.file), ['dist/www (app JS, all but noVNC)']);
});

rows.run();

const catalogue = suite('catalogueSource');

/** Runs the module catalogueSource() makes, with `en` as its './en'. */
function load(src: string, en: Record<string, string>): Record<string, unknown> {
  const cjs = transformSync(src, { loader: 'ts', format: 'cjs' }).code;
  const module = { exports: {} as Record<string, unknown> };
  new Function('require', 'module', 'exports', cjs)((p: string) => (p === './en' ? { en } : assert.unreachable(p)), module, module.exports);
  return module.exports;
}

catalogue('should give back the same catalogue with each key written only in en', () => {
  const en = { 'a.one': 'One', 'b.two': 'Two {n}', 'c.three': 'It\'s "three"' };
  const de = { 'a.one': 'Eins', 'b.two': 'Zwei {n}', 'c.three': 'Es ist „drei“' };
  const src = catalogueSource('de', en, de);
  assert.not.match(src, /a\.one|b\.two|c\.three/);
  assert.equal(load(src, en).de, de);
});

catalogue('should fall back to en for a key the catalogue lacks', () => {
  const en = { 'a.one': 'One', 'b.two': 'Two' };
  assert.equal(load(catalogueSource('de', en, { 'a.one': 'Eins' }), en).de, { 'a.one': 'Eins', 'b.two': 'Two' });
});

catalogue.run();
