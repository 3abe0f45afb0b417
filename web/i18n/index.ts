/**
 * The language of the app and t(), the one way to get a text. The language
 * is the user's explicit choice (kept in localStorage) or else the first of
 * the browser's languages we have:
 *
 *   pickLang(['de-AT', 'en'])  →  'de'
 *   pickLang(['fr-FR'])        →  'en'
 *
 * Components call useLang() once near the top of the tree, so a switch
 * re-renders everything below.
 */
import { useEffect, useState } from 'preact/hooks';
import { de } from './de';
import { en, type MessageKey, type Messages } from './en';

export type { MessageKey } from './en';
export type Lang = 'en' | 'de';

export const CATALOGUES: Record<Lang, Messages> = { en, de };
export const LANGS = Object.keys(CATALOGUES) as Lang[];
const DEFAULT_LANG: Lang = 'en';
/** localStorage key of an explicit choice. */
const LANG_STORAGE_KEY = 'ramvm.lang';

let current: Lang = DEFAULT_LANG;
const listeners = new Set<(l: Lang) => void>();

const isLang = (x: unknown): x is Lang => typeof x === 'string' && (LANGS as string[]).includes(x);

/** The first of the browser's preferred languages that we speak. */
export function pickLang(prefs: readonly string[]): Lang {
  for (const p of prefs) {
    const primary = p.toLowerCase().split(/[-_]/)[0];
    if (isLang(primary)) return primary;
  }
  return DEFAULT_LANG;
}

function storedLang(): Lang | null {
  try {
    const v = localStorage.getItem(LANG_STORAGE_KEY);
    return isLang(v) ? v : null;
  } catch {
    return null;
  }
}

/** Choose the start language: an earlier explicit choice, else the browser's. */
export function initLang(): Lang {
  const nav = typeof navigator === 'undefined' ? [] : navigator.languages?.length ? navigator.languages : [navigator.language];
  apply(storedLang() ?? pickLang(nav));
  return current;
}

function apply(l: Lang): void {
  current = l;
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  for (const fn of listeners) fn(l);
}

/** Switch language (the user's choice, remembered). */
export function setLang(l: Lang): void {
  try {
    localStorage.setItem(LANG_STORAGE_KEY, l);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
  apply(l);
}

export const lang = (): Lang => current;

export function hasMessage(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(en, key);
}

/** The text of `key` in the current language with {name} placeholders filled. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const text = CATALOGUES[current][key] ?? en[key] ?? key;
  return params ? text.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m)) : text;
}

/** Re-render the calling component when the language changes. */
export function useLang(): Lang {
  const [l, setL] = useState(current);
  useEffect(() => {
    listeners.add(setL);
    setL(current);
    return () => void listeners.delete(setL);
  }, []);
  return l;
}
