/**
 * The kiosk variant of the node image as data: what it adds to the standard
 * node so that the node's own screen shows the web UI. `npm run image --
 * --kiosk` builds it beside the standard image; this module decides, image.ts
 * and node-setup.ts act.
 *
 * The engine is Debian 12's cog 0.16 on WPE WebKit 2.38 in a Wayland window
 * of weston 10 (kiosk shell: one full-screen window), which draws on the
 * kernel's DRM/KMS display with its software renderer (pixman). WebKit
 * renders with Mesa's llvmpipe and hands its frames to cog as shared memory;
 * cog hands them to weston the same way:
 *
 *   WPEWebProcess ──wl_shm──▶ cog (kiosk user) ──wl_shm──▶ weston (root) ──dumb buffer, page flip──▶ KMS
 *
 * cog's own DRM platform cannot show shared-memory frames (its modeset
 * renderer copies them from a stale mapping and shows black, then crashes;
 * its GLES renderer takes only EGL images), and llvmpipe has no other kind;
 * wlroots 0.15 (cage) refuses KMS devices without PRIME import, which
 * QEMU's standard VGA (bochs) lacks. weston's DRM backend with pixman needs
 * neither. It adds three squashfs parts on top of the standard node's, each
 * cached on its own:
 *
 *   kiosk  = weston (DRM backend, kiosk shell), cog and its Wayland platform,
 *            udev (libinput needs tagged devices), one font, keyboard maps,
 *            the KMS drivers, the set-up's files
 *   webkit = WPE WebKit (web and network processes), ICU (its data trimmed
 *            to the UI's languages), libsoup, TLS
 *   mesa   = EGL, the llvmpipe driver and LLVM
 *
 *   initrd-kiosk.img = initrd.img ++ cpio(etc/parts, parts/kiosk.sfs, webkit.sfs, mesa.sfs)
 *
 * The standard initrd is a prefix of the kiosk's, byte for byte: the kernel
 * unpacks the appended cpio over the first, so its etc/parts (the kiosk's
 * parts on top) replaces the early one, and stage 1 stacks all eight.
 *
 * weston runs as root (Debian 12 has neither logind nor a seat daemon it
 * could use here); the engine runs as the unprivileged kiosk user, which
 * can open neither the screen nor the keyboard, only weston's socket. The
 * engine gets no security updates in Debian 12, so it is locked to the
 * node itself: a content filter blocks every load but https:// and wss://
 * of localhost:8006, and the TLS trust store holds nothing but the node's
 * own certificate, made on first boot and kept on the data disk. What root
 * reads or writes lies in KIOSK_DISPLAY_DIR, which the kiosk user cannot
 * change.
 */
import type { HostFile } from './files';
import { NODE_PORT, NODE_RAMVM_DIR } from './files';

/** The kiosk's squashfs parts, top of the overlay first; they sit above the standard parts. */
export const KIOSK_PARTS = ['kiosk', 'webkit', 'mesa'] as const;
export type KioskPartName = (typeof KIOSK_PARTS)[number];

const LIB = '/usr/lib/x86_64-linux-gnu';
const elf = (path: string, pkg: string): HostFile => ({ path, pkg, elf: true });

/**
 * The programs and libraries the kiosk runs, by the part that holds them.
 * Each brings the libraries `ldd` names; a library goes to the first part
 * (in this order: mesa, webkit, kiosk) whose program needs it, unless the
 * standard node already has it.
 */
