// Admin pages: integrations (every setting, with a live Preview of the custom access details
// exactly as requesters see them), discovery and resources, and the access flows.

import { get, put, post, all, enc } from './api.js';
import {
  h, clear, field, errorBox, showErrors, clearErrors, paginate, when, principal, lines,
} from './ui.js';
import { renderAccessDetails } from './access-details.js';

const MAX_DETAILS = 400;

export function adminNav() {
  return h('p', { class: 'actions' },
    h('a', { href: '#/admin' }, 'Integrations'), ' ',
    h('a', { href: '#/admin/new' }, 'New integration'), ' ',
    h('a', { href: '#/admin/flows' }, 'Access flows'), ' ',
    h('a', { href: '#/admin/new-flow' }, 'New flow'), ' ',
    h('a', { href: '#/admin/failed' }, 'Failed revocations'), ' ',
    h('a', { href: '#/admin/audit' }, 'Audit log'));
}

export async function integrations(main) {
  main.append(h('h1', {}, 'Integrations'), adminNav());
  const list = (await get('/integrations')).integrations || [];
  if (!list.length) {
    main.append(h('p', {}, 'No integration yet. ', h('a', { href: '#/admin/new' }, 'Register one')));
    return;
  }
  main.append(h('table', {},
    h('thead', {}, h('tr', {}, ['Name', 'Kind', 'Target', 'Last discovery', 'Problem'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, list.map((i) => h('tr', {},
      h('td', { 'data-label': 'Name' }, h('a', { href: `#/admin/integrations/${enc(i.name)}`, 'data-integration': i.name }, i.name)),
      h('td', { 'data-label': 'Kind' }, i.kind === 'elastic_cloud' ? 'Elastic Cloud' : 'Elasticsearch'),
      h('td', { 'data-label': 'Target' }, i.url || i.organization_id || '—'),
      h('td', { 'data-label': 'Last discovery' }, when(i.last_discovery_at)),
      h('td', { 'data-label': 'Problem' }, i.last_discovery_error || (i.pending_retires && i.pending_retires.length ? 'old connector credentials not yet retired' : '—')))))));
}

function principals(text) {
  return lines(text).map((l) => {
    const m = l.match(/^(user|group)\s*[: ]\s*(.+)$/i);
    return m ? { type: m[1].toLowerCase(), value: m[2].trim() } : { type: 'user', value: l };
  });
}

function permissionsFromText(text) {
  return String(text || '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [name, privs] = l.split(':');
    return { name: (name || '').trim(), privileges: lines(privs || '') };
  });
}

/** The settings form; `existing` is the stored integration (admin view) or null for a new one. */
export async function editIntegration(main, name) {
  const existing = name ? await get(`/integrations/${enc(name)}`) : null;
  main.append(h('h1', {}, existing ? `Integration ${existing.name}` : 'New integration'), adminNav());
  const v = existing || { kind: 'elasticsearch', tls: {}, integration_owners: [], discovery: { include: ['*'], exclude: [] } };
  const inp = (props) => h('input', { type: 'text', ...props });
  const num = (value) => h('input', { type: 'number', min: '1', max: '3650', value: value == null ? '' : String(value) });
  const x = {
    name: inp({ value: v.name || '', required: true, readonly: Boolean(existing), pattern: '[A-Za-z0-9_-]{1,64}' }),
    kind: h('select', {}, h('option', { value: 'elasticsearch' }, 'Elasticsearch'), h('option', { value: 'elastic_cloud' }, 'Elastic Cloud')),
    url: inp({ value: v.url || '', placeholder: 'https://es.example.com:9200' }),
    organization_id: inp({ value: v.organization_id || '' }),
    secret_arn: inp({ value: v.secret_arn || '', placeholder: 'arn:aws:secretsmanager:…' }),
    allow_insecure_http: h('input', { type: 'checkbox', checked: Boolean(v.allow_insecure_http) }),
    ca_cert: h('textarea', { value: (v.tls && v.tls.ca_cert) || '', placeholder: '-----BEGIN CERTIFICATE-----' }),
    credential_rotation_days: num(v.credential_rotation_days),
    user_cleanup_days: num(v.user_cleanup_days),
    api_key_max_lifetime_days: num(v.api_key_max_lifetime_days),
    user_prefix: inp({ value: v.user_prefix || '', placeholder: 'ejit_' }),
    custom_access_details: h('textarea', { value: v.custom_access_details || '', 'data-testid': 'custom-access-details' }),
    integration_owners: h('textarea', { value: (v.integration_owners || []).map((p) => `${p.type}:${p.value}`).join('\n') }),
    tag_key: inp({ value: (v.resource_owner && v.resource_owner.tag_key) || '' }),
    attribute: h('select', {}, h('option', { value: 'user' }, 'user'), h('option', { value: 'group' }, 'group')),
    include: inp({ value: ((v.discovery && v.discovery.include) || ['*']).join(', ') }),
    exclude: inp({ value: ((v.discovery && v.discovery.exclude) || []).join(', ') }),
    custom_permissions: h('textarea', { value: (v.custom_permissions || []).map((p) => `${p.name}: ${p.privileges.join(', ')}`).join('\n') }),
  };
  for (const [k, el] of Object.entries(x)) el.name = k;
  x.kind.value = v.kind;
  x.kind.disabled = Boolean(existing);
  x.attribute.value = (v.resource_owner && v.resource_owner.attribute) || 'user';

  const counter = h('p', { class: 'counter', 'aria-live': 'polite', 'data-counter': '' });
  const preview = h('div', { 'data-preview': '' });
  const updatePreview = () => {
    const n = [...x.custom_access_details.value].length;
    counter.textContent = `${n} / ${MAX_DETAILS} characters`;
    counter.classList.toggle('over', n > MAX_DETAILS);
    clear(preview).append(renderAccessDetails(x.custom_access_details.value));
  };
  x.custom_access_details.addEventListener('input', updatePreview);
  updatePreview();

  const esOnly = (el) => { el.dataset.es = ''; return el; };
  const cloudOnly = (el) => { el.dataset.cloud = ''; return el; };
  const box = h('div', { tabindex: '-1' });
  const result = h('div', { role: 'status' });
  const save = h('button', { type: 'submit' }, existing ? 'Save' : 'Register');
  const f = h('form', { novalidate: true },
    field('Name', x.name, 'Letters, digits, - and _; 1 to 64. Cannot change later.'),
    field('Kind', x.kind),
    esOnly(field('Elasticsearch URL', x.url)),
    esOnly(h('div', { class: 'field' }, h('label', {}, x.allow_insecure_http, ' Allow a plain http:// URL (local use only)'))),
    cloudOnly(field('Organization ID', x.organization_id)),
    field('Connector secret (Secrets Manager ARN)', x.secret_arn, 'The secret must be named <connector prefix><integration name>. Its value never reaches this page.'),
    esOnly(field('Trusted CA certificate (PEM, optional)', x.ca_cert)),
    esOnly(field('Credential rotation (days)', x.credential_rotation_days, 'Rotate each requester\'s password this often; never during active access.')),
    esOnly(field('User cleanup (days)', x.user_cleanup_days, 'Delete an idle account this long after its last access ended.')),
    esOnly(field('API key maximum lifetime (days, optional)', x.api_key_max_lifetime_days, 'Report API keys on the cluster that live longer (and those that never expire); nothing is invalidated.')),
    esOnly(field('Account name prefix', x.user_prefix)),
    field('Custom access details', x.custom_access_details, `Shown to requesters with their credentials; at most ${MAX_DETAILS} characters.`),
    counter,
    h('h2', {}, 'Preview'),
    h('p', { class: 'hint' }, 'As it appears to requesters in the portal:'),
    preview,
    field('Integration owners', x.integration_owners, 'One per line: group:name or user:email. They approve what has no resource owner.'),
    field('Resource owner tag key (optional)', x.tag_key, 'The tag (index _meta or deployment tag) naming each resource\'s owner. Needs at least one integration owner.'),
    field('The tag names a', x.attribute),
    field('Discovery: include', x.include, 'Patterns, comma-separated; * for everything.'),
    field('Discovery: exclude', x.exclude),
    esOnly(field('Custom permission levels', x.custom_permissions, 'One per line: name: privilege, privilege')),
    box,
    h('div', { class: 'actions' }, save),
    result);
  const showKind = () => {
    const cloud = x.kind.value === 'elastic_cloud';
    for (const el of f.querySelectorAll('[data-es]')) el.hidden = cloud;
    for (const el of f.querySelectorAll('[data-cloud]')) el.hidden = !cloud;
  };
  x.kind.addEventListener('change', showKind);
  showKind();
  main.append(f);

  const fields = {
    name: x.name, url: x.url, insecure_url: x.url, organization_id: x.organization_id,
    secret_arn: x.secret_arn, connector_secret_not_bound: x.secret_arn, connector_secret_not_found: x.secret_arn,
    connector_secret_access_denied: x.secret_arn, connector_secret_invalid: x.secret_arn,
    'tls.ca_cert': x.ca_cert, tls: x.ca_cert, credential_rotation_days: x.credential_rotation_days,
    user_cleanup_days: x.user_cleanup_days, user_prefix: x.user_prefix,
    api_key_max_lifetime_days: x.api_key_max_lifetime_days,
    custom_access_details: x.custom_access_details, integration_owners: x.integration_owners,
    resource_owner: x.tag_key, 'resource_owner.tag_key': x.tag_key, 'resource_owner.attribute': x.attribute,
    discovery: x.include, 'discovery.include': x.include, 'discovery.exclude': x.exclude,
    custom_permissions: x.custom_permissions,
  };

  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f, box);
    clear(result);
    const name = x.name.value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      showErrors(f, box, { code: 'name', message: 'Use 1 to 64 letters, digits, - or _.' }, fields);
      return;
    }
    if ([...x.custom_access_details.value].length > MAX_DETAILS) {
      showErrors(f, box, { code: 'custom_access_details', message: `At most ${MAX_DETAILS} characters.` }, fields);
      return;
    }
    const owners = principals(x.integration_owners.value);
    if (x.tag_key.value.trim() && !owners.length) {
      showErrors(f, box, { code: 'resource_owner', message: 'A resource owner tag needs at least one integration owner (who approves what has no owner).' }, fields);
      return;
    }
    const cloud = x.kind.value === 'elastic_cloud';
    const spec = { kind: x.kind.value, secret_arn: x.secret_arn.value.trim(), integration_owners: owners,
      discovery: { include: lines(x.include.value), exclude: lines(x.exclude.value) } };
    if (!spec.discovery.include.length) spec.discovery.include = ['*'];
    const setNum = (k) => { if (x[k].value.trim()) spec[k] = Number(x[k].value); };
    if (cloud) {
      if (x.organization_id.value.trim()) spec.organization_id = x.organization_id.value.trim();
    } else {
      if (x.url.value.trim()) spec.url = x.url.value.trim();
      if (x.allow_insecure_http.checked) spec.allow_insecure_http = true;
      if (x.ca_cert.value.trim()) spec.tls = { ca_cert: x.ca_cert.value.trim() };
      setNum('credential_rotation_days');
      setNum('user_cleanup_days');
      setNum('api_key_max_lifetime_days');
      if (x.user_prefix.value.trim()) spec.user_prefix = x.user_prefix.value.trim();
      const perms = permissionsFromText(x.custom_permissions.value);
      if (perms.length) spec.custom_permissions = perms;
    }
    if (x.custom_access_details.value.trim()) spec.custom_access_details = x.custom_access_details.value;
    if (x.tag_key.value.trim()) spec.resource_owner = { tag_key: x.tag_key.value.trim(), attribute: x.attribute.value };
    save.disabled = true;
    try {
      const saved = await put(`/integrations/${enc(name)}`, spec);
      const d = saved.discovery || {};
      result.append(h('p', { class: 'notice', 'data-saved': '' },
        `Saved. The prerequisite check passed: the connector may do what elastic-jit needs. Discovery found ${d.total ?? '?'} resources (${d.added ?? 0} new, ${d.gone ?? 0} gone).`));
      if (!existing) location.hash = `#/admin/integrations/${enc(name)}`;
    } catch (err) {
      if (err.details && Array.isArray(err.details.missing)) {
        err.message = `The prerequisite check failed: the connector's account lacks privileges. ${err.message}`;
      }
      showErrors(f, box, err, fields);
    } finally {
      save.disabled = false;
    }
  });

  if (existing) {
    const res = h('div', {});
    const summary = h('div', { role: 'status' });
    const discover = h('button', { type: 'button', class: 'secondary', on: { click: async () => {
      discover.disabled = true;
      clear(summary);
      try {
        const s = await post(`/integrations/${enc(existing.name)}/discover`);
        summary.append(h('p', { class: 'notice' }, `Discovery found ${s.total} resources: ${s.added} new, ${s.updated} changed, ${s.gone} gone.`));
        await drawResources();
      } catch (err) {
        summary.append(errorBox(err));
      } finally {
        discover.disabled = false;
      }
    } } }, 'Discover now');
    const drawResources = async () => {
      clear(res);
      try {
        const got = await all(`/integrations/${enc(existing.name)}/resources?limit=1000`, 'resources');
        res.append(got.items.length ? paginate(got.items, 25, (page) => h('table', {},
          h('thead', {}, h('tr', {}, ['Resource', 'Kind', 'Owner', 'Points to', 'Seen'].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, page.map((r) => h('tr', {},
            h('td', { 'data-label': 'Resource' }, r.name),
            h('td', { 'data-label': 'Kind' }, r.kind),
            h('td', { 'data-label': 'Owner' }, r.owner || '—'),
            h('td', { 'data-label': 'Points to' }, (r.targets || []).join(', ') || '—'),
            h('td', { 'data-label': 'Seen' }, r.gone_since ? `gone since ${when(r.gone_since)}` : when(r.discovered_at)))))), 'resources')
          : h('p', {}, 'No resources discovered.'));
      } catch (err) {
        res.append(errorBox(err));
      }
    };
    main.append(h('h2', {}, 'Discovered resources'),
      h('p', {}, `Last discovery ${when(existing.last_discovery_at)}${existing.last_discovery_error ? `: ${existing.last_discovery_error}` : ''}.`),
      h('div', { class: 'actions' }, discover), summary, res);
    await drawResources();
  }
}

