// The portal's entry point: settings from config.json, login, then one page per location hash.

import { init, currentUser, me, login, logout } from './auth.js';
import { setBase, get, ApiError } from './api.js';
import { h, clear, errorBox, stopTimers } from './ui.js';
import { catalog, form, mine, detail } from './request.js';
import { queue } from './approve.js';
import { integrations, editIntegration, flows, editFlow, failedRevocations, auditLog } from './admin.js';

const main = document.getElementById('main');

function loginPage(message) {
  clear(main).append(
    h('h1', {}, 'elastic-jit'),
    h('p', {}, 'Just-in-time access to Elasticsearch and Elastic Cloud: ask for what you need, for as long as you need it.'),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    h('button', { type: 'button', id: 'login', on: { click: () => login() } }, 'Log in'));
  document.getElementById('nav').hidden = true;
  document.getElementById('logout').hidden = true;
  document.getElementById('who').textContent = '';
}

const routes = [
  [/^#\/request\/(.+)$/, (m) => form(main, decodeURIComponent(m[1])), 'request'],
  [/^#\/request$/, () => catalog(main), 'request'],
  [/^#\/requests\/(.+)$/, (m) => detail(main, decodeURIComponent(m[1])), 'requests'],
  [/^#\/requests$/, () => mine(main), 'requests'],
  [/^#\/approve$/, () => queue(main), 'approve'],
  [/^#\/admin\/integrations\/(.+)$/, (m) => editIntegration(main, decodeURIComponent(m[1])), 'admin'],
  [/^#\/admin\/new$/, () => editIntegration(main, null), 'admin'],
  [/^#\/admin\/flows\/(.+)$/, (m) => editFlow(main, decodeURIComponent(m[1])), 'admin'],
  [/^#\/admin\/new-flow$/, () => editFlow(main, null), 'admin'],
  [/^#\/admin\/flows$/, () => flows(main), 'admin'],
  [/^#\/admin\/failed$/, () => failedRevocations(main), 'admin'],
  [/^#\/admin\/audit$/, () => auditLog(main), 'admin'],
  [/^#\/admin$/, () => integrations(main), 'admin'],
];

async function show() {
  stopTimers();
  if (!currentUser()) {
    loginPage();
    return;
  }
  const hash = location.hash || '#/request';
  const route = routes.find(([re]) => re.test(hash));
  clear(main);
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route[2]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!route) {
    main.append(h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/request' }, 'Request access')));
    return;
  }
  try {
    await route[1](hash.match(route[0]));
  } catch (err) {
    main.append(errorBox(err instanceof ApiError ? err : { message: 'Something went wrong on this page. Reload to try again.' }));
  }
  main.focus({ preventScroll: true });
}

async function start() {
  let config;
  try {
    const r = await fetch('/portal/config.json', { cache: 'no-store' });
    config = await r.json();
  } catch (_) {
    clear(main).append(errorBox({ message: 'The portal\'s settings could not be loaded.' }));
    return;
  }
  setBase(config.api_base_url);
  try {
    await init(config);
  } catch (err) {
    loginPage(`Login did not complete: ${err.message || err}. Try again.`);
    return;
  }
  if (!currentUser()) {
    loginPage();
    return;
  }
  const who = me();
  document.getElementById('who').textContent = `Logged in as ${who.name}`;
  document.getElementById('nav').hidden = false;
  const out = document.getElementById('logout');
  out.hidden = false;
  out.onclick = async () => {
    await logout();
    location.hash = '';
    loginPage('You are logged out.');
  };
  // Admins see every integration's full settings; the Admin link is only a convenience (the
  // API refuses non-admins either way).
  get('/integrations').then((r) => {
    const list = r.integrations || [];
    document.getElementById('nav-admin').hidden = !(list.length === 0 || list.some((i) => 'secret_arn' in i));
  }).catch(() => {});
  window.addEventListener('hashchange', show);
  await show();
}

start();
