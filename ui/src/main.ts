// Entry point: mounts the Svelte app into #app and loads the global stylesheet.
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

const target = document.getElementById('app');
if (!target) throw new Error('#app element missing');

export default mount(App, { target });