export async function flows(main) {
  main.append(h('h1', {}, 'Access flows'), adminNav());
  const list = (await get('/flows')).flows || [];
  if (!list.length) {
    main.append(h('p', {}, 'No access flow yet.'));
    return;
  }
  main.append(paginate(list, 25, (page) => h('table', {},
    h('thead', {}, h('tr', {}, ['Flow', 'Integration', 'Who may request', 'Resources', 'Permissions', 'At most', 'Approval'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, page.map((f) => h('tr', {},
      h('td', { 'data-label': 'Flow' }, h('a', { href: `#/admin/flows/${enc(f.name)}`, 'data-flow-link': f.name }, f.name), f.description ? h('div', { class: 'hint' }, f.description) : null),
      h('td', { 'data-label': 'Integration' }, f.integration),
      h('td', { 'data-label': 'Who may request' }, (f.requesters || []).map(principal).join(', ') || '—'),
      h('td', { 'data-label': 'Resources' }, f.resources.join(', ')),
      h('td', { 'data-label': 'Permissions' }, f.permissions.join(', ')),
      h('td', { 'data-label': 'At most' }, f.max_duration),
      h('td', { 'data-label': 'Approval' }, f.auto_approve ? 'automatic'
        : (f.approvers && f.approvers.length ? f.approvers.map(principal).join(', ') : 'resource owners, else integration owners')))))), 'flows'));
}

/** Grants whose revocation failed: the sweep retries them; an admin can retry one now. */
export async function failedRevocations(main) {
  main.append(h('h1', {}, 'Failed revocations'), adminNav(),
    h('p', {}, 'Access that could not be removed from its target. The cleanup sweep retries each one; retry now once the target is reachable again.'));
  const box = h('div', {});
  main.append(box);
  const draw = async () => {
    clear(box);
    let got;
    try {
      got = await all('/failed-revocations?limit=200', 'requests', 2000);
    } catch (err) {
      box.append(errorBox(err));
      return;
    }
    if (!got.items.length) {
      box.append(h('p', { class: 'notice' }, 'No failed revocation: every ended grant was removed from its target.'));
      return;
    }
    box.append(paginate(got.items, 25, (page) => h('table', {},
      h('thead', {}, h('tr', {}, ['Request', 'Requester', 'Integration', 'Attempts', 'Next retry', 'Last error', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, page.map((r) => {
        const cell = h('td', {});
        const retry = h('button', { type: 'button', class: 'secondary', 'data-retry': r.id, on: { click: async () => {
          retry.disabled = true;
          try {
            const after = await post(`/requests/${enc(r.id)}/revoke`, { reason: 'retried from the portal' });
            clear(cell).append(h('span', { role: 'status' }, after.status === 'revoked' ? 'Revoked.' : `Still failing: ${after.last_error || after.status}.`));
          } catch (err) {
            cell.append(errorBox(err));
            retry.disabled = false;
          }
        } } }, 'Retry now');
        cell.append(retry);
        return h('tr', {},
          h('td', { 'data-label': 'Request' }, h('a', { href: `#/requests/${enc(r.id)}` }, r.id.slice(0, 8))),
          h('td', { 'data-label': 'Requester' }, r.requester.email || `sub ${r.requester.sub}`),
          h('td', { 'data-label': 'Integration' }, r.integration),
          h('td', { 'data-label': 'Attempts' }, String(r.revoke_attempts || 0)),
          h('td', { 'data-label': 'Next retry' }, when(r.next_attempt_at)),
          h('td', { 'data-label': 'Last error' }, r.last_error || '—'),
          cell);
      }))), 'failed revocations'));
  };
  await draw();
}

/** The flow view's fields that are not settings (the API sets them), and settings the view
 * always fills with their defaults (sent back only as the form shows them). */
const FLOW_VIEW_ONLY = ['name', 'version', 'created_at', 'updated_at', 'managed_by'];

/** Bundle items as the form shows them: `integration | resources, … | permission`, one a line. */
function bundleText(items) {
  return (items || []).map((i) => `${i.integration} | ${(i.resources || []).join(', ')} | ${i.permission}`).join('\n');
}

function bundleFrom(text) {
  return String(text || '').split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [integration, resources, permission] = l.split('|').map((x) => (x || '').trim());
    return { integration, resources: lines(resources), permission };
  });
}

/** An access flow's settings; `name` null for a new one. Every setting the API knows is on the
 * form, and anything it does not show yet is carried over as it is: saving never drops a
 * setting (a quorum, a break-glass flag, notifications) the administrator did not touch. */
export async function editFlow(main, name) {
  const [existing, ints] = await Promise.all([
    name ? get(`/flows/${enc(name)}`) : Promise.resolve(null),
    get('/integrations'),
  ]);
  main.append(h('h1', {}, existing ? `Access flow ${existing.name}` : 'New access flow'), adminNav());
  const v = existing || { requesters: [], resources: [], permissions: ['read'], approvers: [], max_duration: '8h',
    approval_window: '24h', credential_mode: 'user', auto_approve: false, require_justification: true };
  const approval = v.approval || {};
  const escalation = approval.escalation || {};
  const ext = v.extension || {};
  const isBundle = Array.isArray(v.bundle) && v.bundle.length > 0;
  const inp = (value, props = {}) => h('input', { type: 'text', value: value == null ? '' : String(value), ...props });
  const box = (checked) => h('input', { type: 'checkbox', checked: Boolean(checked) });
  const x = {
    name: inp(v.name, { readonly: Boolean(existing) }),
    integration: h('select', {}, h('option', { value: '' }, '— none: a bundle (items below)'),
      (ints.integrations || []).map((i) => h('option', { value: i.name }, i.name))),
    requesters: h('textarea', { value: (v.requesters || []).map((p) => `${p.type}:${p.value}`).join('\n') }),
    resources: inp((v.resources || []).join(', ')),
    permissions: inp((v.permissions || []).join(', ')),
    max_duration: inp(v.max_duration),
    approval_window: inp(v.approval_window),
    schedule_horizon: inp(isBundle ? '' : v.schedule_horizon),
    auto_approve: box(v.auto_approve),
    require_justification: box(v.require_justification),
    break_glass: box(v.break_glass),
    approvers: h('textarea', { value: (v.approvers || []).map((p) => `${p.type}:${p.value}`).join('\n') }),
    rule: h('select', {},
      h('option', { value: '' }, 'default: any one of the approvers, else one per owner set'),
      h('option', { value: 'any' }, 'any: one approval'),
      h('option', { value: 'all_owners' }, 'all_owners: one approval per owner set'),
      h('option', { value: 'quorum' }, 'quorum: N different people')),
    quorum: inp(approval.quorum, { inputmode: 'numeric' }),
    require_reason: box(approval.require_reason),
    escalation_after: inp(escalation.after),
    escalation_to: h('textarea', { value: (escalation.to || []).map((p) => `${p.type}:${p.value}`).join('\n') }),
    max_extensions: inp(ext.max_extensions, { inputmode: 'numeric' }),
    extension_length: inp(ext.length),
    max_total_duration: inp(ext.max_total_duration),
    extension_approval: h('select', {},
      h('option', { value: 'automatic' }, 'automatic (within these limits)'),
      h('option', { value: 'required' }, 'required (the grant\'s approvers decide again)')),
    bundle: h('textarea', { value: bundleText(v.bundle) }),
    credential_mode: h('select', {}, h('option', { value: 'user' }, 'user (an Elasticsearch user: works for Kibana)'),
      h('option', { value: 'api_key' }, 'api_key (expires by itself in Elasticsearch)')),
    notifications: h('textarea', { value: v.notifications ? JSON.stringify(v.notifications, null, 2) : '' }),
    description: inp(v.description),
  };
  for (const [k, el] of Object.entries(x)) el.name = k;
  x.integration.value = v.integration || '';
  x.credential_mode.value = v.credential_mode || 'user';
  x.rule.value = approval.rule || '';
  x.extension_approval.value = ext.approval || 'automatic';
  const check = (el, text) => h('div', { class: 'field' }, h('label', {}, el, ' ', text));
  const section = (title, ...children) => h('fieldset', {}, h('legend', {}, title), ...children);
  const errors = h('div', { tabindex: '-1' });
  const result = h('div', { role: 'status' });
  const save = h('button', { type: 'submit' }, existing ? 'Save' : 'Create');
  const f = h('form', { novalidate: true },
    field('Name', x.name, 'Letters, digits, - and _; cannot change later.'),
    field('Integration', x.integration),
    field('Who may request', x.requesters, 'One per line: group:name or user:email.'),
    field('Resources', x.resources, 'Names or * patterns, comma-separated; an alias counts only when every index behind it does.'),
    field('Permissions', x.permissions, 'read, write, manage, the integration\'s custom levels, or Elastic Cloud role ids.'),
    field('Longest grant', x.max_duration, '5m to 90d, e.g. 8h (break-glass: at most 4h).'),
    field('Approval window', x.approval_window, 'How long a request may wait for approval, e.g. 24h.'),
    field('Schedule horizon', x.schedule_horizon, 'How far ahead a request may name its start, e.g. 14d (not on a bundle).'),
    check(x.auto_approve, 'Approve automatically'),
    check(x.require_justification, 'Require a justification'),
    check(x.break_glass, 'Break-glass: granted at once without approval, a justification required, the integration owners told at once and reviewing each grant afterwards'),
    field('Approvers (optional)', x.approvers, 'One per line. Empty: each resource\'s owner, else the integration owners.'),
    section('Approval rules',
      field('Rule', x.rule),
      field('Quorum', x.quorum, 'With the quorum rule: how many different people, 2 to 10.'),
      check(x.require_reason, 'Approvers must give a reason'),
      field('Escalate after (optional)', x.escalation_after, 'e.g. 2h: then the next tier may approve too, and is told.'),
      field('Escalate to', x.escalation_to, 'One per line. Empty: the integration owners.')),
    section('Extensions',
      field('Extensions per grant (optional)', x.max_extensions, 'Empty: grants of this flow are not extended.'),
      field('Longest extension', x.extension_length, 'e.g. 1h.'),
      field('Longest grant with extensions', x.max_total_duration, 'From the start, e.g. 24h.'),
      field('Extension approval', x.extension_approval)),
    field('Bundle items (optional)', x.bundle, 'One grant a line: integration | resources, comma-separated | permission. A bundle names no integration, resources or permissions of its own.'),
    field('Credentials (Elasticsearch)', x.credential_mode),
    field('Notifications (optional, JSON)', x.notifications, 'e.g. {"slack_channel": "#access", "emails": ["secops@example.com"]}'),
    field('Description (optional)', x.description),
    errors, h('div', { class: 'actions' }, save), result);
  main.append(f);
  // API field paths (and error codes) to the inputs that show their errors.
  const fields = {
    name: x.name, integration: x.integration, requesters: x.requesters, resources: x.resources,
    permissions: x.permissions, max_duration: x.max_duration, approval_window: x.approval_window,
    schedule_horizon: x.schedule_horizon, approvers: x.approvers, credential_mode: x.credential_mode,
    description: x.description, break_glass: x.break_glass, approval: x.rule, 'approval.rule': x.rule,
    'approval.quorum': x.quorum, 'approval.escalation': x.escalation_after,
    'approval.escalation.after': x.escalation_after, 'approval.escalation.to': x.escalation_to,
    extension: x.max_extensions, 'extension.max_extensions': x.max_extensions,
    'extension.length': x.extension_length, 'extension.max_total_duration': x.max_total_duration,
    'extension.approval': x.extension_approval, bundle: x.bundle, bundle_conflict: x.bundle,
    notifications: x.notifications,
  };
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f, errors);
    clear(result);
    const flowName = x.name.value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(flowName)) {
      showErrors(f, errors, { code: 'name', message: 'Use 1 to 64 letters, digits, - or _.' }, fields);
      return;
    }
    let notifications = null;
    if (x.notifications.value.trim()) {
      try {
        notifications = JSON.parse(x.notifications.value);
      } catch (_) {
        showErrors(f, errors, { code: 'notifications', message: 'Notifications must be a JSON object, e.g. {"slack_channel": "#access"}.' }, fields);
        return;
      }
    }
    const spec = {};
    for (const [k, val] of Object.entries(existing || {})) {
      if (!FLOW_VIEW_ONLY.includes(k)) spec[k] = val;
    }
    Object.assign(spec, {
      integration: x.integration.value, requesters: principals(x.requesters.value),
      resources: lines(x.resources.value), permissions: lines(x.permissions.value),
      auto_approve: x.auto_approve.checked, require_justification: x.require_justification.checked,
      break_glass: x.break_glass.checked,
      approvers: principals(x.approvers.value), credential_mode: x.credential_mode.value,
    });
    for (const k of ['max_duration', 'approval_window', 'schedule_horizon', 'description']) {
      if (x[k].value.trim()) spec[k] = x[k].value.trim();
      else delete spec[k];
    }
    const rule = x.rule.value;
    const newApproval = {};
    if (rule) newApproval.rule = rule;
    if (x.quorum.value.trim()) newApproval.quorum = Number(x.quorum.value.trim());
    if (x.require_reason.checked) newApproval.require_reason = true;
    if (x.escalation_after.value.trim()) {
      newApproval.escalation = { after: x.escalation_after.value.trim(), to: principals(x.escalation_to.value) };
    }
    if (Object.keys(newApproval).length) spec.approval = newApproval;
    else delete spec.approval;
    if (x.max_extensions.value.trim()) {
      spec.extension = {
        max_extensions: Number(x.max_extensions.value.trim()), length: x.extension_length.value.trim(),
        max_total_duration: x.max_total_duration.value.trim(), approval: x.extension_approval.value,
      };
    } else {
      delete spec.extension;
    }
    const items = bundleFrom(x.bundle.value);
    if (items.length) {
      spec.bundle = items;
      // A bundle's items name their integrations; it starts when approved.
      for (const k of ['integration', 'resources', 'permissions', 'schedule_horizon']) delete spec[k];
    } else {
      delete spec.bundle;
    }
    if (notifications) spec.notifications = notifications;
    else delete spec.notifications;
    save.disabled = true;
    try {
      await put(`/flows/${enc(flowName)}`, spec);
      result.append(h('p', { class: 'notice', 'data-saved': '' }, 'Saved.'));
      if (!existing) location.hash = `#/admin/flows/${enc(flowName)}`;
    } catch (err) {
      showErrors(f, errors, err, fields);
    } finally {
      save.disabled = false;
    }
  });
}

