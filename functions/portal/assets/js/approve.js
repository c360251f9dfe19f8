// The approver's queue: pending requests I may decide (GET /requests's `to_decide`), each with
// what the grant would give and why I am an approver. My own requests are never offered (the
// API refuses them too).

import { get, post, enc } from './api.js';
import { me } from './auth.js';
import { h, clear, field, errorBox, showErrors, when, every } from './ui.js';
import { steps } from './request.js';

// Index privileges of the built-in Elasticsearch permissions (DESIGN.md's model).
const PRIVILEGES = {
  read: 'index privileges read, view_index_metadata',
  write: 'index privileges read, write, view_index_metadata',
  manage: 'index privileges all',
};

function privileges(r) {
  return PRIVILEGES[r.permission] || `the ${r.permission} level (as the integration defines it)`;
}

function card(r, refresh) {
  const own = r.requester && r.requester.sub === me().sub;
  const reason = h('textarea', { maxlength: '1000', 'data-reason': r.id, required: r.approval_reason_required ? '' : null });
  const box = h('div', { tabindex: '-1' });
  const f = h('form', { class: 'card', 'data-decide': r.id, 'aria-label': `Request ${r.id}` },
    h('h3', {}, `${r.requester.email || r.requester.sub} asks for ${r.permission} on ${r.integration}`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Requester'), h('dd', {}, r.requester.email || `sub ${r.requester.sub}`),
      h('dt', {}, 'Justification'), h('dd', {}, r.justification || '—'),
      h('dt', {}, 'Duration'), h('dd', {}, r.duration || `${Math.round(r.duration_secs / 60)}m`),
      h('dt', {}, 'Asked for'), h('dd', {}, (r.requested_resources || []).join(', ')),
      h('dt', {}, 'Grant reaches'), h('dd', { 'data-reaches': '' }, (r.grant_reaches || r.resources || []).join(', ')),
      r.via_aliases && Object.keys(r.via_aliases).length ? [h('dt', {}, 'Aliases resolved'),
        h('dd', {}, Object.entries(r.via_aliases).map(([a, t]) => `${a} → ${t.join(', ')}`).join('; '))] : null,
      h('dt', {}, 'Privileges'), h('dd', {}, privileges(r), ' ',
        h('a', { href: `#/requests/${enc(r.id)}`, 'data-allows-link': r.id }, 'exactly what it allows, on the cluster now')),
      h('dt', {}, 'Flow'), h('dd', {}, r.flow),
      h('dt', {}, 'Waiting until'), h('dd', {}, when(r.approval_expires_at))),
    h('h4', {}, 'Why you are asked (the approval rule)'),
    steps(r));
  if (own) {
    f.append(h('p', { class: 'warning' }, 'This is your own request: someone else must decide it.'));
    return f;
  }
  if (r.can_decide === false) {
    f.append(h('p', { class: 'hint' }, 'You have already decided your part, or it is no longer yours to decide.'));
    return f;
  }
  const decide = (action) => async () => {
    for (const b of f.querySelectorAll('button')) b.disabled = true;
    try {
      const body = reason.value.trim() ? { reason: reason.value.trim() } : {};
      const after = await post(`/requests/${enc(r.id)}/${action}`, body);
      clear(f).append(h('p', { class: 'notice', role: 'status' },
        `${action === 'approve' ? 'Approved' : 'Rejected'}: the request is now ${after.status}.`));
      setTimeout(refresh, 1500);
    } catch (err) {
      showErrors(f, box, err, { reason_too_long: reason, reason_required: reason });
      for (const b of f.querySelectorAll('button')) b.disabled = false;
    }
  };
  f.append(field(r.approval_reason_required ? 'Reason (required to approve or reject)' : 'Reason',
    reason, 'Recorded in the audit trail; the requester sees it.'), box,
    h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-action': 'approve', on: { click: decide('approve') } }, 'Approve'),
      h('button', { type: 'button', class: 'danger', 'data-action': 'reject', on: { click: decide('reject') } }, 'Reject')));
  f.addEventListener('submit', (ev) => ev.preventDefault());
  return f;
}

