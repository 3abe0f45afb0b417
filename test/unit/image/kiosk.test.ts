import { suite } from '../../helpers/suite';
import * as assert from 'uvu/assert';
import {
  KIOSK_DISPLAY_DIR, KIOSK_ICU_LANGS, KIOSK_LINKS, KIOSK_MIN_RAM_MIB, KIOSK_RUN, KIOSK_URL, icuDataAssembly, icuDataDrop, icuDataLocation, KIOSK_USER, WESTON_INI, assignLibraries, cogArgs, cogEnv, contentFilter, drmCards, kioskAccounts, kioskDecision, kioskEnabledVars,
  kioskInittab, kioskMdevConf, kioskUrl, memTotalMiB, runnerScript, undefinedZ3Symbols, westonArgs, z3StubAssembly,
} from '../../../build/image/kiosk';
import { LANGS } from '../../../web/i18n';
import { DATA_DIRS } from '../../../node-cgi/root/setup';

const C = suite('contentFilter');
C('should block everything, then let only https and wss of the node\'s own port through', () => {
  const rules = JSON.parse(contentFilter(8006)) as { trigger: { 'url-filter': string }; action: { type: string } }[];
  assert.equal(rules.map((r) => [r.action.type, r.trigger['url-filter']]), [
    ['block', '.*'], ['ignore-previous-rules', '^https://localhost:8006/'], ['ignore-previous-rules', '^wss://localhost:8006/'],
  ]);
  const allowed = (url: string) => rules.slice(1).some((r) => new RegExp(r.trigger['url-filter']).test(url));
  assert.ok(allowed('https://localhost:8006/api/vm'));
  assert.ok(allowed('wss://localhost:8006/api/console/101'));
  for (const bad of ['http://localhost:8006/', 'https://localhost:80060/', 'https://localhost.evil:8006/', 'https://example.com/?https://localhost:8006/', 'file:///etc/passwd']) {
    assert.not.ok(allowed(bad), bad);
  }
});
C.run();

const A = suite('cogArgs / cogEnv / westonArgs');
A('should run cog in a Wayland window of weston with the filter', () => {
  const a = cogArgs();
  assert.is(a[0], 'cog');
  assert.ok(a.includes('--platform=wl'));
  assert.ok(a.some((x) => x.startsWith('--content-filter=')));
  assert.not.ok(a.includes('--ignore-tls-errors'), 'TLS errors are never ignored');
  assert.ok(a.every((x) => !/=$/.test(x)), 'every boolean option carries its value (else GOption eats the next word)');
  assert.is(cogEnv().WAYLAND_DISPLAY, '/run/kiosk-display/wayland-0');
});
A('should run weston on the kiosk\'s VT with DRM, the software renderer and the kiosk shell', () => {
  const w = westonArgs();
  for (const x of ['--backend=drm-backend.so', '--shell=kiosk-shell.so', '--use-pixman', '--tty=7', '--socket=wayland-0']) assert.ok(w.includes(x), x);
  assert.match(WESTON_INI, /^idle-time=0$/m, 'the web app blanks, not weston');
  assert.match(WESTON_INI, /^require-input=false$/m, 'a screen without a keyboard still shows the UI');
});
A.run();

const F = suite('KIOSK_RUN / KIOSK_DISPLAY_DIR');
F('should keep the kiosk\'s folders out of the data tree the node\'s user owns (closed to the kiosk user, and ramvm could swap them)', () => {
  for (const dir of [KIOSK_RUN, KIOSK_DISPLAY_DIR]) {
    for (const data of DATA_DIRS) assert.not.ok(`${dir}/`.startsWith(`/${data}/`), `${dir} lies in /${data}`);
  }
  assert.is(KIOSK_LINKS['/etc/ssl/certs/ca-certificates.crt'], `${KIOSK_DISPLAY_DIR}/trust.crt`);
});
F.run();