/** A `datetime-local` value (the browser's local time) as an RFC 3339 UTC time, or null. */
function isoOf(local) {
  if (!local) return null;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** The audit log across integrations, flows, requests and accounts, newest first, filtered. */
export async function auditLog(main) {
  main.append(h('h1', {}, 'Audit log'), adminNav(),
    h('p', {}, 'Every change and decision, newest first: integrations and flows, rotations, requests, approvals, grants provisioned, revoked or expired.'));
  let names = [];
  try {
    names = ((await get('/integrations')).integrations || []).map((i) => i.name);
  } catch (_) { /* the filter still takes any name typed */ }
  const integration = h('select', { name: 'integration' },
    h('option', { value: '' }, 'any integration'), names.map((n) => h('option', { value: n }, n)));
  const actor = h('input', { type: 'text', name: 'actor', autocomplete: 'off', placeholder: 'e.g. alice@example.com or system:cleanup' });
  const action = h('input', { type: 'text', name: 'action', autocomplete: 'off', placeholder: 'e.g. request.approved or request.' });
  const since = h('input', { type: 'datetime-local', name: 'since' });
  const until = h('input', { type: 'datetime-local', name: 'until' });
  const formBox = h('div', {});
  const form = h('form', { class: 'filters', 'aria-label': 'Filter the audit log' },
    field('Integration', integration),
    field('Actor', actor, 'Who caused it: an email, sub:<id>, or system:<function>.'),
    field('Action', action, 'One action, or every action under a prefix ending in a dot.'),
    field('From', since, 'Default: a week before the end.'),
    field('To', until, 'Default: now.'),
    h('button', { type: 'submit' }, 'Show'), formBox);
  const out = h('div', { 'data-testid': 'audit-results' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older events');
  main.append(form, out, more);

  // The window of the first page is kept for the next ones, so "now" moving does not shift it.
  let query = null;
  let cursor = null;
  let rows = null;
  const subjectCell = (e) => (e.subject.type === 'request'
    ? h('a', { href: `#/requests/${enc(e.subject.id)}` }, `request ${e.subject.id.slice(0, 8)}`)
    : `${e.subject.type} ${e.subject.id}`);
  const detailsText = (d) => {
    if (d === null || d === undefined) return '—';
    if (typeof d !== 'object') return String(d);
    return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ') || '—';
  };
  const page = async () => {
    const params = new URLSearchParams(query);
    params.set('limit', '50');
    if (cursor) params.set('cursor', cursor);
    more.disabled = true;
    let got;
    try {
      got = await get(`/audit?${params}`);
    } catch (err) {
      // The API names the parameter first in its message ("since must be …"): show it there.
      const fields = { since, until, integration, actor, action };
      const name = err.code === 'invalid_parameter'
        ? Object.keys(fields).find((k) => String(err.message).startsWith(k)) : null;
      showErrors(form, formBox, name ? Object.assign(Object.create(err), { code: name }) : err, fields);
      more.disabled = false;
      return;
    }
    query.set('since', got.since);
    query.set('until', got.until);
    cursor = got.next_cursor;
    for (const e of got.events) {
      rows.append(h('tr', { 'data-audit-action': e.action },
        h('td', { 'data-label': 'When' }, when(e.at)),
        h('td', { 'data-label': 'Actor' }, e.actor),
        h('td', { 'data-label': 'Action' }, e.action, e.outcome === 'failure' ? h('span', { class: 'hint' }, ' (failed)') : null),
        h('td', { 'data-label': 'Subject' }, subjectCell(e)),
        h('td', { 'data-label': 'Integration' }, e.integration || '—'),
        h('td', { 'data-label': 'Details' }, detailsText(e.details))));
    }
    if (!rows.children.length && !cursor) {
      clear(out).append(h('p', { class: 'notice' }, 'No event matches.'));
    }
    more.hidden = !cursor;
    more.disabled = false;
  };
  more.addEventListener('click', page);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form, formBox);
    query = new URLSearchParams();
    for (const [k, el] of [['integration', integration], ['actor', actor], ['action', action]]) {
      if (el.value.trim()) query.set(k, el.value.trim());
    }
    const from = isoOf(since.value);
    const to = isoOf(until.value);
    if (from) query.set('since', from);
    if (to) query.set('until', to);
    cursor = null;
    rows = h('tbody', {});
    clear(out).append(h('table', {},
      h('thead', {}, h('tr', {}, ['When', 'Actor', 'Action', 'Subject', 'Integration', 'Details'].map((t) => h('th', { scope: 'col' }, t)))),
      rows));
    await page();
  });
  form.requestSubmit();
}
