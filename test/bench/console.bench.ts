/**
 * The console's costs against the guest's VNC socket used directly, both
 * measured in the same run with the same RFB client:
 *
 *   open-to-first-frame   websocket request → 101 → RFB handshake → first whole
 *                         framebuffer (lighttpd + CGI start + bridge), median of runs
 *   framebuffer throughput  whole Raw frames requested one after another, MiB/s:
 *                         from a real QEMU guest (720×400×4 bytes; QEMU answers on
 *                         its display refresh, so this shows what a user gets), and
 *                         from an RFB server that answers at once (1024×768×4 bytes;
 *                         this shows the bridge's own ceiling)
 */
import { connect } from 'node:net';
import { goal, type BenchResult } from '../../build/bench';
import { openNode } from '../helpers/fixture';
import { RfbClient, addToken, consoleGuest, openConsole, socketTransport, startConsoleGuest, waitForTextScreen, type RfbTransport } from '../integration/console-helpers';
import { startInstantRfb } from './console-rfb-server';

const VMID = 191;
/** A "guest" whose display is the instant RFB server. */
const INSTANT_VMID = 192;
/** Opens measured per path; the median is reported. */
const OPEN_RUNS = 15;
/** Whole frames per throughput run. */
const FRAMES = 40;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function direct(vnc: string): Promise<{ rfb: RfbClient; close(): void }> {
  const sock = connect(vnc);
  await new Promise((r, j) => sock.once('connect', r).once('error', j));
  const t: RfbTransport = socketTransport(sock);
  return { rfb: new RfbClient(t), close: () => sock.destroy() };
}

async function bridged(url: string, token: string, vmid = VMID): Promise<{ rfb: RfbClient; close(): void }> {
  const c = await openConsole(url, vmid, { token, protocols: ['binary'] });
  if (c.status !== 101) throw new Error(`console answered ${c.status}: ${c.body}`);
  return { rfb: new RfbClient(c.ws!), close: () => c.ws!.destroy() };
}

async function openToFirstFrame(open: () => Promise<{ rfb: RfbClient; close(): void }>): Promise<number> {
  const t0 = performance.now();
  const c = await open();
  try {
    await c.rfb.handshake();
    await c.rfb.framebuffer();
    return performance.now() - t0;
  } finally {
    c.close();
  }
}

async function throughput(open: () => Promise<{ rfb: RfbClient; close(): void }>): Promise<number> {
  const c = await open();
  try {
    await c.rfb.handshake();
    await c.rfb.framebuffer();
    const t0 = performance.now();
    let bytes = 0;
    for (let i = 0; i < FRAMES; i++) bytes += (await c.rfb.framebuffer()).pixels.length;
    const s = (performance.now() - t0) / 1000;
    return bytes / (1024 * 1024) / s;
  } finally {
    c.close();
  }
}

export async function bench(): Promise<BenchResult[]> {
  const fx = await openNode({ node: 'consolebench' });
  await startConsoleGuest(fx, VMID);
  // Never started: its display is the instant RFB server, at the socket path the node gives it.
  await fx.createGuest(consoleGuest(INSTANT_VMID));
  const instantPath = fx.runFile(INSTANT_VMID, 'vnc');
  const instant = await startInstantRfb(instantPath);
  try {
    const token = addToken(fx.root, 'admin', 'bench');
    const viaDirect = () => direct(fx.runFile(VMID, 'vnc'));
    const viaBridge = () => bridged(fx.node.url, token);
    // Warm up both paths (page cache for node and the CGI bundle) once SeaBIOS has drawn its screen.
    await waitForTextScreen(fx, VMID);
    await openToFirstFrame(viaDirect);
    await openToFirstFrame(viaBridge);

    const d: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < OPEN_RUNS; i++) {
      d.push(await openToFirstFrame(viaDirect));
      b.push(await openToFirstFrame(viaBridge));
    }
    const openDirect = median(d);
    const openBridge = median(b);

    const tpDirect = median([await throughput(viaDirect), await throughput(viaDirect), await throughput(viaDirect)]);
    const tpBridge = median([await throughput(viaBridge), await throughput(viaBridge), await throughput(viaBridge)]);
    const instantDirect = () => direct(instantPath);
    const instantBridge = () => bridged(fx.node.url, token, INSTANT_VMID);
    const ceilDirect = median([await throughput(instantDirect), await throughput(instantDirect), await throughput(instantDirect)]);
    const ceilBridge = median([await throughput(instantBridge), await throughput(instantBridge), await throughput(instantBridge)]);

    return [
      {
        name: 'console open-to-first-frame (median)',
        value: openBridge,
        unit: 'ms',
        baseline: { name: 'VNC socket directly', value: openDirect },
        ratio: openBridge / openDirect,
        note: `+${(openBridge - openDirect).toFixed(1)} ms for lighttpd, the CGI's start and the bridge`,
      },
      {
        name: 'console framebuffer throughput from a QEMU guest (Raw, whole frames)',
        value: tpBridge,
        unit: 'MiB/s',
        baseline: { name: 'VNC socket directly', value: tpDirect },
        ratio: tpDirect / tpBridge,
        goal: goal('≤ 1.2 (QEMU\'s refresh, not the bridge, sets the pace)', tpDirect / tpBridge <= 1.2),
      },
      {
        name: 'console bridge ceiling (instant RFB server, 1024×768 Raw frames)',
        value: ceilBridge,
        unit: 'MiB/s',
        baseline: { name: 'its unix socket directly', value: ceilDirect },
        ratio: ceilDirect / ceilBridge,
        note: `${(ceilBridge / 3).toFixed(0)} whole 1024×768 frames/s through the bridge`,
      },
    ];
  } finally {
    instant.close();
    await fx.close();
  }
}
