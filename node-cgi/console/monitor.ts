/**
 * The QEMU monitor and screenshots, the pure part: checks of what a user
 * sends, the QMP arguments built from it, and the shape of the answers.
 *
 *   {"command": "info status"}
 *   → QMP {"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}
 *   ← {"return": "VM status: running\r\n"}
 *   → {"output": "VM status: running\n"}
 *
 * A raw monitor command can reach the host (`migrate "exec:…"` starts a
 * program, `screendump`/`dump-guest-memory`/`drive_add` write or open host
 * files), so commands come in two kinds, as in Proxmox VE 8: read-only
 * ones for VM.Monitor, every other for Sys.Modify on "/" too. Read-only
 * is an allow-list of `info` subcommands that neither write nor change
 * anything and show nothing of the host, each with the exact shape of its
 * arguments; a command is read-only only when it matches one word for word,
 * tokens apart by one space, characters from a small set (no quotes, `;`,
 * `#`, `$` or blanks of other kinds):
 *
 *   hmpKind("info block -v drive-disk0")      → "read-only"
 *   hmpKind("info  status")                   → "full"   (two spaces: not the shape)
 *   hmpKind("info usbhost")                   → "full"   (the host's USB devices)
 *   hmpKind('migrate -d "exec:id > /tmp/x"')  → "full"
 *
 * Reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html
 * (human-monitor-command, screendump); `help info` of QEMU 7.2 for the
 * subcommands and their arguments.
 */
import { invalid } from '../lib/errors';

/** Longest HMP command line accepted (sendkey sequences and long paths fit). */
export const HMP_COMMAND_MAX_CHARS = 4096;
/** Time one HMP command may take before the request answers 504. */
export const HMP_TIMEOUT_MS = 30_000;
/** Narrowest and widest thumbnail, in pixels. */
export const THUMB_MIN_WIDTH_PX = 16;
export const THUMB_MAX_WIDTH_PX = 1024;

