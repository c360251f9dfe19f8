// DOM helpers. Everything the API returns is put on the page as text nodes (never innerHTML),
// so a resource, flow or justification named like markup stays text.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'value') el.value = v;
    else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let ids = 0;
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled field; `input` gets an id, the label points at it, the hint describes it. */
export function field(labelText, input, hint) {
  if (!input.id) input.id = uid('f');
  const wrap = h('div', { class: 'field' });
  const label = h('label', { for: input.id }, labelText);
  wrap.append(label);
  if (hint) {
    const hid = uid('hint');
    wrap.append(h('div', { class: 'hint', id: hid }, hint));
    input.setAttribute('aria-describedby', hid);
  }
  wrap.append(input);
  return wrap;
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, describe(err));
}

/** An error in words: the API's message, plus what its details name. */
export function describe(err) {
  if (!err) return '';
  let text = err.message || String(err);
  const d = err.details;
  if (d && Array.isArray(d.missing) && d.missing.length) {
    text += ` Missing: ${d.missing.join(', ')}.`;
  }
  if (d && Array.isArray(d.resources) && d.resources.length) {
    text += ` (${d.resources.join(', ')})`;
  }
  if (d && Array.isArray(d.flows) && d.flows.length) {
    text += ' ' + d.flows.map((f) => `${f.flow}: ${f.reason}`).join('; ') + '.';
  }
  return text;
}

/**
 * Show an API error next to the field that caused it. `fields` maps a field name (as the API
 * names it: `custom_access_details`, `resource_owner.tag_key`, `resources[2]`) or an error code to
 * the input; what matches no field is shown in `formBox`.
 */
export function showErrors(form, formBox, err, fields) {
  clearErrors(form, formBox);
  const placed = [];
  const put = (name, message) => {
    let key = name;
    while (key) {
      const input = fields[key];
      if (input) {
        const id = input.id + '-error';
        const p = h('p', { class: 'field-error', id, role: 'alert' }, message);
        input.setAttribute('aria-invalid', 'true');
        const described = (input.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
        if (!described.includes(id)) described.push(id);
        input.setAttribute('aria-describedby', described.join(' '));
        input.insertAdjacentElement('afterend', p);
        placed.push(input);
        return true;
      }
      // resources[2] -> resources; resource_owner.tag_key -> resource_owner
      const shorter = key.replace(/\[\d+\]$/, '').replace(/\.[^.[]+$/, '');
      key = shorter === key ? '' : shorter;
    }
    return false;
  };
  let rest = false;
  if (err && Array.isArray(err.details) && err.code === 'validation_failed') {
    for (const fe of err.details) {
      if (!(fe && put(fe.field || '', fe.message || err.message))) rest = true;
    }
    if (rest) formBox.append(errorBox(err));
  } else if (!(err && put(err.code || '', describe(err)))) {
    formBox.append(errorBox(err));
  }
  if (placed[0]) placed[0].focus();
  else formBox.focus();
}

export function clearErrors(form, formBox) {
  for (const p of form.querySelectorAll('.field-error')) p.remove();
  for (const i of form.querySelectorAll('[aria-invalid]')) i.removeAttribute('aria-invalid');
  clear(formBox);
}

/** Client-side pagination of a list already in memory. */
export function paginate(items, pageSize, renderPage, label = 'items') {
  const box = h('div', { class: 'paginated' });
  let page = 0;
  const pages = Math.max(1, Math.ceil(items.length / pageSize));
  const draw = () => {
    clear(box);
    box.append(renderPage(items.slice(page * pageSize, (page + 1) * pageSize)));
    if (pages > 1) {
      box.append(h('div', { class: 'pager' },
        h('button', { type: 'button', class: 'secondary', disabled: page === 0,
          on: { click: () => { page -= 1; draw(); } } }, 'Previous'),
        h('span', { 'aria-live': 'polite' }, `Page ${page + 1} of ${pages} (${items.length} ${label})`),
        h('button', { type: 'button', class: 'secondary', disabled: page >= pages - 1,
          on: { click: () => { page += 1; draw(); } } }, 'Next')));
    }
  };
  draw();
  return box;
}

export function status(s) {
  return h('span', { class: `status status-${s}` }, String(s).replace('_', ' '));
}

export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : d.toLocaleString();
}

export function left(ms) {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  return [d && `${d}d`, (d || hh) && `${hh}h`, `${mm}m`, `${ss}s`].filter(Boolean).join(' ');
}

const timers = new Set();

/** Stop the page's timers (countdowns, polling) when another page is shown. */
export function stopTimers() {
  for (const t of timers) clearInterval(t);
  timers.clear();
}

export function every(ms, fn) {
  const t = setInterval(fn, ms);
  timers.add(t);
  return t;
}

export function countdown(endsAt) {
  const el = h('span', { class: 'countdown', 'aria-live': 'off' });
  const end = new Date(endsAt).getTime();
  const tick = () => { el.textContent = `expires in ${left(end - Date.now())}`; };
  tick();
  every(1000, tick);
  return el;
}

/** A read-only value with a copy button. */
export function copyable(labelText, value, name) {
  const input = h('input', { type: 'text', readonly: true, value, class: 'secret',
    'data-credential': name, spellcheck: 'false', autocomplete: 'off' });
  const btn = h('button', { type: 'button', class: 'secondary', 'data-copy': name,
    'aria-label': `Copy ${labelText}` }, 'Copy');
  btn.addEventListener('click', async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(value);
      ok = true;
    } catch (_) {
      input.select();
      ok = document.execCommand && document.execCommand('copy');
    }
    btn.textContent = ok ? 'Copied' : 'Select and copy';
  });
  return field(labelText, h('div', { class: 'cred' }, input, btn));
}

export function principal(p) {
  return `${p.type === 'group' ? 'group' : 'user'} ${p.value}`;
}

export function lines(text) {
  return String(text || '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
}

/** Keep what the user typed across a login round trip (never anything secret). */
export function keepDraft(key, form) {
  const storeKey = 'ejit.draft.' + key;
  const save = () => {
    // A form no longer on screen (sent, or left) has nothing to keep.
    if (!form.isConnected) return;
    const data = {};
    for (const el of form.querySelectorAll('[data-draft]')) {
      data[el.dataset.draft] = el.type === 'checkbox' ? el.checked : el.value;
    }
    sessionStorage.setItem(storeKey, JSON.stringify(data));
  };
  const restore = () => {
    let data = null;
    try { data = JSON.parse(sessionStorage.getItem(storeKey) || 'null'); } catch (_) { data = null; }
    if (!data) return false;
    for (const el of form.querySelectorAll('[data-draft]')) {
      if (!(el.dataset.draft in data)) continue;
      if (el.type === 'checkbox') el.checked = Boolean(data[el.dataset.draft]);
      else el.value = data[el.dataset.draft];
      el.dispatchEvent(new Event('input', { bubbles: true }));
    }
    return true;
  };
  const drop = () => sessionStorage.removeItem(storeKey);
  form.addEventListener('input', save);
  form.addEventListener('change', save);
  return { save, restore, drop };
}
