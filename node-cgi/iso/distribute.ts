/**
 * Keeping every node's ISO library like the master's. In a cluster, images
 * are uploaded to the master and copied to every node, so a guest can boot
 * its install medium wherever it runs.
 *
 * This is the one place where that copying will start: the upload calls
 * `distribute(name)` right after the image became visible on this node, and
 * the delete right after it disappeared. On a single node there is nothing
 * to do. With the cluster, this starts a task ("iso-distribute") that makes
 * each other node's copy of `name` match this node's (stream the image to
 * the node's own `PUT /api/iso/<name>?replace=1&sha256=…`, so every copy
 * is verified; or delete it there), and returns the task id for the answer.
 */

/** Start copying (or removing) `name` on the other nodes; the task id, or null when there are none. */
export function distribute(name: string): string | null {
  void name;
  return null;
}