export async function queue(main) {
  main.append(h('h1', {}, 'To approve'));
  const box = h('div', {});
  main.append(box);
  let shown = '';
  const draw = async (force) => {
    let page;
    try {
      page = await get('/requests?limit=1');
    } catch (err) {
      clear(box).append(errorBox(err));
      return;
    }
    const items = page.to_decide || [];
    const key = items.map((r) => `${r.id}:${r.updated_at}`).join(',');
    // Do not redraw under someone typing a reason when nothing changed.
    if (!force && key === shown) return;
    shown = key;
    clear(box);
    if (!items.length) {
      box.append(h('p', {}, 'Nothing waits for your decision.'));
      return;
    }
    if (page.to_decide_truncated) box.append(h('p', { class: 'hint' }, 'Showing the newest 100: decide these to see older ones.'));
    box.append(h('div', { class: 'cards' }, items.map((r) => card(r, () => draw(true)))));
  };
  const reviews = h('section', { 'aria-label': 'Break-glass access to review' });
  main.append(reviews);
  let reviewed = '';
  const drawReviews = async (force) => {
    let page;
    try {
      page = await get('/reviews?limit=50');
    } catch (err) {
      clear(reviews).append(errorBox(err));
      return;
    }
    const items = page.requests || [];
    const key = items.map((r) => r.id).join(',') + (page.truncated ? '+' : '');
    if (!force && key === reviewed) return;
    reviewed = key;
    clear(reviews);
    // Only the integrations' owners and administrators ever have any.
    if (!items.length) return;
    reviews.append(h('h2', {}, 'Break-glass access to review'),
      h('p', { class: 'hint' }, 'Granted without approval in an emergency: record whether it was justified.'),
      page.truncated ? h('p', { class: 'hint' }, 'Showing the newest 50: review these to see older ones.') : null,
      h('div', { class: 'cards' }, items.map((r) => reviewCard(r, () => drawReviews(true)))));
  };
  await draw(true);
  await drawReviews(true);
  every(10000, () => draw(false));
  // Break-glass grants are rare and wait for days: a slower poll is plenty.
  every(60000, () => drawReviews(false));
}

/** One break-glass grant waiting for its review: what was granted, why, and the review form. */
function reviewCard(r, refresh) {
  const own = r.requester && r.requester.sub === me().sub;
  const outcome = h('select', { 'data-outcome': r.id },
    h('option', { value: 'justified' }, 'Justified'),
    h('option', { value: 'not_justified' }, 'Not justified'));
  const note = h('textarea', { maxlength: '1000', 'data-note': r.id });
  const box = h('div', { tabindex: '-1' });
  const f = h('form', { class: 'card', 'data-review': r.id, 'aria-label': `Break-glass grant ${r.id}` },
    h('h3', {}, `${r.requester.email || r.requester.sub} took ${r.permission} on ${r.integration}`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Justification'), h('dd', {}, r.justification || '—'),
      h('dt', {}, 'Grant reaches'), h('dd', {}, (r.grant_reaches || r.resources || []).join(', ')),
      h('dt', {}, 'Status'), h('dd', {}, r.status),
      h('dt', {}, 'Granted'), h('dd', {}, when(r.starts_at || r.created_at)),
      h('dt', {}, 'Ends'), h('dd', {}, when(r.ends_at))));
  if (own) {
    f.append(h('p', { class: 'warning' }, 'This is your own break-glass access: another owner reviews it.'));
    return f;
  }
  const record = async () => {
    for (const b of f.querySelectorAll('button')) b.disabled = true;
    try {
      const body = { outcome: outcome.value };
      if (note.value.trim()) body.note = note.value.trim();
      await post(`/requests/${enc(r.id)}/review`, body);
      clear(f).append(h('p', { class: 'notice', role: 'status' }, 'Review recorded.'));
      setTimeout(refresh, 1500);
    } catch (err) {
      showErrors(f, box, err, { note_required: note, note_too_long: note });
      for (const b of f.querySelectorAll('button')) b.disabled = false;
    }
  };
  f.append(field('Outcome', outcome), field('Note', note, 'Required when it was not justified; recorded in the audit trail.'), box,
    h('div', { class: 'actions' }, h('button', { type: 'button', 'data-action': 'review', on: { click: record } }, 'Record review')));
  f.addEventListener('submit', (ev) => ev.preventDefault());
  return f;
}
