/**
 * What the shell gives every view: the route parts after the view's id and
 * the logged-in user. Apart from the registry (index.ts), so a view never
 * imports the module that loads it.
 *
 *   "#/guests/101/console" → GuestsView({ parts: ['101', 'console'], me })
 */
import type { Me } from '../api';

export interface ViewProps {
  /** Route parts after the view's id. */
  parts: string[];
  me: Me;
}