const U = suite('kioskUrl / kioskEnabledVars');
U('should open the node\'s own page, with the blanking time when one is set', () => {
  assert.is(KIOSK_URL, 'https://localhost:8006/?kiosk');
  assert.is(kioskUrl(), KIOSK_URL);
  assert.is(kioskUrl(30), 'https://localhost:8006/?kiosk&blank=30');
  assert.throws(() => kioskUrl(1.5), /whole seconds/);
  assert.throws(() => kioskUrl(-1), /whole seconds/);
});
U('should write the runner\'s keymap and page as quoted shell variables', () => {
  assert.is(kioskEnabledVars({}), "KIOSK_KEYMAP='us'\nKIOSK_URL='https://localhost:8006/?kiosk'\n");
  assert.is(kioskEnabledVars({ keymap: 'de', blankS: 0 }), "KIOSK_KEYMAP='de'\nKIOSK_URL='https://localhost:8006/?kiosk&blank=0'\n", 'sh would run "&" as an operator');
  assert.throws(() => kioskEnabledVars({ keymap: "us'; reboot; '" }), /single quote/);
});
U.run();

const R = suite('runnerScript');
R('should sleep unless enabled, run weston as root on tty7 and cog as the kiosk user in it', () => {
  const s = runnerScript();
  assert.match(s, /if \[ ! -f \/run\/kiosk-display\/enabled \]; then exec sleep/, 'root sources a file only root can write');
  assert.match(s, /chvt 7/);
  assert.match(s, /setsid env -i PATH=\/usr\/bin:\/bin XDG_RUNTIME_DIR=\/run\/kiosk-display XKB_DEFAULT_LAYOUT="\$KIOSK_KEYMAP" weston /);
  assert.match(s, /chgrp kiosk \/run\/kiosk-display\/wayland-0 2>\/dev\/null && chmod 0660/, 'weston\'s socket for the kiosk user only');
  assert.match(s, /setsid su -s \/bin\/sh kiosk -c/, 'cog in a session of its own, as the kiosk user');
  assert.match(s, /GALLIUM_DRIVER='llvmpipe'/);
  assert.match(s, / '\$KIOSK_URL' >>\/run\/kiosk\/cog\.log 2>&1" <\/dev\/null >\/dev\/null/, 'the URL is quoted ("?" is a glob); cog writes its own log as the kiosk user');
  assert.match(s, /kill -TERM -"\$1"/, 'stopping one stops its whole group');
  assert.match(s, /read -r vt < \/sys\/class\/tty\/tty0\/active\n  if \[ "\$vt" != tty7 \]; then/, 'cog stops while another VT shows and starts again on tty7');
  assert.not.match(s, />+ ?\/run\/kiosk\/(?!cog\.log)/, 'root writes nothing into the engine\'s home');
});
R.run();

const D = suite('kioskDecision');
D('should run with a KMS card and enough RAM', () => {
  const d = kioskDecision({ enabled: true, drmCards: ['card0'], memTotalMiB: 2000 });
  assert.is(d.run, true);
  assert.match(d.why, /kiosk: on card0, tty7 \(Ctrl\+Alt\+F1 text console, Alt\+F7 back\)/);
});
D('should say why it does not run, and that the web UI still serves', () => {
  const off = kioskDecision({ enabled: false, drmCards: ['card0'], memTotalMiB: 4000 });
  assert.equal([off.run, /ramvm.kiosk=0/.test(off.why)], [false, true]);
  const nodrm = kioskDecision({ enabled: true, drmCards: [], memTotalMiB: 4000 });
  assert.equal([nodrm.run, /no KMS display device/.test(nodrm.why)], [false, true]);
  const small = kioskDecision({ enabled: true, drmCards: ['card0'], memTotalMiB: KIOSK_MIN_RAM_MIB - 1 });
  assert.equal([small.run, /the kiosk needs 1536 MiB/.test(small.why)], [false, true]);
  for (const d of [off, nodrm, small]) assert.match(d.why, /web UI serves as always/);
});
D.run();

const M = suite('drmCards / memTotalMiB');
M('should take cards only, not connectors or render nodes', () => {
  assert.equal(drmCards(['renderD128', 'card1', 'card0-Virtual-1', 'card0', 'version']), ['card0', 'card1']);
});
M('should read MemTotal in MiB and refuse meminfo without it', () => {
  assert.is(memTotalMiB('MemTotal:        2048000 kB\nMemFree: 1 kB\n'), 2000);
  assert.throws(() => memTotalMiB('MemFree: 1 kB\n'), /no MemTotal/);
});
M.run();

const Z = suite('z3 stub');
Z('should list the undefined Z3_ symbols of readelf --dyn-syms once each', () => {
  const out = `Symbol table '.dynsym' contains 3 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
    10: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND Z3_mk_context
    11: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND Z3_del_context
    12: 0000000000001000    10 FUNC    GLOBAL DEFAULT   12 Z3_defined_here
    13: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND memcpy@GLIBC_2.14 (3)`;
  assert.equal(undefinedZ3Symbols(out), ['Z3_del_context', 'Z3_mk_context']);
});
Z('should make every symbol a global function that traps', () => {
  const s = z3StubAssembly(['Z3_a', 'Z3_b']);
  assert.match(s, /\.globl Z3_a\n\t\.type Z3_a, @function/);
  assert.match(s, /Z3_a:\nZ3_b:\n\tud2/);
});
Z('should refuse no symbols and names that are not z3 symbols', () => {
  assert.throws(() => z3StubAssembly([]), /no Z3_ symbols/);
  assert.throws(() => z3StubAssembly(['Z3_x; rm']), /not a z3 symbol/);
});
Z.run();

/** readelf -W --dyn-syms and -S of Debian 12's libicudata.so.72 (libicu72 72.1-3+deb12u1), the lines that matter. */
const ICU_SYMS = `Symbol table '.dynsym' contains 6 entries:
   Num:    Value          Size Type    Bind   Vis      Ndx Name
     0: 0000000000000000     0 NOTYPE  LOCAL  DEFAULT  UND 
     1: 0000000000000000     0 NOTYPE  WEAK   DEFAULT  UND __cxa_finalize
     5: 0000000000002000 0x1dcde00 OBJECT  GLOBAL DEFAULT   11 icudt72_dat`;
const ICU_SECTIONS = `Section Headers:
  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al
  [ 9] .text             PROGBITS        0000000000001040 001040 0000b9 00  AX  0   0 16
  [10] .fini             PROGBITS        00000000000010fc 0010fc 000009 00  AX  0   0  4
  [11] .rodata           PROGBITS        0000000000002000 002000 1dcde00 00   A  0   0 16
  [12] .eh_frame         PROGBITS        0000000001dcfe00 1dcfe00 000004 00   A  0   0  8`;

const ICU = suite('ICU data');
ICU('should keep the web app\'s languages', () => {
  assert.equal([...KIOSK_ICU_LANGS].sort(), [...LANGS].sort());
});
ICU('should drop converters, transliterators and the locales of other languages, in every tree', () => {
  const items = ['fr.res', 'fr_CA.res', 'es_.res', 'zh_Hant_TW.res', 'ibm-1047_P100-1995.cnv', 'translit/root.res', 'coll/fr.res', 'curr/ja.res', 'brkitr/fi.res'];
  assert.equal(icuDataDrop(items), items);
});
ICU('should keep root, English, German, the trees\' pools and indexes, and the data that is no locale\'s', () => {
  const items = ['root.res', 'en.res', 'en_US_POSIX.res', 'de_AT.res', 'coll/de.res', 'coll/root.res', 'coll/ucadata.icu', 'pool.res', 'curr/pool.res',
    'res_index.res', 'coll/res_index.res', 'zoneinfo64.res', 'plurals.res', 'units.res', 'cnvalias.icu', 'uts46.nrm', 'nfkc.nrm', 'brkitr/line.brk',
    'brkitr/cjdict.dict', 'unames.icu', 'rfc3491.spp'];
  assert.equal(icuDataDrop(items), []);
});
ICU('should find the data package: its symbol and where its bytes lie in the file', () => {
  assert.equal(icuDataLocation(ICU_SYMS, ICU_SECTIONS), { symbol: 'icudt72_dat', offset: 0x2000, size: 0x1dcde00 });
  // A section loaded elsewhere than it lies in the file: the offset is the file's.
  assert.equal(icuDataLocation(ICU_SYMS.replace('0000000000002000 0x1dcde00', '0000000000003010 0x100'), ICU_SECTIONS.replace('0000000000002000 002000', '0000000000003000 001000')),
    { symbol: 'icudt72_dat', offset: 0x1010, size: 0x100 });
});
ICU('should refuse a library without the package, or with it outside its section', () => {
  assert.throws(() => icuDataLocation(ICU_SYMS.replace('icudt72_dat', 'something_else'), ICU_SECTIONS), /defines no icudtNN_dat object/);
  assert.throws(() => icuDataLocation(ICU_SYMS.replace('   11 icudt72_dat', '   13 icudt72_dat'), ICU_SECTIONS), /no section 13 for icudt72_dat/);
  assert.throws(() => icuDataLocation(ICU_SYMS.replace('0x1dcde00', '0x1dcdf00'), ICU_SECTIONS), /icudt72_dat lies outside section \.rodata/);
});
ICU('should make a library of one object symbol holding the package', () => {
  const s = icuDataAssembly('icudt72_dat', '/tmp/x/icudt72l.dat');
  assert.match(s, /\.section \.rodata\n\t\.globl icudt72_dat\n\t\.type icudt72_dat, @object/);
  assert.match(s, /icudt72_dat:\n\t\.incbin "\/tmp\/x\/icudt72l\.dat"\n\t\.size icudt72_dat, \. - icudt72_dat/);
  assert.throws(() => icuDataAssembly('icudt72_dat; x', '/tmp/a'), /not an ICU data symbol/);
  assert.throws(() => icuDataAssembly('icudt72_dat', '/tmp/a"b'), /a data file name as cannot quote/);
});
ICU.run();

const L = suite('assignLibraries');
L('should give each library to the first part that needs it, and none the standard node has', () => {
  const m = assignLibraries({ mesa: ['/l/libLLVM.so', '/l/libc.so.6', '/l/libz.so'], webkit: ['/l/libz.so', '/l/libicu.so'], kiosk: ['/l/libicu.so', '/l/libinput.so'] },
    (lib) => lib === '/l/libc.so.6');
  assert.equal([...m], [['/l/libLLVM.so', 'mesa'], ['/l/libz.so', 'mesa'], ['/l/libicu.so', 'webkit'], ['/l/libinput.so', 'kiosk']]);
});
L.run();

const I = suite('kioskInittab / kioskAccounts');
I('should add udev, the kiosk and a tty1 console before ctrlaltdel', () => {
  const t = kioskInittab('::sysinit:/x\n::respawn:/y\n::ctrlaltdel:/sbin/reboot\n');
  assert.match(t, /::respawn:\/y\n# The kiosk[\s\S]*::respawn:\/usr\/lib\/systemd\/systemd-udevd\n::respawn:\/opt\/ramvm\/lib\/kiosk\ntty1::respawn:\/opt\/ramvm\/lib\/console\n::ctrlaltdel:/);
  assert.throws(() => kioskInittab('::sysinit:/x\n'), /ctrlaltdel/);
});
I('should add the kiosk user in its own group only (no device groups)', () => {
  const a = kioskAccounts('root:x:0:0:root:/root:/bin/sh\n', 'root:x:0:');
  assert.match(a.passwd, new RegExp(`\\nkiosk:x:${KIOSK_USER.uid}:${KIOSK_USER.gid}:kiosk:/run/kiosk:/usr/sbin/nologin\\n$`));
  assert.is(a.group, 'root:x:0:\nkiosk:x:1000:\n');
});
I('should open /dev/null and /dev/urandom to every user before the standard rules', () => {
  const m = kioskMdevConf('$MODALIAS=.*  root:root 0660 @modprobe\n');
  assert.match(m, /^null     root:root 0666$/m);
  assert.match(m, /^urandom  root:root 0666$/m);
  assert.ok(m.indexOf('urandom') < m.indexOf('$MODALIAS'), 'mdev takes the first rule that matches');
});
I.run();