export const KIOSK_ELF: Readonly<Record<KioskPartName, readonly HostFile[]>> = {
  mesa: [
    // llvmpipe: Mesa's EGL on Wayland without a GPU loads it as swrast (KIOSK_LINKS); every DRI driver is this one file.
    elf(`${LIB}/dri/kms_swrast_dri.so`, 'libgl1-mesa-dri'),
    elf(`${LIB}/libEGL_mesa.so.0`, 'libegl-mesa0'),
    // libepoxy (WebKit's GL loader) opens these by name at run time; ldd does not see them.
    elf(`${LIB}/libGLESv2.so.2`, 'libgles2'),
    elf(`${LIB}/libEGL.so.1`, 'libegl1'),
  ],
  webkit: [
    elf(`${LIB}/wpe-webkit-1.1/WPEWebProcess`, 'libwpewebkit-1.1-0'),
    elf(`${LIB}/wpe-webkit-1.1/WPENetworkProcess`, 'libwpewebkit-1.1-0'),
    elf(`${LIB}/wpe-webkit-1.1/injected-bundle/libWPEInjectedBundle.so`, 'libwpewebkit-1.1-0'),
    // TLS for libsoup (GIO loads it from its module folder).
    elf(`${LIB}/gio/modules/libgiognutls.so`, 'glib-networking'),
  ],
  kiosk: [
    elf('/usr/bin/cog', 'cog'),
    elf(`${LIB}/cog/modules/libcogplatform-wl.so`, 'cog'),
    // cog loads the backend by its unversioned name at run time.
    elf(`${LIB}/libWPEBackend-fdo-1.0.so.1`, 'libwpebackend-fdo-1.0-1'),
    elf('/usr/bin/weston', 'weston'),
    // weston loads its backend and shell by name from these folders.
    elf(`${LIB}/libweston-10/drm-backend.so`, 'libweston-10-0'),
    elf(`${LIB}/weston/kiosk-shell.so`, 'weston'),
    elf('/usr/bin/udevadm', 'udev'),
  ],
};

/**
 * The kiosk's two folders lie in /run itself (root's, 0755), outside the
 * node user's run/ramvm: that one is ramvm:ramvm 0750 on a separated node,
 * so the kiosk user could not reach them through it, and ramvm, its owner,
 * could rename them and put a folder of its own in their place, whose
 * `enabled` the runner (root) would source.
 */
export const KIOSK_RUN_PARENT = '/run';
/** The kiosk user's home (HOME, caches, cog.log): a tmpfs the engine may write (kiosk:kiosk 0700). */
export const KIOSK_RUN = `${KIOSK_RUN_PARENT}/kiosk`;
/**
 * Root's side of the kiosk, which the kiosk user may enter but not change
 * (root:kiosk 0710): whether the kiosk runs (sourced by the runner, which is
 * root), weston's socket (root:kiosk 0660) and log, the pid files, the trust
 * file. Nothing root reads or writes lies in the engine's home.
 */
export const KIOSK_DISPLAY_DIR = `${KIOSK_RUN_PARENT}/kiosk-display`;

/** Links the kiosk adds: path → target. */
export const KIOSK_LINKS: Readonly<Record<string, string>> = {
  [`${LIB}/libWPEBackend-fdo-1.0.so`]: 'libWPEBackend-fdo-1.0.so.1',
  // weston's pixman renderer offers clients no GPU buffers, so Mesa's EGL renders in software, as "swrast".
  [`${LIB}/dri/swrast_dri.so`]: 'kms_swrast_dri.so',
  // udevadm is udevd when called by this name.
  '/usr/lib/systemd/systemd-udevd': '/usr/bin/udevadm',
  // GnuTLS's trust store: the node's own certificate, written there at boot, and nothing else.
  '/etc/ssl/certs/ca-certificates.crt': `${KIOSK_DISPLAY_DIR}/trust.crt`,
};

