/**
 * The boot parameters of a node, read from the kernel command line
 * (/proc/cmdline). This is the one place that knows them: the node's set-up
 * runs this code at boot, and the unit tests run it as data.
 *
 *   "quiet ramvm.node=alpha ramvm.ip=10.99.0.1/24 ramvm.gw=10.99.0.254 datadisk=/dev/vdb"
 *   → { node: "alpha", ip: { address: "10.99.0.1", prefix: 24 }, gw: "10.99.0.254",
 *       datadisk: "/dev/vdb", ramonly: false, shell: false }
 *
 * | parameter | meaning |
 * | --- | --- |
 * | `ramvm.node=NAME` | node name and host name (a DNS label) |
 * | `ramvm.ip=ADDR/PREFIX` | static IPv4 address of bridge vmbr0 (else DHCP) |
 * | `ramvm.ip=ask` | no DHCP until the console has asked for the IP settings (DHCP when nobody answers) |
 * | `ramvm.gw=ADDR` | default gateway (with ramvm.ip) |
 * | `ramvm.dns=ADDR[,ADDR]` | name servers (with ramvm.ip) |
 * | `ramvm.nic=NAME` | the NIC bridged into vmbr0 (default: the first one) |
 * | `datadisk=/dev/X` | the data disk or partition (made ext4 when blank) |
 * | `datadisk=auto` | the disk labelled ramvm-data, else the first blank disk (prepared images) |
 * | `ramonly` | keep everything in RAM, use no data disk |
 * | `ramvm.shell` | a root shell on the serial console (lab and rescue) |
 * | `ramvm.kiosk=0` | no kiosk on the node's screen (kiosk image; `=1` is the default) |
 * | `ramvm.keymap=de` | the kiosk's keyboard layout (an xkb layout name; default us) |
 * | `ramvm.blank=SECONDS` | the kiosk's screen goes black after this long without a key (0: never; default 600) |
 * | `ramvm.sysdisk=1` | keep the system (GRUB, kernel, initrd) on a first partition of the data disk, which then boots alone; `=0` stops it |
 * | `ramvm.backup=UUID` | backup mode (a backup disk's own boot menu): RAM only, the backup filesystem with this UUID mounted read-only as storage `backupdisk` |
 *
 * A bad value never stops a boot: it is reported (to /ram.log) and left
 * out, so the node comes up with DHCP or in RAM and can be reached to fix it.
 * As with the kernel's own parameters, the last of repeated ones wins.
 */

export interface BootParams {
  node?: string;
  ip?: { address: string; prefix: number };
  gw?: string;
  dns?: string[];
  nic?: string;
  datadisk?: string;
  /** ramvm.ip=ask: the console asks for the IP settings before any DHCP. */
  askIp?: boolean;
  ramonly: boolean;
  shell: boolean;
  /** The kiosk image shows the web UI on the node's screen (ramvm.kiosk=0 turns it off). */
  kiosk: boolean;
  keymap?: string;
  /** Seconds without a key before the kiosk's screen goes black (0: never). */
  blankS?: number;
  /** ramvm.sysdisk=1 / =0; absent: as the node's setting on its data disk says. */
  sysdisk?: boolean;
  /** ramvm.backup=UUID: backup mode, booted from a backup disk; its backup filesystem by UUID. */
  backup?: string;
}

export interface ParsedBootParams {
  params: BootParams;
  /** One line per rejected parameter, saying why. */
  errors: string[];
}

/** A host name label: lower case letters, digits and inner hyphens, 1–63 characters. */
const NODE_NAME_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A device path below /dev: letters, digits, "/", "_", "-", no "..". */
const DEVICE_RE = /^\/dev\/[A-Za-z0-9_][A-Za-z0-9_/.-]*$/;
/** A network interface name as the kernel allows (IFNAMSIZ 16 with the NUL). */
const NIC_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
/** An xkb layout name: "us", "de", "fr", "gb". */
const KEYMAP_RE = /^[a-z]{2,8}$/;
/** A filesystem UUID as blkid prints it: ext4's 8-4-4-4-12 hex, or FAT's XXXX-XXXX. */
const FS_UUID_RE = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-F]{4}-[0-9A-F]{4})$/;
/** The longest blanking time ramvm.blank= takes: a day, in seconds. */
export const MAX_BLANK_S = 86_400;

/** Words of a kernel command line; double quotes group a value with spaces, as the kernel's parser does. */
export function splitCmdline(cmdline: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quoted = false;
  let any = false;
  for (const ch of cmdline.trim()) {
    if (ch === '"') {
      quoted = !quoted;
      any = true;
    } else if (/\s/.test(ch) && !quoted) {
      if (any) words.push(cur);
      cur = '';
      any = false;
    } else {
      cur += ch;
      any = true;
    }
  }
  if (any) words.push(cur);
  return words;
}

/** "10.0.0.1" → true; octets 0–255 without leading zeros. */
export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255);
}

