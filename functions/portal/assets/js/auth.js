// Login: OpenID Connect authorization code with PKCE through oidc-client-ts (the vendored
// browser build, global `oidc`). Tokens live only in this page's memory (InMemoryWebStorage):
// a reload or a new tab logs in again. sessionStorage holds only the login round trip's state
// (PKCE verifier, nonce: removed at the callback) and the user's form drafts.

const RETURN_KEY = 'ejit.return';
let manager = null;
let user = null;
// Called before leaving for the IdP, so the form on screen can save what the user typed. One
// per page: a page drawn again replaces its own.
const beforeLeave = new Map();

export function onBeforeLeave(key, fn) {
  beforeLeave.set(key, fn);
}

export async function init(config) {
  const redirect = location.origin + '/portal';
  manager = new oidc.UserManager({
    authority: config.issuer,
    client_id: config.client_id,
    redirect_uri: redirect,
    post_logout_redirect_uri: redirect,
    response_type: 'code',
    scope: config.scopes,
    userStore: new oidc.WebStorageStateStore({ store: new oidc.InMemoryWebStorage() }),
    stateStore: new oidc.WebStorageStateStore({ store: sessionStorage }),
    automaticSilentRenew: false,
    monitorSession: false,
    loadUserInfo: false,
  });
  manager.events.addAccessTokenExpired(() => { renewOrLogin(); });
  const q = new URLSearchParams(location.search);
  if (q.has('code') || q.has('error')) {
    const back = sessionStorage.getItem(RETURN_KEY) || '#/request';
    sessionStorage.removeItem(RETURN_KEY);
    // The code must not stay in the address bar or the history.
    try {
      user = await manager.signinRedirectCallback();
    } finally {
      history.replaceState(null, '', '/portal' + back);
    }
  }
  return user;
}

export function currentUser() {
  return user;
}

export function accessToken() {
  return user && !user.expired ? user.access_token : null;
}

/** Who is logged in, as the API sees them: sub, email, name. */
export function me() {
  const p = (user && user.profile) || {};
  return { sub: p.sub, email: p.email, name: p.name || p.email || p.sub };
}

export async function login() {
  for (const fn of beforeLeave.values()) {
    try { fn(); } catch (_) { /* a draft that cannot be saved must not block the login */ }
  }
  sessionStorage.setItem(RETURN_KEY, location.hash || '#/request');
  await manager.signinRedirect();
}

/** The session ended (token expired or refused): renew with a refresh token, else log in again. */
export async function renewOrLogin() {
  if (user && user.refresh_token) {
    try {
      user = await manager.signinSilent();
      if (user && !user.expired) return true;
    } catch (_) { /* the refresh token is spent or expired: log in */ }
  }
  await login();
  return false;
}

/** Forget the tokens (they were only in memory) and show the logged-out page. */
export async function logout() {
  user = null;
  await manager.removeUser();
  sessionStorage.clear();
}