/** Data files and folders copied as they are (folders whole). */
export const KIOSK_DATA: readonly HostFile[] = [
  { path: '/usr/share/glvnd/egl_vendor.d/50_mesa.json', pkg: 'libegl-mesa0' },
  // One font: the UI asks for system-ui, sans-serif; noVNC draws on a canvas.
  { path: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', pkg: 'fonts-dejavu-core' },
  { path: '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf', pkg: 'fonts-dejavu-core' },
  // Keyboard maps (libxkbcommon) and libinput's device quirks.
  { path: '/usr/share/X11/xkb', pkg: 'xkb-data' },
  { path: '/usr/share/libinput', pkg: 'libinput-bin' },
];

/**
 * libLLVM names libz3 (LLVM's optional SMT solver, used by clang's static
 * analyzer) but Mesa never calls it: the kiosk ships a stub of the same
 * name whose every function traps (ud2), 7.7 MB smaller compressed.
 */
export const Z3_SONAME = 'libz3.so.4';

/**
 * KMS drivers (the kiosk's screen): Intel, QEMU's -vga std (bochs) and
 * virtio-gpu, and the cheap ones of servers and VMs (ASPEED and Matrox BMCs,
 * Cirrus, QXL, VMware); amdgpu, radeon and nouveau are left out (7.4 MB,
 * and they need non-free firmware). evdev gives libinput the keyboard.
 */
export const KIOSK_MODULES = ['i915', 'bochs', 'virtio_gpu', 'ast', 'mgag200', 'cirrus', 'qxl', 'vmwgfx', 'evdev'] as const;
/** Loaded by the set-up when the kiosk may run (the display drivers come with the coldplug, by modalias). */
export const KIOSK_INPUT_MODULE = 'evdev';

/** weston's socket, in KIOSK_DISPLAY_DIR (its XDG_RUNTIME_DIR); cog's WAYLAND_DISPLAY is the whole path. */
export const KIOSK_WAYLAND_SOCKET = 'wayland-0';
/** The page the kiosk shows; `?kiosk` turns on the web app's kiosk mode. */
export const KIOSK_URL = `https://localhost:${NODE_PORT}/?kiosk`;
/** The virtual terminal of the kiosk; Ctrl+Alt+F1 shows the text console, Alt+F7 comes back. */
export const KIOSK_VT = 7;
/** The unprivileged user cog runs as: in no device group (weston, root, has the screen and keyboard). */
export const KIOSK_USER = { name: 'kiosk', uid: 1000, gid: 1000 } as const;
/** Below this much RAM the node keeps its memory for guests and runs no kiosk, in MiB. */
export const KIOSK_MIN_RAM_MIB = 1536;
/** The set-up writes this (shell variables) when the kiosk may run; the kiosk's runner sleeps without it. */
export const KIOSK_ENABLED_FILE = `${KIOSK_DISPLAY_DIR}/enabled`;
/** The content filter (WebKit content-blocker rules) cog loads. */
export const KIOSK_FILTER = `${NODE_RAMVM_DIR}/kiosk/filter.json`;
/** weston's configuration. */
export const KIOSK_WESTON_INI = `${NODE_RAMVM_DIR}/kiosk/weston.ini`;

/**
 * weston's configuration: no idle blanking of its own (the web app blanks
 * and takes the waking key), and a screen without a keyboard still shows
 * the UI.
 */
export const WESTON_INI = `# weston of the kiosk (build/image/kiosk.ts)
[core]
idle-time=0
require-input=false
`;

/**
 * The content filter: block every load, then let the node's own origin
 * through (content-blocker regexes have no alternation, hence two rules).
 * It applies to top-level navigations, subresources and websockets alike.
 */
export function contentFilter(port: number = NODE_PORT): string {
  const allow = (scheme: string) => ({ trigger: { 'url-filter': `^${scheme}://localhost:${port}/` }, action: { type: 'ignore-previous-rules' } });
  return JSON.stringify([{ trigger: { 'url-filter': '.*' }, action: { type: 'block' } }, allow('https'), allow('wss')], null, 1) + '\n';
}

/** The kiosk's page: KIOSK_URL, with the blanking time when ramvm.blank= set one. */
export function kioskUrl(blankS?: number): string {
  if (blankS === undefined) return KIOSK_URL;
  if (!Number.isInteger(blankS) || blankS < 0) throw new Error(`blanking time must be whole seconds, not ${blankS}`);
  return `${KIOSK_URL}&blank=${blankS}`;
}

/** weston's command line: DRM/KMS with the software renderer, one full-screen window, on the kiosk's VT. */
export function westonArgs(): string[] {
  return ['weston', '--backend=drm-backend.so', '--shell=kiosk-shell.so', '--use-pixman', `--tty=${KIOSK_VT}`,
    `--socket=${KIOSK_WAYLAND_SOCKET}`, `--config=${KIOSK_WESTON_INI}`];
}

/** cog's command line (the page comes last, from the runner): a Wayland window, the filter, nothing but the node's page. */
export function cogArgs(): string[] {
  return ['cog', '--platform=wl', `--content-filter=${KIOSK_FILTER}`, '--webprocess-failure=restart',
    '--enable-developer-extras=0', '--enable-fullscreen=1', '--javascript-can-open-windows-automatically=0',
    '--enable-webgl=0', '--enable-media=0', '--enable-webaudio=0', '--enable-html5-database=0', '--enable-plugins=0',
    '--bg-color=#1f2937'];
}

/** The environment of cog: weston's socket, llvmpipe, the kiosk's tmpfs as home. */
export function cogEnv(): Record<string, string> {
  return {
    PATH: '/usr/bin:/bin',
    HOME: KIOSK_RUN,
    XDG_RUNTIME_DIR: KIOSK_RUN,
    WAYLAND_DISPLAY: `${KIOSK_DISPLAY_DIR}/${KIOSK_WAYLAND_SOCKET}`,
    XDG_CACHE_HOME: `${KIOSK_RUN}/cache`,
    XDG_DATA_HOME: `${KIOSK_RUN}/data`,
    GALLIUM_DRIVER: 'llvmpipe',
    FONTCONFIG_FILE: '/etc/fonts/fonts.conf',
    GST_REGISTRY_UPDATE: 'no',
  };
}

/** The keyboard layout without ramvm.keymap= (an xkb layout name). */
export const DEFAULT_KEYMAP = 'us';

/**
 * The runner's variables, written by the set-up into KIOSK_ENABLED_FILE and
 * sourced by the runner: values the boot parameters' parser validated,
 * single-quoted all the same ("&" and "?" of the URL mean something to sh).
 */
export function kioskEnabledVars(o: { keymap?: string; blankS?: number }): string {
  const vars = { KIOSK_KEYMAP: o.keymap ?? DEFAULT_KEYMAP, KIOSK_URL: kioskUrl(o.blankS) };
  return Object.entries(vars).map(([k, v]) => {
    if (v.includes("'")) throw new Error(`${k} must not hold a single quote: ${v}`);
    return `${k}='${v}'\n`;
  }).join('');
}

/**
 * The runner, /opt/ramvm/lib/kiosk (respawned by init). It sleeps unless
 * the set-up enabled the kiosk; else it tags the input and DRM devices
 * (udev), switches to the kiosk's VT, starts weston there (root), waits for
 * its socket and starts cog as the kiosk user in it; it starts again what
 * stops (cog alone, or both when weston stops), and gives up after five
 * stops. Ctrl+Alt+F1 (weston's) shows the text console: the runner then
 * stops cog, because weston 10 does not give the keyboard back to a window
 * it had before the switch; Alt+F7 comes back and cog starts again (log in
 * again).
 */
export function runnerScript(): string {
  const env = Object.entries(cogEnv()).map(([k, v]) => `${k}='${v}'`).join(' ');
  const q = (a: string) => (/^[A-Za-z0-9_./:=,-]+$/.test(a) ? a : `'${a}'`);
  const D = KIOSK_DISPLAY_DIR;
  const sock = `${D}/${KIOSK_WAYLAND_SOCKET}`;
  return `#!/bin/sh
# The kiosk (respawned by init; written by build/image/kiosk.ts runnerScript()).
# Sleeps unless the set-up enabled it (${KIOSK_ENABLED_FILE}; /ram.log says why not).
if [ ! -f ${KIOSK_ENABLED_FILE} ]; then exec sleep 2147483647; fi
. ${KIOSK_ENABLED_FILE}
say() { echo "[$(cut -d' ' -f1 /proc/uptime)] kiosk: $*" >> /ram.log; }
# udevd starts beside us (inittab): trigger only once it listens, else the events are lost.
n=0
while [ ! -S /run/udev/control ] && [ "$n" -lt 100 ]; do sleep 0.2; n=$((n + 1)); done
udevadm trigger --action=add --subsystem-match=input --subsystem-match=drm
udevadm settle --timeout=60
# A runner respawned by init takes over: what the one before started goes first (one DRM master).
for f in ${D}/cog.pid ${D}/weston.pid; do
  if [ -f "$f" ]; then kill -TERM -"$(cat "$f")" 2>/dev/null; fi
done
sleep 1
say "runner started"
weston=
cog=
fails=0
# weston and cog each run in a session of their own (setsid): stopping one stops its
# children too (cog's web and network processes).
stop() {
  kill -TERM -"$1" 2>/dev/null
  wait "$1" 2>/dev/null
}
failed() {
  fails=$((fails + 1))
  if [ "$fails" -ge 5 ]; then
    say "$1 stopped 5 times, giving up; the web UI still serves (see ${D}/weston.log, ${KIOSK_RUN}/cog.log)"
    if [ -n "$cog" ]; then stop "$cog"; fi
    if [ -n "$weston" ]; then stop "$weston"; fi
    chvt 1
    exec sleep 2147483647
  fi
}
while :; do
  if [ -z "$weston" ] || ! kill -0 "$weston" 2>/dev/null; then
    if [ -n "$weston" ]; then
      failed weston
      stop "$weston"
    fi
    if [ -n "$cog" ]; then stop "$cog"; cog=; fi
    rm -f ${sock} ${sock}.lock
    chvt ${KIOSK_VT}
    say "starting weston on tty${KIOSK_VT}"
    setsid env -i PATH=/usr/bin:/bin XDG_RUNTIME_DIR=${D} XKB_DEFAULT_LAYOUT="$KIOSK_KEYMAP" ${westonArgs().join(' ')} </dev/null >>${D}/weston.log 2>&1 &
    weston=$!
    echo "$weston" > ${D}/weston.pid
    n=0
    while [ ! -S ${sock} ] && [ "$n" -lt 300 ] && kill -0 "$weston" 2>/dev/null; do sleep 0.2; n=$((n + 1)); done
    # The socket is the kiosk user's way in, and no one else's.
    chgrp ${KIOSK_USER.name} ${sock} 2>/dev/null && chmod 0660 ${sock}
  fi
  read -r vt < /sys/class/tty/tty0/active
  if [ "$vt" != tty${KIOSK_VT} ]; then
    # Another VT (Ctrl+Alt+F1): weston drops the keyboard focus and would not give it back to
    # this cog; a new one, started when the kiosk's VT is back, gets it.
    if [ -n "$cog" ]; then
      say "tty${KIOSK_VT} left for $vt: stopping cog"
      stop "$cog"
      cog=
    fi
  elif [ -z "$cog" ] || ! kill -0 "$cog" 2>/dev/null; then
    if [ -n "$cog" ]; then
      failed cog
      stop "$cog"
    fi
    say "starting cog"
    # cog writes its log itself, as the kiosk user, in its own home.
    setsid su -s /bin/sh ${KIOSK_USER.name} -c "cd ${KIOSK_RUN} && exec env -i ${env} ${cogArgs().map(q).join(' ')} '$KIOSK_URL' >>${KIOSK_RUN}/cog.log 2>&1" </dev/null >/dev/null 2>&1 &
    cog=$!
    echo "$cog" > ${D}/cog.pid
  fi
  sleep 1
done
`;
}

export interface KioskDecision {
  run: boolean;
  /** The line for /ram.log. */
  why: string;
}

/**
 * Whether the kiosk runs on this boot: not with ramvm.kiosk=0, not without
 * a KMS device (the Debian kernel has no simpledrm: a display the shipped
 * drivers do not know stays a text console), not with less RAM than
 * KIOSK_MIN_RAM_MIB. Without it the node serves its web UI as always.
 */
export function kioskDecision(o: { enabled: boolean; drmCards: readonly string[]; memTotalMiB: number }): KioskDecision {
  if (!o.enabled) return { run: false, why: 'kiosk: off (ramvm.kiosk=0); the web UI serves as always' };
  if (o.drmCards.length === 0) return { run: false, why: 'kiosk: off: no KMS display device (/dev/dri/card*); the web UI serves as always' };
  if (o.memTotalMiB < KIOSK_MIN_RAM_MIB) {
    return { run: false, why: `kiosk: off: ${Math.round(o.memTotalMiB)} MiB of RAM, the kiosk needs ${KIOSK_MIN_RAM_MIB} MiB; the web UI serves as always` };
  }
  return { run: true, why: `kiosk: on ${o.drmCards.join(', ')}, tty${KIOSK_VT} (Ctrl+Alt+F1 text console, Alt+F7 back)` };
}

/** "card0", "card0-Virtual-1", "renderD128" (entries of /sys/class/drm) → the cards: ["card0"]. */
export function drmCards(entries: readonly string[]): string[] {
  return entries.filter((e) => /^card[0-9]+$/.test(e)).sort();
}

/** MemTotal of /proc/meminfo in MiB. */
export function memTotalMiB(meminfo: string): number {
  const m = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo);
  if (!m) throw new Error('no MemTotal in /proc/meminfo');
  return Number(m[1]) / 1024;
}

