/**
 * web/format.ts: every size, share, duration and time of the web app,
 * in both languages.
 */
import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import { setLang } from '../../../web/i18n';
import { formatBytes, formatDuration, formatExpiry, formatPercent, formatTime } from '../../../web/format';

const bytes = suite('formatBytes');

const SIZES: Array<[number, string, string, string]> = [
  [0, '0 B', '0 B', 'nothing'],
  [1023, '1,023 B', '1.023 B', 'bytes: whole, grouped as the language groups'],
  [1536, '1.5 KiB', '1,5 KiB', 'one decimal below 100'],
  [512 * 1024 ** 2, '512 MiB', '512 MiB', 'no decimal from 100 on'],
  [681574400, '650 MiB', '650 MiB', 'a CD image'],
  [1536 * 1024 ** 2, '1.5 GiB', '1,5 GiB', 'the same decimal on every page (Backups wrote "1.5 GiB" in German)'],
  [32 * 1024 ** 3, '32 GiB', '32 GiB', 'none for a whole number'],
  [1.04 * 1024 ** 3, '1 GiB', '1 GiB', 'rounded to one decimal, then ".0" dropped'],
  [3 * 1024 ** 5, '3,072 TiB', '3.072 TiB', 'TiB is the largest unit'],
];
for (const [n, en, de, why] of SIZES) {
  bytes(`should write ${n} as "${en}" / "${de}" (${why})`, () => {
    assert.is(formatBytes(n, 'en'), en);
    assert.is(formatBytes(n, 'de'), de);
  });
}

bytes("should take the app's language when none is given", () => {
  setLang('de');
  try {
    assert.is(formatBytes(1536), '1,5 KiB');
  } finally {
    setLang('en');
  }
  assert.is(formatBytes(1536), '1.5 KiB');
});

bytes.run();

const percent = suite('formatPercent');

percent('should write a share as a percentage with one decimal at most', () => {
  assert.is(formatPercent(0.256, 'en'), '25.6 %');
  assert.is(formatPercent(0.256, 'de'), '25,6 %');
  assert.is(formatPercent(1, 'en'), '100 %');
  assert.is(formatPercent(0.00049, 'en'), '0 %');
});

percent.run();

const duration = suite('formatDuration');

duration('should write seconds, minutes and hours in the language', () => {
  setLang('en');
  assert.is(formatDuration(0), '0 s');
  assert.is(formatDuration(75_000), '1 min 15 s');
  assert.is(formatDuration(2 * 3600_000 + 5 * 60_000), '2 h 5 min');
  assert.is(formatDuration(-5), '0 s', 'a clock that went back is no negative time');
});

duration.run();

const time = suite('formatTime and formatExpiry');

time('should write ms and the node\'s ISO times alike, in the language', () => {
  const ms = Date.UTC(2025, 10, 25, 10, 15, 0);
  setLang('en');
  const en = formatTime(ms);
  assert.is(formatTime('2025-11-25T10:15:00Z'), en);
  assert.match(en, /11\/25\/25/);
  setLang('de');
  assert.match(formatTime(ms), /25\.11\.25/);
  setLang('en');
});

time('should write an expiry of 0 as "Never" and other ones as a time', () => {
  setLang('en');
  assert.is(formatExpiry(0), 'Never');
  assert.is(formatExpiry(1_798_675_199), formatTime(1_798_675_199_000));
});

time.run();
