// Requester pages: what I may request, the request form, my requests, one request with its
// credentials and audit trail.

import { get, post, all, enc } from './api.js';
import { me, onBeforeLeave } from './auth.js';
import {
  h, clear, field, errorBox, showErrors, clearErrors, paginate, status, when, countdown, every,
  copyable, principal, keepDraft, describe,
} from './ui.js';
import { renderAccessDetails } from './access-details.js';

const PAGE = 25;

/** The flows I may use, each with its integration. */
async function offers() {
  const [flows, integrations] = await Promise.all([get('/flows'), get('/integrations')]);
  const byName = new Map((integrations.integrations || []).map((i) => [i.name, i]));
  return (flows.flows || []).map((f) => ({ flow: f, integration: byName.get(f.integration) }));
}

const BREAK_GLASS_NOTE = 'Nobody beforehand: this is break-glass access, granted at once. The integration\'s owners and operations are told now and review it afterwards.';

/** A break-glass flow always needs a justification. */
function justificationRequired(flow) {
  return Boolean(flow.require_justification || flow.break_glass);
}

/** The integration's owners in words. */
function owners(integration) {
  const list = integration && Array.isArray(integration.integration_owners) ? integration.integration_owners : [];
  return list.length ? list.map(principal).join(', ') : 'none named';
}

/** Who will have to approve, as far as the flow says before the resources are resolved. */
export function approvalPreview(flow, integration) {
  if (flow.break_glass) return BREAK_GLASS_NOTE;
  if (flow.auto_approve) return 'Nobody: this flow approves automatically. Access starts as soon as you send the request.';
  if (Array.isArray(flow.approvers) && flow.approvers.length) {
    return `The flow's approvers: ${flow.approvers.map(principal).join(', ')}.`;
  }
  const owners = integration && Array.isArray(integration.integration_owners) && integration.integration_owners.length
    ? ` (${integration.integration_owners.map(principal).join(', ')})` : '';
  return 'The owner of each resource you pick (its owner tag); resources without an owner go to '
    + `the integration's owners${owners}. You cannot approve your own request.`;
}

/** The API's preview of this request: who would approve, what the grant would reach. */
function previewed(p) {
  const reach = h('p', {}, `The grant would reach: ${p.resources.join(', ')}.`);
  if (p.break_glass) return [h('p', { class: 'warning' }, BREAK_GLASS_NOTE), reach];
  const start = p.starts_at
    ? h('p', { 'data-start': '' }, `Access would start at ${when(p.starts_at)} and end at ${when(p.ends_at)}; approvals must come before the start.`)
    : null;
  if (p.auto_approve || !p.approval_steps.length) {
    return [h('p', {}, p.starts_at
      ? 'Nobody: this flow approves automatically. Access starts at the start you chose.'
      : 'Nobody: this flow approves automatically. Access starts as soon as you send the request.'), start, reach];
  }
  const rules = [];
  if (p.approval_reason_required) rules.push(h('p', { class: 'hint' }, 'Approvers must give a reason.'));
  if (p.escalation) rules.push(h('p', { class: 'hint' }, `If nobody approves by ${when(p.escalation.at)}, ${p.escalation.to.map(principal).join(', ')} may decide too.`));
  return [h('ul', {}, p.approval_steps.map((s) => h('li', {}, h('strong', {}, s.label), ': ',
    s.approvers.map(principal).join(' or ')))), ...rules, start, reach];
}

// The start field's value (local time in the browser) as the RFC 3339 UTC time the API wants;
// empty for "as soon as approved".
function startValue(input) {
  const v = input.value.trim();
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? v : d.toISOString();
}