/**
 * Assembly of the z3 stub: one global function per symbol, each the same
 * trapping instruction. `as` and `ld -shared -soname libz3.so.4` make it a
 * library that satisfies the dynamic linker (Mesa opens its driver with
 * RTLD_NOW, so every symbol must be there) and crashes loudly if called.
 */
export function z3StubAssembly(symbols: readonly string[]): string {
  if (symbols.length === 0) throw new Error('no Z3_ symbols to stub: does libLLVM still link libz3?');
  for (const s of symbols) if (!/^Z3_[A-Za-z0-9_]+$/.test(s)) throw new Error(`not a z3 symbol: ${JSON.stringify(s)}`);
  const lines = ['\t.text', '\t.p2align 4'];
  for (const s of symbols) lines.push(`\t.globl ${s}`, `\t.type ${s}, @function`);
  lines.push(...symbols.map((s) => `${s}:`), '\tud2', '');
  return lines.join('\n');
}

/** ICU's data library: the one ICU library the kiosk ships trimmed (icuDataDrop). */
export const ICU_DATA_LIB_RE = /\/libicudata\.so\.[0-9]+$/;
/** The web app's languages (web/i18n LANGS): the only locales whose ICU data the kiosk keeps. */
export const KIOSK_ICU_LANGS = ['en', 'de'] as const;