/** A single HMP command line: non-empty, no control characters (one line, no escapes). */
export function checkedHmpCommand(value: unknown): string {
  if (typeof value !== 'string') throw invalid('command', 'must be a string, e.g. "info status"');
  const cmd = value.trim();
  if (cmd.length === 0) throw invalid('command', 'must not be empty');
  if (cmd.length > HMP_COMMAND_MAX_CHARS) throw invalid('command', `must be at most ${HMP_COMMAND_MAX_CHARS} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(cmd)) throw invalid('command', 'must be one line without control characters');
  return cmd;
}

/** A device or node name as QEMU names them (drive-disk0, net0, #block123). */
const DEVICE = '[A-Za-z0-9_#][A-Za-z0-9_.#-]{0,63}';

/**
 * The read-only `info` subcommands of QEMU 7.2, each with the pattern of
 * its arguments (after "info <name>", one space apart) and its syntax for
 * the help text. What is left out, and why:
 *   usbhost                       the host's USB devices
 *   ramblock, jit                 host addresses of QEMU's memory (help for an exploit)
 *   roms, memdev                  host files (firmware, memory backends)
 *   opcount, profile, sync-profile, trace-events   the emulator's own internals on the host
 *   history                       commands of the monitor, not the guest
 *   migrate_capabilities, migrate_parameters, sev, sgx, rdma, capture, spice,
 *   rocker*, virtio-status/queue* the host's platform and set-up, devices this node never gives a guest
 */
export const READ_ONLY_INFO: Readonly<Record<string, { args: RegExp; syntax: string }>> = {
  balloon: { args: /^$/, syntax: '' },
  block: { args: new RegExp(`^(?:-n(?: |$))?(?:-v(?: |$))?(?:${DEVICE})?$`), syntax: '[-n] [-v] [device]' },
  'block-jobs': { args: /^$/, syntax: '' },
  blockstats: { args: /^$/, syntax: '' },
  chardev: { args: /^$/, syntax: '' },
  cpus: { args: /^$/, syntax: '' },
  dirty_rate: { args: /^$/, syntax: '' },
  dump: { args: /^$/, syntax: '' },
  'hotpluggable-cpus': { args: /^$/, syntax: '' },
  iothreads: { args: /^$/, syntax: '' },
  irq: { args: /^$/, syntax: '' },
  kvm: { args: /^$/, syntax: '' },
  lapic: { args: /^([0-9]{1,3})?$/, syntax: '[apic-id]' },
  mem: { args: /^$/, syntax: '' },
  'memory-devices': { args: /^$/, syntax: '' },
  memory_size_summary: { args: /^$/, syntax: '' },
  mice: { args: /^$/, syntax: '' },
  migrate: { args: /^$/, syntax: '' },
  mtree: { args: /^(?:-f(?: |$))?(?:-d(?: |$))?(?:-o(?: |$))?(?:-D)?$/, syntax: '[-f] [-d] [-o] [-D]' },
  name: { args: /^$/, syntax: '' },
  network: { args: /^$/, syntax: '' },
  numa: { args: /^$/, syntax: '' },
  pci: { args: /^$/, syntax: '' },
  pic: { args: /^$/, syntax: '' },
  qdm: { args: /^$/, syntax: '' },
  'qom-tree': { args: /^(\/[A-Za-z0-9_.\/[\]-]{0,200})?$/, syntax: '[path]' },
  qtree: { args: /^$/, syntax: '' },
  registers: { args: /^(-a|[0-9]{1,3})?$/, syntax: '[-a|vcpu]' },
  replay: { args: /^$/, syntax: '' },
  snapshots: { args: /^$/, syntax: '' },
  stats: { args: /^(vm|vcpu)( [A-Za-z0-9_*,-]{1,64}( [a-z]{1,16})?)?$/, syntax: 'vm|vcpu [names] [provider]' },
  status: { args: /^$/, syntax: '' },
  tlb: { args: /^$/, syntax: '' },
  tpm: { args: /^$/, syntax: '' },
  usb: { args: /^$/, syntax: '' },
  usernet: { args: /^$/, syntax: '' },
  uuid: { args: /^$/, syntax: '' },
  vcpu_dirty_limit: { args: /^$/, syntax: '' },
  version: { args: /^$/, syntax: '' },
  virtio: { args: /^$/, syntax: '' },
  'vm-generation-id': { args: /^$/, syntax: '' },
  vnc: { args: /^$/, syntax: '' },
};

/** Help that reads nothing of the guest or host: "help", "help <command>", and "info" alone (the list of info subcommands). */
const HELP_RE = /^(help( [a-z_-]{1,32})?|info)$/;

export type HmpKind = 'read-only' | 'full';

/**
 * Which kind of command a checked command line (checkedHmpCommand) is:
 * "read-only" only when it has exactly the shape of one of READ_ONLY_INFO
 * (or help); anything else, unknown commands included, is "full".
 */
export function hmpKind(command: string): HmpKind {
  if (HELP_RE.test(command)) return 'read-only';
  const m = /^info ([a-z_-]+)(?: (.*))?$/s.exec(command);
  if (!m) return 'full';
  const rule = Object.prototype.hasOwnProperty.call(READ_ONLY_INFO, m[1]!) ? READ_ONLY_INFO[m[1]!]! : null;
  const args = m[2] ?? '';
  // One space between tokens, none at either end: "info  status", "info status " are not the shape.
  if (m[2] !== undefined && (args === '' || args.startsWith(' ') || args.endsWith(' ') || args.includes('  '))) return 'full';
  return rule && rule.args.test(args) ? 'read-only' : 'full';
}

/** GET /api/monitor/<vmid>: what this caller may run on the guest's monitor. */
export interface MonitorAccess {
  /** Every command (Sys.Modify on "/"), not only the read-only ones. */
  full: boolean;
  /** The read-only commands with their arguments: "info block [-n] [-v] [device]". */
  readOnly: string[];
}

/** The read-only commands with their syntax, for the API and the UI: "info block [-n] [-v] [device]". */
export function readOnlyCommands(): string[] {
  return ['help [command]', 'info', ...Object.entries(READ_ONLY_INFO).map(([name, r]) => `info ${name}${r.syntax ? ` ${r.syntax}` : ''}`)];
}

export function hmpArgs(command: string): { 'command-line': string } {
  return { 'command-line': command };
}

/** HMP answers with CRLF line ends; the API speaks LF. */
export function parseHmpOutput(ret: unknown): string {
  if (typeof ret !== 'string') throw new Error(`human-monitor-command returned ${JSON.stringify(ret)}, not a string`);
  return ret.replace(/\r\n/g, '\n');
}

/** screendump to a PNG file (format "png" needs QEMU ≥ 7.1). */
export function screendumpArgs(file: string): { filename: string; format: 'png' } {
  return { filename: file, format: 'png' };
}

/** ?width=N of the screenshot: absent → null (full size); else an integer in range. */
export function checkedThumbWidth(value: string | null): number | null {
  if (value === null || value === '') return null;
  if (!/^[0-9]{1,5}$/.test(value)) throw invalid('width', 'must be a whole number of pixels');
  const n = Number(value);
  if (n < THUMB_MIN_WIDTH_PX || n > THUMB_MAX_WIDTH_PX) {
    throw invalid('width', `must be between ${THUMB_MIN_WIDTH_PX} and ${THUMB_MAX_WIDTH_PX}`);
  }
  return n;
}
