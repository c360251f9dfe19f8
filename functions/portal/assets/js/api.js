// The API, called with the user's access token. Errors become ApiError with the API's stable
// code and readable message ({"error":{"code","message","details"}}), never raw JSON.

import { accessToken, renewOrLogin } from './auth.js';

let base = '';

export function setBase(url) {
  base = url || '';
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const GATEWAY_WORDS = {
  401: 'Your session has ended. Log in again.',
  403: 'You are not allowed to do this.',
  404: 'Not found.',
  413: 'What you sent is too large.',
  429: 'Too many requests right now. Wait a moment and try again.',
  500: 'The service failed. Try again; if it keeps failing, tell your administrator.',
  503: 'The service is unavailable. Try again in a moment.',
};

async function send(method, path, body, retried) {
  const token = accessToken();
  if (!token) {
    await renewOrLogin();
    throw new ApiError(401, 'session_ended', GATEWAY_WORDS[401]);
  }
  const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let r;
  try {
    r = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (_) {
    throw new ApiError(0, 'network', 'The API could not be reached. Check your connection and try again.');
  }
  if (r.status === 401) {
    if (!retried && await renewOrLogin()) return send(method, path, body, true);
    throw new ApiError(401, 'session_ended', GATEWAY_WORDS[401]);
  }
  const text = await r.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (!r.ok) {
    const e = data && data.error;
    if (e && typeof e.message === 'string') {
      throw new ApiError(r.status, e.code || 'error', e.message, e.details);
    }
    throw new ApiError(r.status, 'http_' + r.status,
      GATEWAY_WORDS[r.status] || `The API answered with HTTP status ${r.status}.`);
  }
  return data;
}

export const get = (path) => send('GET', path);
export const post = (path, body) => send('POST', path, body === undefined ? {} : body);
export const put = (path, body) => send('PUT', path, body);
export const del = (path) => send('DELETE', path);

export const enc = encodeURIComponent;

/** Every page of a cursor-paginated list (up to `max` items). */
export async function all(path, key, max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(path + (cursor ? `${sep}cursor=${enc(cursor)}` : ''));
    out.push(...(page[key] || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return { items: out, more: Boolean(cursor) };
}
