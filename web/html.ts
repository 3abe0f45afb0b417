/**
 * htm bound to Preact's h: tagged templates instead of a JSX step.
 *
 *   html`<p class="x">${name}</p>`  →  h('p', { class: 'x' }, name)
 *
 * Texts in templates come from t() (see i18n/); a unit test refuses literal
 * words between tags and in aria-label, title, placeholder and alt.
 */
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