export function parseBootParams(cmdline: string): ParsedBootParams {
  const params: BootParams = { ramonly: false, shell: false, kiosk: true };
  const errors: string[] = [];
  const set = <K extends keyof BootParams>(key: K, value: BootParams[K]) => {
    params[key] = value;
  };
  const reject = (word: string, why: string) => errors.push(`${word}: ${why}`);

  for (const word of splitCmdline(cmdline)) {
    const eq = word.indexOf('=');
    const key = eq < 0 ? word : word.slice(0, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    switch (key) {
      case 'ramonly':
      case 'ramvm.ramonly':
        if (value !== undefined) reject(word, 'takes no value');
        else set('ramonly', true);
        break;
      case 'ramvm.shell':
        if (value !== undefined) reject(word, 'takes no value');
        else set('shell', true);
        break;
      case 'ramvm.kiosk':
        if (value !== '0' && value !== '1') reject(word, 'expected ramvm.kiosk=0 (off) or ramvm.kiosk=1');
        else set('kiosk', value === '1');
        break;
      case 'ramvm.keymap':
        if (value === undefined || !KEYMAP_RE.test(value)) reject(word, 'expected a keyboard layout name such as de or us');
        else set('keymap', value);
        break;
      case 'ramvm.blank':
        if (value === undefined || !/^(0|[1-9][0-9]{0,5})$/.test(value) || Number(value) > MAX_BLANK_S) reject(word, `expected whole seconds, 0 (never) to ${MAX_BLANK_S}`);
        else set('blankS', Number(value));
        break;
      case 'ramvm.node':
        if (value === undefined || !NODE_NAME_RE.test(value)) reject(word, 'a node name is 1-63 lower case letters, digits and inner hyphens');
        else set('node', value);
        break;
      case 'ramvm.ip': {
        if (value === 'ask') {
          set('askIp', true);
          break;
        }
        const m = value === undefined ? null : /^([0-9.]+)\/([0-9]{1,2})$/.exec(value);
        if (!m || !isIPv4(m[1]!)) reject(word, 'expected an IPv4 address with a prefix length, e.g. 192.168.1.10/24');
        else if (Number(m[2]) < 1 || Number(m[2]) > 32) reject(word, 'the prefix length must be 1-32');
        else set('ip', { address: m[1]!, prefix: Number(m[2]) });
        break;
      }
      case 'ramvm.gw':
        if (value === undefined || !isIPv4(value)) reject(word, 'expected an IPv4 address');
        else set('gw', value);
        break;
      case 'ramvm.dns': {
        const list = value?.split(',') ?? [];
        if (list.length === 0 || !list.every(isIPv4)) reject(word, 'expected IPv4 addresses separated by commas');
        else set('dns', list);
        break;
      }
      case 'ramvm.nic':
        if (value === undefined || !NIC_RE.test(value)) reject(word, 'expected an interface name such as eth0');
        else set('nic', value);
        break;
      case 'ramvm.sysdisk':
        if (value !== '1' && value !== '0') reject(word, 'expected 1 (the system on the data disk) or 0 (not)');
        else set('sysdisk', value === '1');
        break;
      case 'ramvm.backup':
        if (value === undefined || !FS_UUID_RE.test(value)) reject(word, 'expected the UUID of the backup filesystem, as blkid shows it');
        else set('backup', value);
        break;
      case 'datadisk':
      case 'ramvm.datadisk':
        if (value === 'auto') set('datadisk', value);
        else if (value === undefined || !DEVICE_RE.test(value) || value.split('/').includes('..')) reject(word, 'expected a device path such as /dev/sda4, or auto');
        else set('datadisk', value);
        break;
      default:
        if (key.startsWith('ramvm.')) reject(word, 'unknown ramvm parameter');
    }
  }
  if (params.backup) {
    // Backup mode writes nothing to any disk: settings stay in RAM, the backup disk is only read.
    if (params.datadisk) errors.push(`datadisk=${params.datadisk}: ignored, backup mode keeps everything in RAM`);
    if (params.sysdisk) errors.push('ramvm.sysdisk=1: ignored, backup mode writes no disk');
    delete params.datadisk;
    delete params.sysdisk;
    params.ramonly = true;
  }
  if (params.ramonly && params.datadisk) {
    errors.push(`datadisk=${params.datadisk}: ignored, ramonly keeps everything in RAM`);
    delete params.datadisk;
  }
  if (params.ip && params.askIp) delete params.askIp;
  if (!params.ip && (params.gw || params.dns)) {
    errors.push('ramvm.gw/ramvm.dns: ignored without ramvm.ip (DHCP sets them)');
    delete params.gw;
    delete params.dns;
  }
  return { params, errors };
}

/** A node name from the MAC of its first NIC when none is given: "52:54:00:12:34:56" → "ramvm-123456". */
export function defaultNodeName(mac: string | undefined): string {
  const hex = (mac ?? '').toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length >= 6 ? `ramvm-${hex.slice(-6)}` : 'ramvm';
}
