import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { en } from '../../../web/i18n/en';
import { de } from '../../../web/i18n/de';
import { CATALOGUES, hasMessage, pickLang, setLang, t } from '../../../web/i18n';
import { useDom } from './dom';

const WEB = join(__dirname, '../../../web');

function sources(dir = WEB): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/**
 * The static parts of every html`…` template in a source: the template with
 * each ${…} replaced by "\u0001". Nested templates inside expressions are
 * found as templates of their own.
 */
export function templateStatics(src: string): string[] {
  const out: string[] = [];
  let from = 0;
  for (;;) {
    const start = src.indexOf('html`', from);
    if (start < 0) return out;
    from = start + 5;
    out.push(readTemplate(src, start + 5).statics);
  }
}

function readTemplate(src: string, i: number): { statics: string; end: number } {
  let statics = '';
  while (i < src.length) {
    const c = src[i]!;
    if (c === '\\') {
      statics += src.slice(i, i + 2);
      i += 2;
    } else if (c === '`') {
      return { statics, end: i + 1 };
    } else if (c === '$' && src[i + 1] === '{') {
      statics += '\u0001';
      i = skipExpression(src, i + 2);
    } else {
      statics += c;
      i++;
    }
  }
  return { statics, end: i };
}

/** Index just after the "}" closing an expression that starts at i. */
function skipExpression(src: string, i: number): number {
  let depth = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '`') i = readTemplate(src, i + 1).end;
    else if (c === "'" || c === '"') {
      i++;
      while (i < src.length && src[i] !== c) i += src[i] === '\\' ? 2 : 1;
      i++;
    } else if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else {
      if (c === '{') depth++;
      if (c === '}' && --depth === 0) return i + 1;
      i++;
    }
  }
  return i;
}

/** Words written into a template instead of coming from t(). */
export function literalTexts(statics: string): string[] {
  const found: string[] = [];
  const letters = /[A-Za-zÄÖÜäöüß]{2,}/;
  const between = statics.replace(/<[^>]*>/g, '\u0002').split('\u0002');
  for (const piece of between) {
    const s = piece.replace(/\u0001/g, ' ').trim();
    if (letters.test(s)) found.push(s);
  }
  for (const m of statics.matchAll(/\b(aria-label|title|placeholder|alt)=["']([^"']*)["']/g)) {
    if (letters.test(m[2]!)) found.push(`${m[1]}="${m[2]}"`);
  }
  return found;
}

const catalogues = suite('message catalogues');

catalogues('should hold the same keys in English and German', () => {
  const enKeys = Object.keys(en).sort();
  const deKeys = Object.keys(de).sort();
  assert.equal(deKeys.filter((k) => !enKeys.includes(k)), [], 'keys only in de.ts');
  assert.equal(enKeys.filter((k) => !deKeys.includes(k)), [], 'keys only in en.ts');
});

catalogues('should have a non-empty text for every key in every language', () => {
  for (const [lang, cat] of Object.entries(CATALOGUES)) {
    for (const [k, v] of Object.entries(cat)) assert.ok(v.trim().length > 0, `${lang} ${k} is empty`);
  }
});

catalogues('should use the same placeholders in both languages', () => {
  for (const k of Object.keys(en) as (keyof typeof en)[]) {
    assert.equal(placeholders(de[k]), placeholders(en[k]), `placeholders of ${k}`);
  }
});

catalogues.run();

const usage = suite('message keys used by the web app');

usage('should find every key-like string of web/ in the catalogue', () => {
  const areas = new Set(Object.keys(en).map((k) => k.split('.')[0]));
  const missing: string[] = [];
  let seen = 0;
  for (const file of sources()) {
    if (file.includes('/i18n/')) continue;
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/['"`]([a-z]+\.[A-Za-z0-9.-]+)['"`]/g)) {
      const key = m[1]!;
      if (!areas.has(key.split('.')[0]!) || /\.(ts|css|js|png|svg|html)$/.test(key)) continue;
      seen++;
      if (!hasMessage(key)) missing.push(`${relative(WEB, file)}: ${key}`);
    }
  }
  assert.ok(seen > 50, `only ${seen} keys found: the scan is broken`);
  assert.equal(missing, []);
});

usage('should put no literal words into templates', () => {
  const found: string[] = [];
  let templates = 0;
  for (const file of sources()) {
    // Doc comments show templates as examples; they are not rendered.
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const s of templateStatics(code)) {
      templates++;
      for (const w of literalTexts(s)) found.push(`${relative(WEB, file)}: ${w}`);
    }
  }
  assert.ok(templates > 30, `only ${templates} templates found: the scan is broken`);
  assert.equal(found, []);
});

usage.run();

const scanner = suite('templateStatics + literalTexts (the checker itself)');

const CASES: Array<[string, string, string[]]> = [
  ['a word between tags', 'html`<p>Hello</p>`', ['Hello']],
  ['a text from t()', "html`<p>${t('app.name')}</p>`", []],
  ['punctuation around expressions', "html`<span>(${a}) · ${b}: ${c}</span>`", []],
  ['a literal aria-label', 'html`<button aria-label="Close">${x}</button>`', ['aria-label="Close"']],
  ['an aria-label from t()', "html`<button aria-label=${t('dialog.close')} />`", []],
  ['class names are not text', 'html`<div class="card table-wrap"><b>${x}</b></div>`', []],
  ['a word in a nested template', "html`<ul>${xs.map((x) => html`<li>Item ${x}</li>`)}</ul>`", ['Item']],
  ['a closing tag of a component', 'html`<${Dialog} open=${o}>${body}</${Dialog}>`', []],
  ['braces and strings inside an expression', "html`<p>${f({ a: '}' })}</p>`", []],
];

for (const [why, src, want] of CASES) {
  scanner(`should report ${JSON.stringify(want)} for ${why}`, () => {
    assert.equal(templateStatics(src).flatMap(literalTexts), want);
  });
}

scanner.run();

const lang = suite('pickLang');

const LANGS: Array<[string[], string, string]> = [
  [['de-DE', 'en'], 'de', 'German first'],
  [['de-AT'], 'de', 'a German region'],
  [['de'], 'de', 'German without region'],
  [['fr-FR', 'de-CH', 'en'], 'de', 'the first language we have wins'],
  [['en-GB', 'de'], 'en', 'English first'],
  [['fr-FR'], 'en', 'nothing we have: English'],
  [[], 'en', 'no preference: English'],
  [['DE_de'], 'de', 'odd case and underscore'],
];

for (const [prefs, want, why] of LANGS) {
  lang(`should pick ${want} for ${JSON.stringify(prefs)} (${why})`, () => {
    assert.is(pickLang(prefs), want);
  });
}

lang.run();

const tr = suite('t');
useDom(tr);

tr('should fill placeholders and keep unknown ones', () => {
  setLang('en');
  assert.is(t('panel.running', { n: 3 }), 'Running: 3');
  assert.is(t('table.count', { shown: 1 }), 'Showing 1 of {total}');
});

tr('should answer in the chosen language and remember the choice', () => {
  setLang('de');
  assert.is(t('top.logout'), 'Abmelden');
  assert.is(localStorage.getItem('ramvm.lang'), 'de');
  assert.is(document.documentElement.lang, 'de');
  setLang('en');
  assert.is(t('top.logout'), 'Log out');
});

tr.run();
