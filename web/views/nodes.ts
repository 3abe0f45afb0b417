/**
 * The Nodes view:
 *
 *   #/nodes          every node of the cluster (list.ts), or this node alone
 *   #/nodes/<name>   one node's page (node.ts): figures, accelerator, settings
 */
import { NodeDetail } from './nodes/node';
import { NodeList } from './nodes/list';
import { html } from '../html';
import type { ViewProps } from './props';

export default function NodesView({ parts, me }: ViewProps) {
  return parts[0] ? html`<${NodeDetail} key=${parts[0]} name=${parts[0]} me=${me} />` : html`<${NodeList} me=${me} />`;
}