export async function catalog(main) {
  main.append(h('h1', {}, 'Request access'));
  const list = await offers();
  if (!list.length) {
    main.append(h('p', {}, 'No access flow lets you request anything yet. Ask an administrator.'));
    return;
  }
  const search = h('input', { type: 'search', placeholder: 'integration, flow, resource pattern or permission' });
  const out = h('div', {});
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const hits = list.filter(({ flow }) => !q || [flow.name, flow.integration, ...flow.resources, ...flow.permissions]
      .some((s) => String(s).toLowerCase().includes(q)));
    clear(out).append(hits.length ? paginate(hits, 12, (page) => h('div', { class: 'cards' }, page.map(({ flow, integration }) =>
      h('section', { class: 'card', 'data-flow': flow.name },
        h('h3', {}, flow.name),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Integration'), h('dd', {}, `${flow.integration}${integration ? ` (${integration.kind === 'elastic_cloud' ? 'Elastic Cloud' : 'Elasticsearch'})` : ''}`),
          h('dt', {}, 'Owners'), h('dd', { 'data-testid': 'integration-owners' }, owners(integration)),
          h('dt', {}, flow.bundle ? 'Bundle' : 'Resources'), h('dd', {}, flow.bundle
            ? flow.bundle.map((i) => `${i.permission} on ${i.integration}: ${i.resources.join(', ')}`).join('; ')
            : flow.resources.join(', ')),
          h('dt', {}, 'Permissions'), h('dd', {}, flow.permissions.join(', ')),
          h('dt', {}, 'At most'), h('dd', {}, flow.max_duration),
          h('dt', {}, 'Approval'), h('dd', {}, flow.break_glass ? 'none: break-glass, reviewed afterwards' : flow.auto_approve ? 'automatic' : 'needed'),
          h('dt', {}, 'Justification'), h('dd', {}, justificationRequired(flow) ? 'required' : 'optional')),
        h('a', { class: 'button', href: `#/request/${enc(flow.name)}` }, `Request via ${flow.name}`)))), 'flows')
      : h('p', {}, 'Nothing matches your search.'));
  };
  search.addEventListener('input', draw);
  main.append(field('Search what you may request', search), out);
  draw();
}

