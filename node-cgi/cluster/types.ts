/**
 * The cluster's API types, shared (type-only) with the web app:
 *
 *   GET /api/cluster →
 *   { "name": "office", "self": "n2", "master": "n1", "epoch": 1, "generation": 17,
 *     "masterOnline": true,
 *     "nodes": [ { "name": "n1", "address": "10.0.0.1", "url": "https://10.0.0.1:8007",
 *                  "fingerprint": "90:FB:…", "online": true, "master": true, "version": "0.1.0",
 *                  "joined": 1767225600, "generation": 17, "resources": { cpu, memory, disk, guests, … } },
 *                { "name": "n3", …, "online": false, "error": "node n3 does not answer at … (connection refused)" } ] }
 *
 * On a node in no cluster: name, master null, epoch and generation 0, and
 * the node itself as the only entry (its fingerprint and URL are what a
 * master's admin needs to know of it).
 */
import type { NodeResources } from '../vm/types';

export interface ClusterNodeView {
  name: string;
  /** The host of its cluster URL. */
  address: string;
  url: string;
  fingerprint: string;
  /** It answered just now (this node itself: always). */
  online: boolean;
  master: boolean;
  version: string;
  /** Unix seconds; absent outside a cluster. */
  joined?: number;
  /** The generation of the cluster-wide config it holds (when it answered). */
  generation?: number;
  /** CPU, memory, disk, guest counts: when it answered and the caller holds Sys.Audit on /nodes/<name>. */
  resources?: NodeResources;
  /** Why it did not answer. */
  error?: string;
}

export interface ClusterView {
  name: string | null;
  /** The node that answered. */
  self: string;
  master: string | null;
  epoch: number;
  generation: number;
  /** Whether the master answered (on the master: true). */
  masterOnline: boolean;
  nodes: ClusterNodeView[];
}

/** GET /api/cluster/status (node to node): how a node stands. */
export interface NodeStatus {
  name: string;
  cluster: string | null;
  epoch: number;
  generation: number;
  master: string | null;
  version: string;
  url: string | null;
  /** VMIDs of the guests whose configs are on the node. */
  vmids: number[];
  resources: NodeResources;
}