/**
 * The items of ICU's data package (`icupkg -l` names) the kiosk leaves out:
 * libicudata goes from 31.3 to 7.2 MB unpacked, the mesa part (where it
 * lands) from 42.0 to 36.4 MB of xz. What goes:
 *
 *   *.cnv             legacy character converters (the UI is UTF-8, which WebKit decodes itself)
 *   translit/*        transliterators (nothing in WebKit or JavaScriptCore uses them)
 *   <locale>.res      every locale's data, in every tree (names, currencies, zones, units,
 *                     collation, number spelling), but root and KIOSK_ICU_LANGS'
 *
 * Kept: root and those locales, pool.res and res_index.res of each tree,
 * time zones, plural rules, normalization (nfc, nfkc, uts46 for host
 * names), break rules and their dictionaries (a guest's name in Thai or
 * Chinese still breaks), Unicode properties. A locale left out falls back
 * to root (Intl, localeCompare): formatted, just not in that language.
 */
export function icuDataDrop(items: readonly string[], langs: readonly string[] = KIOSK_ICU_LANGS): string[] {
  const keepLocale = new RegExp(`^(root|${langs.join('|')})(_|\\.)`);
  return items.filter((item) => {
    const [dir, file] = item.includes('/') ? [item.slice(0, item.lastIndexOf('/')), item.slice(item.lastIndexOf('/') + 1)] : ['', item];
    if (file.endsWith('.cnv') || dir === 'translit') return true;
    // Locale data: a 2–3 letter language, maybe with script, region, variant ("es_", the parent of es_419, too).
    return /^[a-z]{2,3}(_[A-Za-z0-9_]*)?\.res$/.test(file) && file !== 'res_index.res' && !keepLocale.test(file);
  });
}