export async function form(main, flowName) {
  const list = await offers();
  const found = list.find(({ flow }) => flow.name === flowName);
  main.append(h('h1', {}, `Request access: ${flowName}`));
  if (!found) {
    main.append(errorBox({ message: `There is no flow named ${flowName} that you may use.` }));
    return;
  }
  const { flow, integration } = found;
  if (Array.isArray(flow.bundle)) {
    bundleForm(main, flow);
    return;
  }
  main.append(h('p', {}, `Integration ${flow.integration}, owned by ${owners(integration)}. `
    + `Resources this flow offers: ${flow.resources.join(', ')}.`));

  const selected = new Set();
  const chips = h('ul', { class: 'chips', 'aria-label': 'Chosen resources' });
  const resourcesHidden = h('input', { type: 'hidden', 'data-draft': 'resources' });
  const drawChips = () => {
    clear(chips);
    resourcesHidden.value = [...selected].join(',');
    for (const r of selected) {
      chips.append(h('li', {}, r, h('button', { type: 'button', 'aria-label': `Remove ${r}`,
        on: { click: () => { selected.delete(r); drawChips(); drawResources(); } } }, '×')));
    }
    if (!selected.size) chips.append(h('li', { class: 'hint' }, 'none chosen yet'));
    refreshPreview();
  };
  resourcesHidden.addEventListener('input', () => {
    selected.clear();
    for (const r of resourcesHidden.value.split(',').filter(Boolean)) selected.add(r);
    drawChips();
    drawResources();
  });

  const search = h('input', { type: 'search', placeholder: 'filter by name', 'data-testid': 'resource-search' });
  const resourceBox = h('div', { class: 'resource-list', role: 'group', 'aria-label': 'Resources' });
  let resources = [];
  let more = false;
  const drawResources = () => {
    const q = search.value.trim().toLowerCase();
    const hits = resources.filter((r) => !q || r.name.toLowerCase().includes(q));
    clear(resourceBox).append(hits.length ? paginate(hits, PAGE, (page) => h('div', {}, page.map((r) => {
      const cb = h('input', { type: 'checkbox', value: r.name, checked: selected.has(r.name), 'data-resource': r.name });
      cb.addEventListener('change', () => {
        if (cb.checked) selected.add(r.name); else selected.delete(r.name);
        drawChips();
        resourcesHidden.dispatchEvent(new Event('change', { bubbles: true }));
      });
      return h('label', {}, cb, ' ', r.name, h('span', { class: 'hint' },
        ` ${r.kind}${r.display_name ? ` — ${r.display_name}` : ''}${r.owner ? ` · owner ${r.owner}` : ''}`));
    })), 'resources') : h('p', {}, resources.length ? 'No resource matches.' : 'No discovered resource is offered.'));
    if (more) resourceBox.append(h('p', { class: 'hint' }, 'Only the first 5000 resources are listed: filter or type a pattern below.'));
  };
  search.addEventListener('input', drawResources);
  const pattern = h('input', { type: 'text', placeholder: 'e.g. logs-*' });
  const addPattern = h('button', { type: 'button', class: 'secondary', on: { click: () => {
    const v = pattern.value.trim();
    if (v) { selected.add(v); pattern.value = ''; drawChips(); drawResources(); resourcesHidden.dispatchEvent(new Event('change', { bubbles: true })); }
  } } }, 'Add pattern');

  const permission = h('select', { 'data-draft': 'permission', name: 'permission' },
    flow.permissions.map((p) => h('option', { value: p }, p)));
  const duration = h('input', { type: 'text', value: '1h', 'data-draft': 'duration', name: 'duration',
    list: 'durations', autocomplete: 'off' });
  const durations = h('datalist', { id: 'durations' }, ['15m', '30m', '1h', '2h', '4h', '8h', '1d'].map((d) => h('option', { value: d })));
  const startsAt = h('input', { type: 'datetime-local', name: 'starts_at', 'data-draft': 'starts_at' });
  const justification = h('textarea', { 'data-draft': 'justification', name: 'justification', maxlength: '1000', required: justificationRequired(flow) });
  const formBox = h('div', { tabindex: '-1' });
  const send = h('button', { type: 'submit' }, 'Send request');
  // Computed by the API (POST /requests/preview) from what is chosen so far; before that, and
  // when the choice is not valid yet, what the flow says.
  const approversBox = h('div', { 'data-approvers': '', 'aria-live': 'polite' }, h('p', {}, approvalPreview(flow, integration)));
  let previewTimer = null;
  const refreshPreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const fallback = h('p', {}, approvalPreview(flow, integration));
      if (!selected.size || !duration.value.trim()) {
        clear(approversBox).append(fallback);
        return;
      }
      try {
        const ask = {
          integration: flow.integration, flow: flow.name, resources: [...selected],
          permission: permission.value, duration: duration.value.trim(),
        };
        if (startValue(startsAt)) ask.starts_at = startValue(startsAt);
        const p = await post('/requests/preview', ask);
        clear(approversBox).append(...previewed(p));
      } catch (err) {
        clear(approversBox).append(fallback, h('p', { class: 'hint' }, `Not a valid request yet: ${describe(err)}`));
      }
    }, 300);
  };
  const f = h('form', { novalidate: true },
    field('Resources', h('div', {}, chips, resourcesHidden), 'Pick from the list or add a pattern the flow allows.'),
    field('Filter resources', search),
    resourceBox,
    field('Or a pattern', h('div', { class: 'cred' }, pattern, addPattern)),
    field('Permission', permission),
    durations,
    field('Duration', duration, `How long access lasts, e.g. 30m, 2h or 1d; at most ${flow.max_duration}.`),
    flow.break_glass ? null : field('Start (optional)', startsAt, `Leave empty to start as soon as the request is approved; at most ${flow.schedule_horizon || '14days'} ahead. The duration counts from the start.`),
    flow.break_glass ? h('p', { class: 'warning', 'data-break-glass': '' }, 'Break-glass: for emergencies only. Access starts at once without approval; the integration\'s owners and operations are told immediately and review it afterwards.') : null,
    field(justificationRequired(flow) ? 'Justification (required)' : 'Justification (optional)', justification, 'Why you need it: a ticket or incident helps the approver.'),
    h('h2', {}, 'Who must approve'),
    approversBox,
    formBox,
    h('div', { class: 'actions' }, send));
  main.append(f);
  permission.addEventListener('change', refreshPreview);
  duration.addEventListener('input', refreshPreview);
  startsAt.addEventListener('change', refreshPreview);
  const draft = keepDraft(`request.${flow.name}`, f);
  onBeforeLeave('request-form', draft.save);
  drawChips();
  draft.restore();

  const fields = {
    resources: resourceBox, unknown_resource: resourceBox, no_resources: resourceBox,
    permission, duration, justification, justification_required: justification,
    duration_too_long: duration, invalid_duration: duration,
    starts_at: startsAt, invalid_start: startsAt,
  };
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f, formBox);
    if (!selected.size) {
      showErrors(f, formBox, { code: 'resources', message: 'Choose at least one resource.' }, fields);
      return;
    }
    if (justificationRequired(flow) && !justification.value.trim()) {
      showErrors(f, formBox, { code: 'justification', message: 'This flow requires a justification.' }, fields);
      return;
    }
    send.disabled = true;
    try {
      const body = {
        integration: flow.integration, flow: flow.name, resources: [...selected],
        permission: permission.value, duration: duration.value.trim(),
      };
      if (justification.value.trim()) body.justification = justification.value.trim();
      if (startValue(startsAt)) body.starts_at = startValue(startsAt);
      const created = await post('/requests', body);
      draft.drop();
      location.hash = `#/requests/${enc(created.id)}`;
    } catch (err) {
      showErrors(f, formBox, err, fields);
    } finally {
      send.disabled = false;
    }
  });

  try {
    const got = await all(`/integrations/${enc(flow.integration)}/resources?limit=1000`, 'resources');
    resources = got.items.filter((r) => !r.gone_since);
    more = got.more;
  } catch (err) {
    resourceBox.append(errorBox(err));
  }
  drawResources();
}

