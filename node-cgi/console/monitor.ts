/**
 * The QEMU monitor and screenshots, the pure part: checks of what a user
 * sends, the QMP arguments built from it, and the shape of the answers.
 *
 *   {"command": "info status"}
 *   → QMP {"execute": "human-monitor-command", "arguments": {"command-line": "info status"}}
 *   ← {"return": "VM status: running\r\n"}
 *   → {"output": "VM status: running\n"}
 *
 * Reference: https://qemu-project.gitlab.io/qemu/interop/qemu-qmp-ref.html
 * (human-monitor-command, screendump).
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
