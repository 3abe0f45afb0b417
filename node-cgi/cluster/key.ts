/**
 * The cluster key: 32 random bytes in etc/ramvm/priv/authkey (hex, mode
 * 0600). It signs login tickets and CSRF tokens (auth/ticket.ts) and, with
 * a key derived from it (sign.ts), the requests nodes send each other; so
 * one login works on every node of a cluster. A node outside a cluster has
 * a key of its own (made on first use); joining replaces it with the
 * cluster's, leaving gives the node a new one.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { paths } from '../lib/paths';
import { withLock, writeFileAtomic } from '../lib/store';

/** Bytes of a cluster key. */
export const CLUSTER_KEY_BYTES = 32;

/** The key of the key file read (one per data root: tests switch roots). */
let cached: { file: string; key: Buffer } | undefined;

const keyFile = () => paths().authKey;

function read(): Buffer {
  const key = Buffer.from(readFileSync(keyFile(), 'utf8').trim(), 'hex');
  if (key.length !== CLUSTER_KEY_BYTES) throw new Error(`${keyFile()} does not hold a ${CLUSTER_KEY_BYTES}-byte key`);
  return key;
}

/** The key; made on first use. */
export function clusterKey(): Buffer {
  const file = keyFile();
  if (cached?.file === file) return cached.key;
  let key: Buffer;
  try {
    key = read();
  } catch {
    mkdirSync(paths().priv, { recursive: true, mode: 0o700 });
    key = withLock('authkey', () => {
      try {
        return read();
      } catch {
        writeFileAtomic(file, randomBytes(CLUSTER_KEY_BYTES).toString('hex') + '\n', 0o600);
        return read();
      }
    });
  }
  cached = { file, key };
  return key;
}

/** Replace the key (joining a cluster, leaving one). Every ticket signed with the old key ends. */
export function writeClusterKey(key: Buffer): void {
  if (key.length !== CLUSTER_KEY_BYTES) throw new Error(`a cluster key has ${CLUSTER_KEY_BYTES} bytes, not ${key.length}`);
  mkdirSync(paths().priv, { recursive: true, mode: 0o700 });
  writeFileAtomic(keyFile(), key.toString('hex') + '\n', 0o600);
  cached = { file: keyFile(), key };
}

/** A fresh random key. */
export const newClusterKey = () => randomBytes(CLUSTER_KEY_BYTES);