/** A bundle flow fixes its items: the requester says only for how long and why. */
function bundleForm(main, flow) {
  main.append(h('p', {}, 'A bundle: one request, approved as a whole, for every item below; each is granted on its own integration.'),
    h('ul', { 'data-bundle-items': '' }, flow.bundle.map((i) =>
      h('li', {}, `${i.permission} on ${i.integration}: ${i.resources.join(', ')}`))));
  const duration = h('input', { type: 'text', value: '1h', name: 'duration', autocomplete: 'off' });
  const justification = h('textarea', { name: 'justification', maxlength: '1000', required: justificationRequired(flow) });
  const box = h('div', { tabindex: '-1' });
  const send = h('button', { type: 'submit' }, 'Send request');
  const f = h('form', { novalidate: true },
    field('Duration', duration, `How long every grant lasts, e.g. 30m or 2h; at most ${flow.max_duration}.`),
    field(justificationRequired(flow) ? 'Justification (required)' : 'Justification (optional)', justification),
    h('h2', {}, 'Who must approve'), h('p', {}, approvalPreview(flow, null)),
    box, h('div', { class: 'actions' }, send));
  main.append(f);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f, box);
    send.disabled = true;
    try {
      const body = { flow: flow.name, duration: duration.value.trim() };
      if (justification.value.trim()) body.justification = justification.value.trim();
      const created = await post('/requests', body);
      location.hash = `#/requests/${enc(created.id)}`;
    } catch (err) {
      showErrors(f, box, err, { duration, invalid_duration: duration, justification, justification_required: justification });
    } finally {
      send.disabled = false;
    }
  });
}

/** A bundle's grants, each linking to its own request (and credentials). */
function children(r) {
  if (!Array.isArray(r.children) || !r.children.length) {
    return h('p', { class: 'hint' }, r.status === 'pending' ? 'Granted once the bundle is approved.' : 'None.');
  }
  return h('ul', { 'data-children': '' }, r.children.map((c) => h('li', { 'data-child': c.id },
    h('a', { href: `#/requests/${enc(c.id)}` }, `${c.permission} on ${c.integration}: ${c.resources.join(', ')}`),
    ' ', status(c.status), c.status_reason ? h('span', { class: 'hint' }, ` ${c.status_reason}`) : null)));
}

function waitingFor(r) {
  const open = (r.approval_steps || []).filter((s) => !s.approved_by);
  if (r.status !== 'pending' || !open.length) return '—';
  return open.map((s) => `${s.label}: ${s.approvers.map(principal).join(' or ')}`).join('; ');
}

