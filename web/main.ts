/** Entry of the browser app. */
import { h, render } from 'preact';
import './style.css';

render(h('p', null, 'ramvm'), document.getElementById('app')!);
