// An integration's custom access details (at most 400 characters), as requesters see them next
// to their credentials and as the admin's Preview shows them: the same function for both.
// Plain text: blank lines separate paragraphs, line breaks stay, http(s) links are clickable.

const LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)]/g;

function withLinks(line) {
  const out = [];
  let last = 0;
  for (const m of line.matchAll(LINK)) {
    if (m.index > last) out.push(document.createTextNode(line.slice(last, m.index)));
    const a = document.createElement('a');
    a.href = m[0];
    a.textContent = m[0];
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    out.push(a);
    last = m.index + m[0].length;
  }
  if (last < line.length) out.push(document.createTextNode(line.slice(last)));
  return out;
}

export function renderAccessDetails(text) {
  const box = document.createElement('div');
  box.className = 'access-details';
  box.setAttribute('data-access-details', '');
  const body = String(text || '').trim();
  if (!body) {
    const p = document.createElement('p');
    p.textContent = 'No access details for this integration.';
    box.append(p);
    return box;
  }
  for (const para of body.split(/\n\s*\n/)) {
    const p = document.createElement('p');
    para.split('\n').forEach((line, i) => {
      if (i > 0) p.append(document.createElement('br'));
      p.append(...withLinks(line));
    });
    box.append(p);
  }
  return box;
}