export async function mine(main) {
  main.append(h('h1', {}, 'My requests'));
  const box = h('div', { 'aria-live': 'polite' });
  main.append(box);
  const draw = async () => {
    let requests;
    let more = false;
    try {
      // The newest 200; polled every 5 s, so one page only.
      const page = await get('/requests?limit=200');
      requests = page.requests || [];
      more = Boolean(page.next_cursor);
    } catch (err) {
      clear(box).append(errorBox(err));
      return;
    }
    clear(box);
    if (!requests.length) {
      box.append(h('p', {}, 'You have not requested anything yet. ', h('a', { href: '#/request' }, 'Request access')));
      return;
    }
    box.append(paginate(requests, PAGE, (page) => h('table', {},
      h('thead', {}, h('tr', {}, ['Request', 'Integration', 'Resources', 'Permission', 'Status', 'Waiting for', 'Created'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, page.map((r) => h('tr', { 'data-request': r.id },
        h('td', { 'data-label': 'Request' }, h('a', { href: `#/requests/${enc(r.id)}` }, r.id.slice(0, 8))),
        h('td', { 'data-label': 'Integration' }, r.integration),
        h('td', { 'data-label': 'Resources' }, (r.requested_resources || r.resources || []).join(', ')),
        h('td', { 'data-label': 'Permission' }, r.permission),
        h('td', { 'data-label': 'Status' }, status(r.status)),
        h('td', { 'data-label': 'Waiting for' }, waitingFor(r)),
        h('td', { 'data-label': 'Created' }, when(r.created_at)))))), 'requests'));
    if (more) box.append(h('p', { class: 'hint' }, 'Showing your newest 200 requests.'));
  };
  await draw();
  every(5000, draw);
}

function facts(r) {
  return h('dl', { class: 'facts' },
    h('dt', {}, 'Status'), h('dd', { 'data-status': r.status }, status(r.status), r.status_reason ? ` ${r.status_reason}` : ''),
    h('dt', {}, 'Requester'), h('dd', {}, r.requester.email || `sub ${r.requester.sub}`),
    h('dt', {}, 'Integration'), h('dd', {}, `${r.integration} (flow ${r.flow})`),
    h('dt', {}, 'Asked for'), h('dd', {}, (r.requested_resources || []).join(', ')),
    h('dt', {}, 'Grant reaches'), h('dd', {}, (r.grant_reaches || r.resources || []).join(', ') || '—'),
    r.via_aliases && Object.keys(r.via_aliases).length ? [h('dt', {}, 'Aliases resolved'),
      h('dd', {}, Object.entries(r.via_aliases).map(([a, t]) => `${a} → ${t.join(', ')}`).join('; '))] : null,
    h('dt', {}, 'Permission'), h('dd', {}, r.permission),
    h('dt', {}, 'Duration'), h('dd', {}, r.duration || `${Math.round(r.duration_secs / 60)}m`),
    h('dt', {}, 'Justification'), h('dd', {}, r.justification || '—'),
    h('dt', {}, 'Created'), h('dd', {}, when(r.created_at)),
    r.starts_at ? [h('dt', {}, r.status === 'pending' || r.status === 'scheduled' ? 'Starts' : 'Started'),
      h('dd', { 'data-starts': '' }, when(r.starts_at))] : null,
    r.ends_at ? [h('dt', {}, 'Ends'), h('dd', {}, when(r.ends_at))] : null);
}

const KIND = {
  index: 'index',
  data_stream: 'data stream: reaches its backing indices, and those it rolls over to',
  alias: 'now an alias: reaches its indices through it',
  missing: 'does not exist now: an index created under this name would be covered',
  not_read: 'not read',
};

/** What the grant allows (GET /requests/{id}'s `grant_allows`): the role in words, and for the
 * people deciding it, what each name is on the cluster now. */
export function allows(r) {
  const g = r.grant_allows;
  if (!g) return h('p', { class: 'hint' }, 'Not known: the integration or its permission no longer exists.');
  const box = h('div', { 'data-allows': '' }, h('ul', {}, (g.in_words || []).map((w) => h('li', {}, w))));
  const res = g.resolution;
  if (!res) return box;
  if (res.status === 'live') {
    box.append(h('p', { class: 'hint' }, `On the cluster at ${when(res.read_at)}:`),
      h('ul', {}, (res.names || []).map((n) => h('li', { 'data-resolved': n.name, 'data-kind': n.kind },
        h('strong', {}, n.name), `: ${KIND[n.kind] || n.kind}`,
        (n.attributes || []).length ? ` (${n.attributes.join(', ')})` : '',
        (n.reaches || []).length ? ` — ${n.reaches.join(', ')}` : ''))));
  } else {
    box.append(h('p', { class: 'hint', 'data-resolution': res.status }, res.reason || ''));
  }
  return box;
}

export function steps(r) {
  if (!(r.approval_steps || []).length) return h('p', {}, 'No approval needed (approved automatically).');
  const items = r.approval_steps.map((s) => h('li', { 'data-step': s.label },
    h('strong', {}, s.label), ': ', s.approvers.map(principal).join(' or '), progress(s)));
  const e = r.escalation;
  const note = !e ? null : e.escalated_at
    ? h('p', { class: 'hint', 'data-escalated': '' }, `Escalated ${when(e.escalated_at)}: ${e.to.map(principal).join(', ')} may decide too.`)
    : r.status === 'pending'
      ? h('p', { class: 'hint' }, `If nobody approves by ${when(e.at)}, ${e.to.map(principal).join(', ')} may decide too.`)
      : null;
  // One node: callers append it among others (an array would be appended as text).
  return h('div', {}, h('ul', { class: 'steps' }, items), note);
}

/** A step's state: who completed it, or how many of how many approvals it has. */
function progress(s) {
  if (s.approved_by) return ` — approved by ${s.approved_by} ${when(s.approved_at)}`;
  const given = (s.approvals || []).map((a) => a.by);
  const need = s.required || 1;
  if (need === 1) return ' — waiting';
  return ` — ${given.length} of ${need} approvals${given.length ? ` (${given.join(', ')})` : ''}`;
}

export function trail(r) {
  const hist = r.history || [];
  if (!hist.length) return h('p', {}, 'No events yet.');
  return h('table', {},
    h('thead', {}, h('tr', {}, ['When', 'What', 'Who', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, hist.map((e) => h('tr', {},
      h('td', { 'data-label': 'When' }, when(e.at)),
      h('td', { 'data-label': 'What' }, e.action),
      h('td', { 'data-label': 'Who' }, e.actor),
      h('td', { 'data-label': 'Outcome' }, e.outcome)))));
}

function credentials(c) {
  const box = h('section', { class: 'card', 'data-credentials': '', 'aria-labelledby': 'cred-h' },
    h('h2', { id: 'cred-h' }, 'Your credentials'),
    h('p', { class: 'warning' }, 'Shown once: this page keeps them only until you leave it. Copy them now.'),
    h('p', {}, countdown(c.expires_at), ` (at ${when(c.expires_at)})`));
  if (c.kind === 'elastic_cloud') {
    box.append(h('p', {}, c.how), copyable('Account email', c.email, 'email'),
      h('p', {}, h('a', { href: c.login_url, rel: 'noopener noreferrer', target: '_blank' }, 'Log in to Elastic Cloud')));
  } else {
    if (c.url) box.append(copyable('Elasticsearch URL', c.url, 'url'));
    if (c.mode === 'api_key') {
      box.append(copyable('API key id', c.api_key_id, 'api_key_id'));
      if (c.api_key) box.append(copyable('API key', c.api_key, 'api_key'));
      box.append(copyable('Authorization header', c.authorization_header, 'authorization_header'));
    } else {
      box.append(copyable('Username', c.username, 'username'), copyable('Password', c.password, 'password'));
    }
  }
  box.append(h('h3', {}, `Access details from ${c.integration}`), renderAccessDetails(c.custom_access_details));
  return box;
}

export async function detail(main, id) {
  main.append(h('h1', {}, 'Request'));
  const body = h('div', {});
  const actions = h('div', {});
  const credBox = h('div', {});
  main.append(credBox, body, actions);
  let last = null;
  const draw = async () => {
    let r;
    try {
      r = await get(`/requests/${enc(id)}`);
    } catch (err) {
      clear(body).append(errorBox(err));
      return;
    }
    const changed = !last || last.status !== r.status || last.updated_at !== r.updated_at;
    if (!changed) return;
    last = r;
    clear(body).append(h('p', { class: 'hint' }, `Request ${r.id}`), facts(r),
      r.bundle ? h('h2', {}, 'Grants of this bundle') : null, r.bundle ? children(r) : null,
      r.parent ? h('p', {}, 'Part of bundle ', h('a', { href: `#/requests/${enc(r.parent)}` }, r.parent), '.') : null,
      r.bundle ? null : h('h2', {}, 'What the grant allows'), r.bundle ? null : allows(r),
      h('h2', {}, 'Approvals'), steps(r), h('h2', {}, 'Audit trail'), trail(r));
    drawActions(r);
  };
  const drawActions = (r) => {
    clear(actions);
    const mineToo = r.requester && r.requester.sub === me().sub;
    if (r.status === 'active' && mineToo && !credBox.firstChild) {
      actions.append(h('div', { class: 'actions' }, h('button', { type: 'button', 'data-action': 'show-credentials', on: { click: async (ev) => {
        ev.target.disabled = true;
        try {
          clear(credBox).append(credentials(await get(`/requests/${enc(r.id)}/credentials`)));
          ev.target.remove();
        } catch (err) {
          credBox.append(errorBox(err));
          ev.target.disabled = false;
        }
      } } }, 'Show credentials')));
    }
    if (r.status === 'active' && mineToo && r.extension) actions.append(extendForm(r));
    // The API decides (`can_cancel`: the requester, while pending or scheduled).
    if (r.can_cancel) {
      const reason = h('input', { type: 'text', maxlength: '1000' });
      const box = h('div', { tabindex: '-1' });
      const cancel = h('button', { type: 'button', class: 'danger', 'data-action': 'cancel' }, 'Cancel request');
      const f = h('form', {}, h('h2', {}, 'Withdraw this request'),
        h('p', {}, r.status === 'scheduled'
          ? 'It is approved and waits for its start: cancelling it means nothing is granted.'
          : 'Cancelling it means nothing is granted and nobody has to decide it: the approvers are told.'),
        field('Reason (optional)', reason), box, h('div', { class: 'actions' }, cancel));
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try {
          await post(`/requests/${enc(r.id)}/cancel`, reason.value.trim() ? { reason: reason.value.trim() } : {});
          last = null;
          await draw();
        } catch (err) {
          showErrors(f, box, err, { reason_too_long: reason });
          cancel.disabled = false;
        }
      });
      actions.append(f);
    }
    if (['active', 'approved', 'revoke_failed'].includes(r.status) || (r.status === 'bundled' && !r.revoke_requested_by)) {
      const reason = h('input', { type: 'text', maxlength: '1000' });
      const box = h('div', { tabindex: '-1' });
      const revoke = h('button', { type: 'button', class: 'danger', 'data-action': 'revoke' }, 'Revoke now');
      const f = h('form', {}, h('h2', {}, 'End this access'), field('Reason (optional)', reason), box, h('div', { class: 'actions' }, revoke));
      revoke.addEventListener('click', async () => {
        revoke.disabled = true;
        try {
          await post(`/requests/${enc(r.id)}/revoke`, reason.value.trim() ? { reason: reason.value.trim() } : {});
          clear(credBox);
          last = null;
          await draw();
        } catch (err) {
          showErrors(f, box, err, { reason_too_long: reason });
          revoke.disabled = false;
        }
      });
      actions.append(f);
    }
  };
  /** The requester's Extend form: how far the flow still allows, then the new end. */
  const extendForm = (r) => {
    const x = r.extension;
    const f = h('form', { 'data-extend': '' }, h('h2', {}, 'Extend this access'));
    if (!x.remaining || !x.max_extension_secs) {
      f.append(h('p', {}, `It cannot be extended further: it may not end after ${when(x.latest_end)}.`));
      return f;
    }
    const duration = h('input', { type: 'text', value: x.max_extension, maxlength: '32', 'data-field': 'extend-duration' });
    const justification = h('input', { type: 'text', maxlength: '1000', 'data-field': 'extend-justification' });
    const box = h('div', { tabindex: '-1' });
    const go = h('button', { type: 'button', 'data-action': 'extend' }, 'Extend');
    f.append(
      h('p', {}, `Ends ${when(r.ends_at)}. ${x.remaining} extension${x.remaining === 1 ? '' : 's'} left, each at most ${x.max_extension}; it may not end after ${when(x.latest_end)}.`
        + (x.approval === 'required' ? ' An extension goes to the approvers; the grant keeps its end until it is approved.' : '')),
      field('Add (e.g. 30m, 1h)', duration),
      field('Justification', justification),
      box, h('div', { class: 'actions' }, go));
    go.addEventListener('click', async () => {
      go.disabled = true;
      const body = { duration: duration.value.trim() };
      if (justification.value.trim()) body.justification = justification.value.trim();
      try {
        const answer = await post(`/requests/${enc(r.id)}/extend`, body);
        if (answer && answer.status === 'pending') {
          // Needs approval: the extension is a request of its own, followed on its page.
          location.hash = `#/requests/${enc(answer.id)}`;
          return;
        }
        // An api_key grant has a new key: show the credentials again to read it.
        clear(credBox);
        last = null;
        await draw();
      } catch (err) {
        showErrors(f, box, err, {
          duration: duration, invalid_duration: duration, extension_too_long: duration,
          justification: justification, justification_required: justification, justification_too_long: justification,
        });
        go.disabled = false;
      }
    });
    return f;
  };
  await draw();
  every(5000, () => { if (!last || ['pending', 'scheduled', 'approved'].includes(last.status)) draw(); });
}