/**
 * Where libicudata keeps its data package, from `readelf -W --dyn-syms`
 * and `readelf -W -S`: the symbol icudtNN_dat (an object in .rodata) and
 * its bytes' offset in the file.
 */
export function icuDataLocation(readelfDynSyms: string, readelfSections: string): { symbol: string; offset: number; size: number } {
  let sym: { symbol: string; value: number; size: number; ndx: string } | undefined;
  for (const line of readelfDynSyms.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length >= 8 && /^icudt[0-9]+_dat$/.test(f[7]!) && f[3] === 'OBJECT' && f[6] !== 'UND') {
      sym = { symbol: f[7]!, value: parseInt(f[1]!, 16), size: f[2]!.startsWith('0x') ? parseInt(f[2]!, 16) : Number(f[2]), ndx: f[6]! };
    }
  }
  if (!sym) throw new Error('libicudata defines no icudtNN_dat object');
  // "  [11] .rodata  PROGBITS  0000000000002000 002000 1dcde00 00   A  0   0 16": Nr Name Type Addr Off Size …
  const sec = new RegExp(`^\\s*\\[\\s*${sym.ndx}\\]\\s+(\\S+)\\s+\\S+\\s+([0-9a-f]+)\\s+([0-9a-f]+)\\s+([0-9a-f]+)`, 'm').exec(readelfSections);
  if (!sec) throw new Error(`libicudata has no section ${sym.ndx} for ${sym.symbol}`);
  const [addr, off, size] = [parseInt(sec[2]!, 16), parseInt(sec[3]!, 16), parseInt(sec[4]!, 16)];
  if (sym.value < addr || sym.value + sym.size > addr + size) throw new Error(`${sym.symbol} lies outside section ${sec[1]}`);
  return { symbol: sym.symbol, offset: off + sym.value - addr, size: sym.size };
}

/** A libicudata of one symbol, `symbol`, holding the data package `datFile` (for as; ld -shared makes the library). */
export function icuDataAssembly(symbol: string, datFile: string): string {
  if (!/^icudt[0-9]+_dat$/.test(symbol)) throw new Error(`not an ICU data symbol: ${JSON.stringify(symbol)}`);
  if (/["\\\n]/.test(datFile)) throw new Error(`a data file name as cannot quote: ${JSON.stringify(datFile)}`);
  return ['\t.section .rodata', `\t.globl ${symbol}`, `\t.type ${symbol}, @object`, '\t.balign 16', `${symbol}:`, `\t.incbin "${datFile}"`, `\t.size ${symbol}, . - ${symbol}`, ''].join('\n');
}

/** The undefined Z3_ symbols of `readelf -W --dyn-syms` output. */
export function undefinedZ3Symbols(readelfDynSyms: string): string[] {
  const out = new Set<string>();
  for (const line of readelfDynSyms.split('\n')) {
    const f = line.trim().split(/\s+/);
    // Num: Value Size Type Bind Vis Ndx Name
    if (f.length >= 8 && f[6] === 'UND' && /^Z3_/.test(f[7]!)) out.add(f[7]!.replace(/@.*$/, ''));
  }
  return [...out].sort();
}

/**
 * Which kiosk part each library goes to: the first group (mesa, webkit,
 * kiosk) whose programs need it; libraries the standard node has are left
 * out (they are there already).
 */
export function assignLibraries(needs: Readonly<Record<KioskPartName, readonly string[]>>, inStandard: (lib: string) => boolean): Map<string, KioskPartName> {
  const out = new Map<string, KioskPartName>();
  for (const part of ['mesa', 'webkit', 'kiosk'] as const) {
    for (const lib of needs[part]) if (!out.has(lib) && !inStandard(lib)) out.set(lib, part);
  }
  return out;
}

/** The kiosk's lines added to the standard inittab: udev, the kiosk, a text console on tty1. */
export function kioskInittab(standard: string): string {
  const lines = [
    '# The kiosk variant: udev tags input and DRM devices for libinput; the kiosk',
    `# runs on tty${KIOSK_VT}; tty1 is the text console (Ctrl+Alt+F1; Alt+F7 back to the kiosk).`,
    '::respawn:/usr/lib/systemd/systemd-udevd',
    `::respawn:${NODE_RAMVM_DIR}/lib/kiosk`,
    `tty1::respawn:${NODE_RAMVM_DIR}/lib/console`,
  ];
  const at = standard.indexOf('::ctrlaltdel:');
  if (at < 0) throw new Error('the standard inittab has no ::ctrlaltdel: line to insert the kiosk before');
  return standard.slice(0, at) + lines.join('\n') + '\n' + standard.slice(at);
}

/** /etc/passwd and /etc/group with the kiosk user and its own group (no other). */
export function kioskAccounts(passwd: string, group: string): { passwd: string; group: string } {
  const u = KIOSK_USER;
  const add = (text: string, line: string) => (text.endsWith('\n') ? text : text + '\n') + line + '\n';
  return { passwd: add(passwd, `${u.name}:x:${u.uid}:${u.gid}:kiosk:${KIOSK_RUN}:/usr/sbin/nologin`), group: add(group, `${u.name}:x:${u.gid}:`) };
}

/**
 * mdev's rules with the devices every user needs first: mdev's start-up scan
 * gives any device without a rule root:root 0660, and the kiosk's processes
 * (not root) open /dev/null and /dev/urandom (WebKit aborts without them).
 */
export function kioskMdevConf(standard: string): string {
  const open = ['null', 'zero', 'full', 'random', 'urandom', 'tty'].map((d) => `${d.padEnd(8)} root:root 0666`);
  return ['# The kiosk variant: devices every user opens (the kiosk user too).', ...open, '', standard].join('\n');
}

/**
 * udev rules of the kiosk: input devices get libinput's ID_INPUT_* tags
 * (weston's libinput ignores untagged ones); nothing loads drivers (mdev
 * does) and devices stay root's (weston is root).
 */
export const KIOSK_UDEV_RULES = `# The kiosk's udev rules: input devices get libinput's ID_INPUT_* tags.
ACTION=="remove", GOTO="ramvm_kiosk_end"
SUBSYSTEM=="input", ENV{ID_INPUT}=="", IMPORT{builtin}="input_id"
LABEL="ramvm_kiosk_end"
`;

/** fontconfig: the one font, every generic family mapped to it, the cache in the kiosk's tmpfs. */
export const KIOSK_FONTS_CONF = `<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>
  <dir>/usr/share/fonts</dir>
  <cachedir>${KIOSK_RUN}/cache/fontconfig</cachedir>
  <alias><family>system-ui</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>sans-serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>serif</family><prefer><family>DejaVu Sans</family></prefer></alias>
  <alias><family>monospace</family><prefer><family>DejaVu Sans</family></prefer></alias>
</fontconfig>
`;
